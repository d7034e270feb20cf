"""ScreenSpot and ScreenSpot-Pro: one grounding call per sample, a hit when the point is in the box.

ScreenSpot (SeeClick) ships ``screenspot_mobile.json``, ``screenspot_desktop.json`` and
``screenspot_web.json``: lists of ``{"img_filename", "bbox": [x, y, w, h], "instruction",
"data_type": "text"|"icon", "data_source"}`` with the box in screenshot pixels. ScreenSpot-Pro
ships one ``annotations/<app>_<platform>.json`` per application: lists of ``{"img_filename",
"bbox": [x1, y1, x2, y2], "instruction", "ui_type", "group", "platform", "application",
"img_size", "id"}``. Both name images relative to an images folder (``--images``).

A sample is scored by `guiagent.agent.grounding.locate`, the path of ``guiagent locate``; a reply
without a usable coordinate is a miss, as in the papers' scripts. Box edges count as inside.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from guiagent.harness.offline.suite import OfflineDataError, SampleRecord, markdown_table, pct, rate
from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from guiagent.model.base import Model
    from PIL.Image import Image

PLATFORMS = ("mobile", "desktop", "web")
TYPES = ("text", "icon")
PRO_GROUPS = ("Dev", "Creative", "CAD", "Scientific", "Office", "OS")
# data_source -> platform, for a ScreenSpot file whose name does not say it (SeeClick's split)
_SOURCE_PLATFORM = {"ios": "mobile", "android": "mobile", "windows": "desktop", "macos": "desktop"}


class _SpotItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    img_filename: str
    bbox: tuple[float, float, float, float]
    instruction: str
    data_type: Literal["text", "icon"]
    data_source: str = ""


class _ProItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    img_filename: str
    bbox: tuple[float, float, float, float]
    instruction: str
    ui_type: Literal["text", "icon"]
    group: str
    platform: str = ""
    application: str = ""
    img_size: tuple[int, int] | None = None
    id: str | int | None = None


@dataclass(frozen=True)
class GroundingSample:
    """One instruction on one screenshot; `bbox` is (x1, y1, x2, y2) in screenshot pixels."""

    id: str
    image: Path
    instruction: str
    bbox: tuple[float, float, float, float]
    groups: dict[str, str] = field(default_factory=dict)


def _read_list(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OfflineDataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OfflineDataError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, list):
        raise OfflineDataError(f"{path}: expected a JSON list of annotations, got {type(data).__name__}")
    return data


def _item(model: type[BaseModel], path: Path, i: int, raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "item"
        raise OfflineDataError(f"{path}: annotation {i}: {loc}: {err['msg']}") from None


def _files(data: Path, pattern: str, what: str) -> list[Path]:
    if data.is_dir():
        files = sorted(data.glob(pattern)) or sorted(data.glob("*.json"))
        if not files:
            raise OfflineDataError(f"{data}: no {what} annotation files (*.json) in this folder")
        return files
    if not data.exists():
        raise OfflineDataError(f"{data}: no such file or folder")
    return [data]


def _image(images: Path, name: str, path: Path, i: int) -> Path:
    file = images / name
    if not file.is_file():
        raise OfflineDataError(f"{path}: annotation {i}: img_filename {name!r} is not in {images} "
                               "(pass the screenshots folder as --images)")
    return file


def _box(path: Path, i: int, x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float, float]:
    if not (x2 >= x1 and y2 >= y1):
        raise OfflineDataError(f"{path}: annotation {i}: bbox has negative width or height")
    return x1, y1, x2, y2


def load_screenspot(data: Path, images: Path) -> list[GroundingSample]:
    """ScreenSpot samples from one ``screenspot_<platform>.json`` or the folder holding them."""
    out: list[GroundingSample] = []
    for path in _files(data, "screenspot_*.json", "ScreenSpot"):
        named = path.stem.removeprefix("screenspot_").lower()
        for i, raw in enumerate(_read_list(path)):
            item = _item(_SpotItem, path, i, raw)
            platform = named if named in PLATFORMS else _SOURCE_PLATFORM.get(item.data_source.lower(), "web")
            x, y, w, h = item.bbox
            out.append(GroundingSample(
                id=f"{path.stem}:{i}", image=_image(images, item.img_filename, path, i), instruction=item.instruction,
                bbox=_box(path, i, x, y, x + w, y + h),
                groups={"platform": platform, "type": item.data_type, "source": item.data_source}))
    return out


def load_screenspot_pro(data: Path, images: Path) -> list[GroundingSample]:
    """ScreenSpot-Pro samples from its annotations folder (or one file of it)."""
    out: list[GroundingSample] = []
    seen: set[str] = set()
    for path in _files(data, "*.json", "ScreenSpot-Pro"):
        for i, raw in enumerate(_read_list(path)):
            item = _item(_ProItem, path, i, raw)
            sid = f"{path.stem}:{item.id if item.id is not None else i}"
            if sid in seen:
                sid = f"{path.stem}:{i}"
            seen.add(sid)
            out.append(GroundingSample(
                id=sid, image=_image(images, item.img_filename, path, i), instruction=item.instruction,
                bbox=_box(path, i, *item.bbox),
                groups={"group": item.group, "type": item.ui_type, "platform": item.platform,
                        "application": item.application}))
    return out


def inside(point: tuple[float, float], bbox: tuple[float, float, float, float]) -> bool:
    """The papers' hit rule: x1 <= x <= x2 and y1 <= y <= y2 (screenshot pixels)."""
    x, y = point
    return bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]


