"""AndroidControl: step-level action prediction on recorded episodes, high and low settings.

Data: the published GZIP TFRecord shards (``android_control-000NN-of-00020``), each record a
``tf.train.Example`` with ``episode_id`` (int), ``goal`` (bytes), ``screenshots`` (PNG bytes,
one per observation), ``accessibility_trees`` (serialised AndroidAccessibilityForest per
observation), ``screenshot_widths`` / ``screenshot_heights`` (ints), ``actions`` (JSON strings,
one fewer than screenshots) and ``step_instructions`` (bytes, one per action). They are read
with the pure-Python ``tfrecord`` package (``pip install 'guiagent[offline]'``), no TensorFlow.
JSON lines with the same fields are read too (``screenshots`` as paths relative to the file
or base64 PNG; ``accessibility_trees`` as base64 or null; ``actions`` as objects or strings).
A folder holding ``splits.json`` is filtered to its ``test`` episode ids.

Each step is one sample per setting: *high* (the goal only) and *low* (the goal and the step
instruction, `LOW_INSTRUCTION`). The model sees the step's screenshot with the mobile_use
prompt and, as "Task progress", the ground-truth actions of the steps before it, written as
the model would have written them (the dialect's `format_call`, re-parsed, in each step's
model coordinates). Its first tool call is compared with the gold action by `match`.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from guiagent.harness.offline.protowire import WireError, forest_nodes
from guiagent.harness.offline.suite import OfflineDataError, SampleRecord, markdown_table, pct, rate

if TYPE_CHECKING:
    from guiagent.model.base import Model
    from guiagent.tools.actions import Action
    from PIL.Image import Image

Setting = Literal["high", "low"]
LOW_INSTRUCTION = "{goal}\nNext step: {step}"
# A click or long press without an element box counts when it is this close to the gold point,
# in screen-normalised coordinates (x / width, y / height), as AitW and OS-Atlas measure it.
TAP_DISTANCE = 0.14
SWIPE_FRACTION = 0.25  # the oracle's swipe: from the centre, this fraction of the screen
ACTION_TYPES = ("click", "long_press", "scroll", "open_app", "type", "navigate_home", "navigate_back", "wait")
_GOLD_TYPES = {"input_text": "type"}


@dataclass(frozen=True)
class Gold:
    """A ground-truth action in AndroidControl's terms (screen pixels)."""

    type: str  # one of ACTION_TYPES
    x: float | None = None
    y: float | None = None
    text: str = ""
    direction: str = ""

    @classmethod
    def parse(cls, raw: Any, where: str) -> Gold:
        if isinstance(raw, (bytes, str)):
            try:
                raw = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise OfflineDataError(f"{where}: action is not JSON: {str(raw)[:80]!r}") from None
        if not isinstance(raw, dict) or "action_type" not in raw:
            raise OfflineDataError(f"{where}: action has no action_type")
        kind = _GOLD_TYPES.get(raw["action_type"], raw["action_type"])
        if kind not in ACTION_TYPES:
            raise OfflineDataError(f"{where}: unknown action_type {raw['action_type']!r}")
        needs_xy = kind in ("click", "long_press") or (raw["action_type"] == "type" and "x" in raw)
        try:
            x = float(raw["x"]) if needs_xy else None
            y = float(raw["y"]) if needs_xy else None
        except (KeyError, TypeError, ValueError):
            raise OfflineDataError(f"{where}: {raw['action_type']} needs numeric x and y") from None
        text = str(raw.get("text", raw.get("app_name", "")))
        direction = str(raw.get("direction", "")).lower()
        if kind == "scroll" and direction not in ("up", "down", "left", "right"):
            raise OfflineDataError(f"{where}: scroll direction must be up, down, left or right")
        if kind == "open_app" and not text:
            raise OfflineDataError(f"{where}: open_app needs app_name")
        return cls(type=kind, x=x, y=y, text=text, direction=direction)

    def point(self) -> tuple[float, float] | None:
        return (self.x, self.y) if self.x is not None and self.y is not None else None

    def to_action(self, width: int, height: int) -> Action:
        """The mobile_use action that performs this step (screen pixels)."""
        from guiagent.tools.actions import Click, LongPress, MobileType, Open, Swipe, SystemButton, Wait

        if self.type == "click":
            return Click(coordinate=(self.x or 0.0, self.y or 0.0))
        if self.type == "long_press":
            return LongPress(coordinate=(self.x or 0.0, self.y or 0.0))
        if self.type == "scroll":
            # scrolling "down" shows what is below: the finger moves up
            dx, dy = {"down": (0, -1), "up": (0, 1), "right": (-1, 0), "left": (1, 0)}[self.direction]
            cx, cy = width / 2, height / 2
            return Swipe(coordinate=(cx - dx * SWIPE_FRACTION * width, cy - dy * SWIPE_FRACTION * height),
                         coordinate2=(cx + dx * SWIPE_FRACTION * width, cy + dy * SWIPE_FRACTION * height))
        if self.type == "open_app":
            return Open(text=self.text)
        if self.type == "type":
            return MobileType(text=self.text)
        if self.type == "navigate_home":
            return SystemButton(button="Home")
        if self.type == "navigate_back":
            return SystemButton(button="Back")
        return Wait(time=2.0)


def predicted_type(action: Action) -> str:
    """AndroidControl's name for a mobile_use action (swipe -> scroll, open -> open_app, ...)."""
    name = action.action
    if name == "swipe":
        return "scroll"
    if name == "open":
        return "open_app"
    if name == "system_button":
        return {"Home": "navigate_home", "Back": "navigate_back"}.get(action.button, f"system_button:{action.button}")  # type: ignore[union-attr]
    return str(name)


def swipe_direction(start: tuple[float, float], end: tuple[float, float]) -> str:
    """The scroll direction a swipe performs: a finger moving up scrolls down, and so on."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    if abs(dy) >= abs(dx):
        return "down" if dy < 0 else "up"
    return "right" if dx < 0 else "left"


def normalise(text: str) -> str:
    """Case-folded, whitespace collapsed, trimmed of surrounding spaces and punctuation."""
    return re.sub(r"\s+", " ", text.casefold()).strip().strip(".,;:!?\"'").strip()


def match(gold: Gold, action: Action, width: int, height: int,
          target: tuple[int, int, int, int] | None) -> tuple[bool, bool]:
    """(type match, exact match) of a predicted action (screen pixels) against the gold one.

    Types are equal after mapping (swipe = scroll, open = open_app, type = type/input_text,
    system_button Home/Back = navigate_home/back). Exact match further needs: click / long
    press inside the target element's bounds when the accessibility tree gives them, else
    within TAP_DISTANCE of the gold point in screen-normalised coordinates; the same scroll
    direction; the same text / app name after `normalise`. Other types: the type alone.
    """
    kind = predicted_type(action)
    if kind != gold.type:
        return False, False
    points = action.points()
    if gold.type in ("click", "long_press"):
        x, y = points["coordinate"]
        if target is not None:
            return True, target[0] <= x <= target[2] and target[1] <= y <= target[3]
        gx, gy = gold.point() or (0.0, 0.0)
        return True, math.hypot((x - gx) / width, (y - gy) / height) <= TAP_DISTANCE
    if gold.type == "scroll":
        return True, swipe_direction(points["coordinate"], points["coordinate2"]) == gold.direction
    if gold.type in ("type", "open_app"):
        return True, normalise(str(getattr(action, "text", ""))) == normalise(gold.text)
    return True, True


def target_bounds(tree: bytes | None, point: tuple[float, float] | None) -> tuple[int, int, int, int] | None:
    """The smallest visible element of the accessibility tree that contains the gold point."""
    if not tree or point is None:
        return None
    x, y = point
    try:
        nodes = forest_nodes(tree)
    except WireError:
        return None
    best = None
    for node in nodes:
        left, top, right, bottom = node.bounds
        if node.visible and right > left and bottom > top and left <= x <= right and top <= y <= bottom:
            if best is None or (right - left) * (bottom - top) < (best[2] - best[0]) * (best[3] - best[1]):
                best = node.bounds
    return best


# ---------------------------------------------------------------- reading


@dataclass
class Episode:
    episode_id: str
    goal: str
    screenshots: list[Any]  # PNG bytes, or a Path
    widths: list[int]
    heights: list[int]
    actions: list[Gold]
    step_instructions: list[str]
    trees: list[bytes | None]
    source: str


@dataclass(frozen=True)
class StepSample:
    id: str
    episode: str
    step: int
    setting: Setting
    instruction: str
    gold: Gold
    screenshot: Any = field(repr=False)
    size: tuple[int, int] = (0, 0)
    target: tuple[int, int, int, int] | None = None
    history: tuple[tuple[Gold, int, int], ...] = ()  # earlier gold actions with their screen sizes
    source: str = ""


def _files(data: Path) -> tuple[list[Path], set[str] | None]:
    if not data.exists():
        raise OfflineDataError(f"{data}: no such file or folder")
    if data.is_file():
        return [data], None
    split = None
    splits = data / "splits.json"
    if splits.is_file():
        try:
            split = {str(e) for e in json.loads(splits.read_text(encoding="utf-8"))["test"]}
        except (OSError, ValueError, KeyError, TypeError):
            raise OfflineDataError(f"{splits}: expected a JSON object with a 'test' list of episode ids") from None
    files = sorted(p for p in data.iterdir() if p.is_file() and not p.name.startswith(".")
                   and (p.name.startswith("android_control") or p.suffix in (".jsonl", ".tfrecord", ".gz")))
    if not files:
        raise OfflineDataError(f"{data}: no AndroidControl files (android_control-*, *.tfrecord, *.jsonl) here")
    return files, split


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """Each record of a TFRecord file as {feature: list of values}."""
    try:
        from tfrecord import example_pb2
        from tfrecord.reader import tfrecord_iterator
    except ImportError:
        raise OfflineDataError(f"{path}: reading TFRecords needs the tfrecord package: "
                               "pip install 'guiagent[offline]'") from None
    with path.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    try:
        for raw in tfrecord_iterator(str(path), compression_type="gzip" if gz else None):
            ex = example_pb2.Example()
            ex.ParseFromString(bytes(raw))
            out: dict[str, Any] = {}
            for key, feat in ex.features.feature.items():
                kind = feat.WhichOneof("kind")
                out[key] = list(getattr(feat, kind).value) if kind else []
            yield out
    except (OSError, EOFError, ValueError) as exc:  # a torn or foreign file
        raise OfflineDataError(f"{path}: not a readable TFRecord file ({exc})") from None


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _episode(rec: dict[str, Any], where: str, base: Path) -> Episode:
    def need(key: str) -> list[Any]:
        v = rec.get(key)
        if v is None:
            raise OfflineDataError(f"{where}: missing field {key!r}")
        return list(v) if isinstance(v, (list, tuple)) else [v]

    eid = need("episode_id")[0]
    goal = _text(need("goal")[0])
    shots: list[Any] = []
    for s in need("screenshots"):
        if isinstance(s, bytes):
            shots.append(s)
        elif isinstance(s, str) and s.startswith("data:"):
            shots.append(base64.b64decode(s.split(",", 1)[1]))
        else:
            file = base / str(s)
            if not file.is_file():
                raise OfflineDataError(f"{where}: screenshot {str(s)!r} not found next to the data file")
            shots.append(file)
    actions = [Gold.parse(a, f"{where}: step {i}") for i, a in enumerate(need("actions"))]
    steps = [_text(s) for s in rec.get("step_instructions") or [""] * len(actions)]
    widths, heights = [int(v) for v in need("screenshot_widths")], [int(v) for v in need("screenshot_heights")]
    trees_raw = rec.get("accessibility_trees") or [None] * len(shots)
    trees = [t if isinstance(t, bytes) or t is None else base64.b64decode(t) for t in trees_raw]
    if not (len(shots) == len(widths) == len(heights) == len(trees)) or len(actions) not in (len(shots),
                                                                                              len(shots) - 1):
        raise OfflineDataError(f"{where}: {len(shots)} screenshots, {len(widths)} widths, {len(heights)} heights, "
                               f"{len(trees)} trees and {len(actions)} actions do not line up "
                               "(actions must be one fewer than screenshots)")
    if len(steps) != len(actions):
        raise OfflineDataError(f"{where}: {len(steps)} step_instructions for {len(actions)} actions")
    return Episode(episode_id=str(eid), goal=goal, screenshots=shots, widths=widths, heights=heights,
                   actions=actions, step_instructions=steps, trees=trees, source=where)


def read_episodes(data: Path) -> Iterator[Episode]:
    """The episodes of a file or folder (TFRecord or JSON lines), filtered by splits.json's test ids."""
    files, split = _files(data)
    for path in files:
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise OfflineDataError(f"{path}: line {n}: not JSON ({exc.msg})") from None
                    ep = _episode(rec, f"{path}: line {n}", path.parent)
                    if split is None or ep.episode_id in split:
                        yield ep
        else:
            for n, rec in enumerate(_records(path)):
                ep = _episode(rec, f"{path}: record {n}", path.parent)
                if split is None or ep.episode_id in split:
                    yield ep