def open_screenshot(path: Path) -> Any:
    """The screenshot as the model gets it: RGB, and a screen space of its own pixels."""
    from guiagent.tools.frame import Screenshot, ScreenSpace
    from PIL import Image as PILImage

    with PILImage.open(path) as img:
        image = img.convert("RGB")
    return Screenshot(image=image, screen=ScreenSpace(width=image.width, height=image.height))


class GroundingSuite:
    """ScreenSpot (``kind="screenspot"``) or ScreenSpot-Pro (``kind="screenspot-pro"``)."""

    def __init__(self, kind: Literal["screenspot", "screenspot-pro"], data: Path, images: Path) -> None:
        self.name: str = kind
        self.kind = kind
        self._samples = load_screenspot(data, images) if kind == "screenspot" else load_screenspot_pro(data, images)
        if not self._samples:
            raise OfflineDataError(f"{data}: the annotation files hold no samples")

    def count(self) -> int:
        return len(self._samples)

    def samples(self) -> Iterator[GroundingSample]:
        return iter(self._samples)

    def oracle_truth(self, sample: GroundingSample) -> dict[str, Any]:
        return {"bbox": list(sample.bbox)}

    def evaluate(self, model: Model, sample: GroundingSample, *, truth: Any = None) -> SampleRecord:
        from guiagent.agent.grounding import point_of, predict
        from guiagent.model.base import ModelError, ParseError

        t0 = time.perf_counter()
        rec = SampleRecord(id=sample.id, status="scored", instruction=sample.instruction, image=str(sample.image),
                           groups=dict(sample.groups), truth={"bbox": list(sample.bbox)})
        shot = open_screenshot(sample.image)
        rec.screen = (shot.image.width, shot.image.height)
        rec.seconds["load"] = time.perf_counter() - t0
        try:
            prediction = predict(model, shot, sample.instruction, truth=truth)
        except ModelError as exc:
            rec.status, rec.reason = "error", f"model error: {exc}"
            rec.seconds["total"] = time.perf_counter() - t0
            return rec
        rec.raw = prediction.completion.text
        rec.model_size = prediction.frame.model_size
        rec.seconds["infer"] = prediction.seconds
        try:
            point = point_of(model, prediction, sample.instruction)
            rec.predicted = {"point": list(point)}
            rec.hit = inside(point, sample.bbox)
        except ParseError as exc:
            rec.reason = f"no point: {exc}"
        rec.seconds["total"] = time.perf_counter() - t0
        return rec

    def tables(self, records: list[SampleRecord]) -> tuple[dict[str, Any], str]:
        scored = [r for r in records if r.status == "scored"]
        first = "platform" if self.kind == "screenspot" else "group"
        known = PLATFORMS if self.kind == "screenspot" else PRO_GROUPS
        names = list(known) + sorted({r.groups.get(first, "") for r in scored} - set(known))

        def acc(rs: list[SampleRecord]) -> dict[str, Any]:
            hits = sum(r.hit for r in rs)
            return {"hits": hits, "total": len(rs), "accuracy": rate(hits, len(rs))}

        table: dict[str, dict[str, Any]] = {}
        for name in names:
            rs = [r for r in scored if r.groups.get(first) == name]
            if not rs and name not in known:
                continue
            table[name] = {t: acc([r for r in rs if r.groups.get("type") == t]) for t in TYPES}
            table[name]["all"] = acc(rs)
        overall = {t: acc([r for r in scored if r.groups.get("type") == t]) for t in TYPES}
        overall["all"] = acc(scored)
        summary = {"by_" + first: table, "overall": overall, "success_rate": overall["all"]["accuracy"],
                   "scored": len(scored), "errors": len(records) - len(scored)}
        title = "ScreenSpot" if self.kind == "screenspot" else "ScreenSpot-Pro"
        if self.kind == "screenspot":
            header = [f"{p.capitalize()} {t.capitalize()}" for p in PLATFORMS for t in TYPES] + ["Avg"]
            row = [pct(table[p][t]["accuracy"]) for p in PLATFORMS for t in TYPES] + [pct(overall["all"]["accuracy"])]
            md = f"## {title} accuracy (%)\n\n" + markdown_table(header, [row])
        else:
            header = ["Group", "Text", "Icon", "Avg"]
            rows = [[g, *(pct(v[k]["accuracy"]) for k in ("text", "icon", "all"))] for g, v in table.items()]
            rows.append(["**Overall**", *(pct(overall[k]["accuracy"]) for k in ("text", "icon", "all"))])
            md = f"## {title} accuracy (%)\n\n" + markdown_table(header, rows)
        counts = markdown_table([first.capitalize(), "Text", "Icon", "All"],
                                [[n, *(f"{v[k]['hits']}/{v[k]['total']}" for k in ("text", "icon", "all"))]
                                 for n, v in table.items()])
        return summary, md + "\n\nHits / samples:\n\n" + counts + "\n"

    def draw(self, record: SampleRecord, sample: GroundingSample | None = None) -> Image:
        from PIL import Image as PILImage

        with PILImage.open(record.image) as img:
            return img.convert("RGB")


__all__ = ["GroundingSample", "GroundingSuite", "inside", "load_screenspot", "load_screenspot_pro"]