# ---------------------------------------------------------------- the suite


class AndroidControlSuite:
    """Every step of every episode, once per setting."""

    name = "androidcontrol"

    def __init__(self, data: Path, setting: str = "both") -> None:
        self.data = data
        self.settings: tuple[Setting, ...] = ("high", "low") if setting == "both" else (setting,)  # type: ignore[assignment]
        self._count: int | None = None
        self.count()  # reads every file once: bad data fails now, before any model call

    def count(self) -> int:
        if self._count is None:
            self._count = sum(len(ep.actions) for ep in read_episodes(self.data)) * len(self.settings)
            if not self._count:
                raise OfflineDataError(f"{self.data}: no episode with actions")
        return self._count

    def samples(self) -> Iterator[StepSample]:
        for ep in read_episodes(self.data):
            history: list[tuple[Gold, int, int]] = []
            for i, gold in enumerate(ep.actions):
                size = (ep.widths[i], ep.heights[i])
                target = target_bounds(ep.trees[i], gold.point()) if gold.type in ("click", "long_press") else None
                for setting in self.settings:
                    instruction = ep.goal if setting == "high" else LOW_INSTRUCTION.format(
                        goal=ep.goal, step=ep.step_instructions[i])
                    yield StepSample(id=f"{ep.episode_id}:{i}:{setting}", episode=ep.episode_id, step=i,
                                     setting=setting, instruction=instruction, gold=gold,
                                     screenshot=ep.screenshots[i], size=size, target=target,
                                     history=tuple(history), source=ep.source)
                history.append((gold, *size))

    def oracle_truth(self, sample: StepSample) -> dict[str, Any]:
        from guiagent.tools.actions import action_to_dict

        return {"action": action_to_dict(sample.gold.to_action(*sample.size))}

    def history(self, model: Model, sample: StepSample) -> list[Any]:
        """The earlier gold steps as the loop records executed calls, in each step's model coordinates."""
        from guiagent.model.base import HistoryItem
        from guiagent.tools.frame import Frame

        items = []
        for gold, w, h in sample.history:
            frame = Frame.for_screen(w, h, model.image_size(w, h))  # keeps the dialect's coordinate grid
            action = frame.action_to_model(gold.to_action(w, h))
            call = model.dialect.parse(model.dialect.format_call("mobile_use", action), "mobile_use")[0]
            items.append(HistoryItem(calls=[call.call_json]))
        return items

    def _image(self, sample: StepSample) -> Image:
        import io

        from PIL import Image as PILImage

        src = sample.screenshot
        with PILImage.open(src if isinstance(src, Path) else io.BytesIO(src)) as img:
            return img.convert("RGB")

    def evaluate(self, model: Model, sample: StepSample, *, truth: Any = None) -> SampleRecord:
        from guiagent.agent.grounding import predict
        from guiagent.model.base import ModelError, ParseError
        from guiagent.tools.frame import OutOfFrame, Screenshot, ScreenSpace

        t0 = time.perf_counter()
        gold = sample.gold
        rec = SampleRecord(id=sample.id, status="scored", instruction=sample.instruction,
                           image=f"{sample.source}#{sample.episode}:{sample.step}",
                           groups={"setting": sample.setting, "action": gold.type},
                           truth={"type": gold.type, **({"point": list(p)} if (p := gold.point()) else {}),
                                  **({"bounds": list(sample.target)} if sample.target else {}),
                                  **({"text": gold.text} if gold.text else {}),
                                  **({"direction": gold.direction} if gold.direction else {})})
        image = self._image(sample)
        rec.screen = image.size
        rec.seconds["load"] = time.perf_counter() - t0
        shot = Screenshot(image=image, screen=ScreenSpace(width=image.width, height=image.height))
        try:
            prediction = predict(model, shot, sample.instruction, space="mobile_use",
                                 history=self.history(model, sample), truth=truth)
        except ModelError as exc:
            rec.status, rec.reason = "error", f"model error: {exc}"
            return rec
        rec.raw = prediction.completion.text
        rec.model_size = prediction.frame.model_size
        rec.seconds["infer"] = prediction.seconds
        type_ok = exact = False
        try:
            calls = prediction.calls(model, "mobile_use")
            if not calls:
                raise ParseError("no tool call")
            action = prediction.frame.action_to_screen(calls[0].action)
            from guiagent.tools.actions import action_to_dict

            rec.predicted = action_to_dict(action)
            rec.predicted["type"] = predicted_type(action)
            if "coordinate" in rec.predicted:
                rec.predicted["point"] = rec.predicted["coordinate"]
            type_ok, exact = match(gold, action, image.width, image.height, sample.target)
        except (ParseError, OutOfFrame) as exc:
            rec.reason = f"unusable reply: {exc}"
        rec.hit = exact
        rec.detail = {"type_match": type_ok, "exact_match": exact}
        rec.seconds["total"] = time.perf_counter() - t0
        return rec

    def tables(self, records: list[SampleRecord]) -> tuple[dict[str, Any], str]:
        scored = [r for r in records if r.status == "scored"]
        by: dict[str, Any] = {}
        for setting in ("high", "low"):
            rs = [r for r in scored if r.groups.get("setting") == setting]
            if not rs and setting not in self.settings:
                continue
            types = sum(bool(r.detail.get("type_match")) for r in rs)
            exact = sum(r.hit for r in rs)
            per = {}
            for kind in ACTION_TYPES:
                ks = [r for r in rs if r.groups.get("action") == kind]
                if ks:
                    per[kind] = {"steps": len(ks), "type_accuracy": rate(sum(bool(r.detail.get("type_match"))
                                                                              for r in ks), len(ks)),
                                 "step_success": rate(sum(r.hit for r in ks), len(ks))}
            by[setting] = {"steps": len(rs), "type_accuracy": rate(types, len(rs)),
                           "step_success": rate(exact, len(rs)), "by_action": per}
        summary = {"by_setting": by, "success_rate": rate(sum(r.hit for r in scored), len(scored)),
                   "scored": len(scored), "errors": len(records) - len(scored)}
        rows = [[s.capitalize(), pct(v["type_accuracy"]), pct(v["step_success"]), str(v["steps"])]
                for s, v in by.items()]
        md = "## AndroidControl (%)\n\n" + markdown_table(["Setting", "Type accuracy", "Step success (SR)", "Steps"],
                                                          rows)
        detail = [[s, k, str(v["steps"]), pct(v["type_accuracy"]), pct(v["step_success"])]
                  for s, d in by.items() for k, v in d["by_action"].items()]
        md += "\n\nBy gold action type:\n\n" + markdown_table(["Setting", "Action", "Steps", "Type", "SR"], detail)
        return summary, md + "\n"

    def draw(self, record: SampleRecord, sample: StepSample | None = None) -> Image:
        if sample is None:
            raise LookupError("the screenshot lives inside the episode file; pictures are drawn during the run")
        return self._image(sample)


__all__ = ["AndroidControlSuite", "Gold", "match", "read_episodes", "swipe_direction", "target_bounds"]
