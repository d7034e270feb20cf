"""`guiagent view`: a self-contained HTML report of a recorded run.

One HTML file, no network: screenshots are embedded as data URIs (WebP, full size
for the step image so it stays readable, downscaled for the thumbnails). Each step
shows the screenshot the model saw with the executed action drawn on top, at the
screen position it was executed at. Markers are HTML/SVG overlays positioned in
percent of the image, so they follow the image at any display size and never alter
its pixels.

Everything the model wrote is untrusted: the templates are rendered by Jinja's
sandboxed environment with autoescaping on, and the page carries a
Content-Security-Policy that forbids any network access.

``?focus#step-N`` shows only step N's image at its natural size at the page's top-left
corner (used by the tests to check marker positions pixel by pixel).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.agent import prompts
from guiagent.agent.progress import describe_action
from guiagent.agent.trajectory import TRAJECTORY_FILE, Trajectory, TrajectoryError, load_trajectory
from guiagent.tools.runfiles import RunFileError, RunFileMissing, UnsafeRunFile, read_run_image

if TYPE_CHECKING:
    from guiagent.agent.trajectory import ActionRecord, StepRecord
    from guiagent.tools.frame import Frame

REPORT_FILE = "report.html"
PHASES = ("capture", "prompt", "infer", "parse", "record_wait", "execute", "settle")
THUMB_WIDTH = 240
# WebP at method 2 encodes a 1080p screenshot in ~80 ms (method 4: ~280 ms) for a few % more bytes.
IMAGE_QUALITY, THUMB_QUALITY, WEBP_METHOD = 85, 70, 2
LABEL_CHARS = 60
STATUS_TONE = {
    "success": "good", "failure": "bad", "running": "warn", "interrupted": "warn",
    "max_steps": "warn", "stalled": "warn", "budget": "warn", "parse_errors": "bad",
    "device_lost": "bad", "display_lost": "bad", "env_error": "bad", "model_error": "bad", "record_error": "bad",
    "error": "bad",
}
_CLICK_STYLE = {
    "left_click": "click", "click": "click", "right_click": "right", "middle_click": "middle",
    "double_click": "double", "long_press": "press", "mouse_move": "move",
}


# --------------------------------------------------------------------------- view model


@dataclass
class Mark:
    """One overlay on a step image. Positions are percent of the image width/height."""

    kind: str  # "point" | "arrow" | "scroll" | "chip"
    style: str  # css class: click, right, middle, double, press, move, drag, swipe, scroll, type, key, other
    label: str
    number: int = 0  # the action's number in its step when the step has several, else 0
    x: float = 0.0
    y: float = 0.0
    x2: float = 0.0
    y2: float = 0.0
    px: tuple[float, float] | None = None  # image pixel of the point (for data attributes / tests)
    angle: float = 0.0  # arrows: degrees, in displayed (aspect-preserving) image space
    flip: bool = False  # put the label left of the point (near the right edge)
    up: bool = True  # scroll direction
    inactive: bool = False  # denied, dry-run or failed: drawn muted


@dataclass
class ActionView:
    number: int
    summary: str
    model_json: str
    screen_json: str | None
    decision: str
    executed: bool
    error: str | None
    tone: str


@dataclass
class FinalView:
    """The screen after the last recorded step's actions (the trajectory's optional ``final.png``)."""

    index: int  # the step it follows
    anchor: str
    started: str  # when it was captured
    image: str | None
    thumb: str | None
    missing: str | None
    width: int
    height: int
    tall: bool
    marks: list[Mark] = field(default_factory=list)  # none: the actions are drawn on the step they belong to


@dataclass
class StepView:
    index: int
    anchor: str
    summary: str
    started: str
    seconds: float
    phases: list[tuple[str, float, float]]  # (name, seconds, percent of the longest step)
    model_timings: list[tuple[str, float]]
    image: str | None  # data URI
    thumb: str | None
    missing: str | None  # why there is no image
    width: int
    height: int
    frame: Frame | None
    marks: list[Mark]
    actions: list[ActionView]
    raw_text: str | None
    user_text: str
    usage: dict[str, int]
    error: str | None
    feedback: list[str]
    has_problem: bool
    notes: list[str] = field(default_factory=list)
    tall: bool = False  # a portrait screen (a phone): the image is height-capped and the reply sits beside it


# --------------------------------------------------------------------------- geometry


def screen_to_pixel(frame: Frame, sx: float, sy: float) -> tuple[float, float]:
    """Executor point -> captured-image pixel: subtract the monitor origin, multiply by the HiDPI scale.

    The inverse of what an env does when it reports `ScreenSpace`; the report is its
    only consumer, so it lives here rather than in the Frame (which maps model <-> screen).
    """
    s = frame.screen
    return (sx - s.origin_x) * s.scale, (sy - s.origin_y) * s.scale


def _percent(frame: Frame, pixel: tuple[float, float]) -> tuple[float, float]:
    # +0.5: a marker sits on the centre of the pixel the action hit, not on its top-left corner
    return (pixel[0] + 0.5) / frame.image_width * 100.0, (pixel[1] + 0.5) / frame.image_height * 100.0


def _clip(text: str, n: int = LABEL_CHARS) -> str:
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= n else text[: n - 1] + "…"


def action_marks(records: list[ActionRecord], frame: Frame | None,
                 pointer: tuple[float, float] | None) -> tuple[list[Mark], tuple[float, float] | None]:
    """Overlays for a step's actions, and the pointer position (screen units) after them.

    Clicks without a coordinate and desktop drags start at the pointer, so the pointer
    is tracked across steps from the actions that move it.
    """
    marks: list[Mark] = []
    numbered = sum(1 for r in records if r.model_action.get("action") not in ("terminate",)) > 1
    for i, rec in enumerate(records, 1):
        act = rec.screen_action or {}
        name = (rec.screen_action or rec.model_action).get("action", "?")
        inactive = not rec.executed
        number = i if numbered else 0
        suffix = "" if rec.executed else f" [{_decision_word(rec)}]"
        point = tuple(act["coordinate"]) if "coordinate" in act else None
        end = tuple(act["coordinate2"]) if "coordinate2" in act else None

        def place(p: tuple[float, float]) -> tuple[float, float, tuple[float, float]]:
            assert frame is not None  # called only past the `frame is None` check below
            pix = screen_to_pixel(frame, *p)
            x, y = _percent(frame, pix)
            return x, y, pix

        unmapped = rec.screen_action is None and any(k in rec.model_action for k in ("coordinate", "coordinate2"))
        if frame is None or unmapped:  # no screen to draw on, or a model point that never became a screen point
            marks.append(Mark("chip", "other", _clip(describe_action(act or rec.model_action)) + suffix, number,
                              inactive=inactive))
            continue
        if name in _CLICK_STYLE:
            where = point or pointer
            label = {"left_click": "left click", "click": "tap", "right_click": "right click",
                     "middle_click": "middle click", "double_click": "double click", "mouse_move": "move",
                     "long_press": f"long press {act.get('time', 2):g}s"}[name]
            if where is None:
                marks.append(Mark("chip", "other", f"{label} at the pointer (position unknown){suffix}", number,
                                  inactive=inactive))
                continue
            if point is None:
                label += " (at pointer)"
            x, y, pix = place(where)
            marks.append(Mark("point", _CLICK_STYLE[name], label + suffix, number, x, y, px=pix, flip=x > 70,
                              inactive=inactive))
            if rec.executed:
                pointer = where
        elif name in ("left_click_drag", "swipe"):
            start = point if name == "swipe" else pointer
            stop = end if name == "swipe" else point
            label = name.replace("left_click_", "")
            if stop is None:
                marks.append(Mark("chip", "other", _clip(describe_action(act or rec.model_action)) + suffix, number,
                                  inactive=inactive))
                continue
            x2, y2, pix2 = place(stop)
            if start is None:
                marks.append(Mark("point", "drag", f"{label} to here (start unknown){suffix}", number, x2, y2,
                                  px=pix2, flip=x2 > 70, inactive=inactive))
            else:
                x1, y1, pix1 = place(start)
                angle = math.degrees(math.atan2(pix2[1] - pix1[1], pix2[0] - pix1[0]))
                marks.append(Mark("arrow", "drag", label + suffix, number, x1, y1, x2, y2, px=pix1, angle=angle,
                                  flip=x2 > 70, inactive=inactive))
            if rec.executed and name == "left_click_drag":
                pointer = stop
        elif name == "scroll":
            where = point or pointer
            px_amount = float(act.get("pixels", rec.model_action.get("pixels", 0)))
            up = px_amount > 0  # the tool's convention: positive scrolls up
            label = f"scroll {'up' if up else 'down'} {abs(px_amount):g}px{suffix}"
            if where is None:
                marks.append(Mark("chip", "scroll", label, number, up=up, inactive=inactive))
                continue
            x, y, pix = place(where)
            marks.append(Mark("scroll", "scroll", label, number, x, y, px=pix, flip=x > 70, up=up, inactive=inactive))
            if rec.executed and point is not None:
                pointer = point
        else:
            style = "type" if name == "type" else "key" if name in ("key", "system_button") else "other"
            marks.append(Mark("chip", style, _clip(describe_action(act or rec.model_action)) + suffix, number,
                              inactive=inactive))
    return marks, pointer


def _decision_word(rec: ActionRecord) -> str:
    if rec.decision.startswith("dry-run"):
        return "dry run"
    if rec.decision.startswith("deny"):
        return "denied"
    if rec.decision.startswith("confirm-no"):
        return "declined"
    if rec.decision.startswith("skipped"):
        return "skipped"
    return "failed" if rec.error else "not executed"


# --------------------------------------------------------------------------- images


def _encode(image, quality: int) -> str:
    buf = io.BytesIO()
    image.save(buf, "WEBP", quality=quality, method=WEBP_METHOD)
    return "data:image/webp;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _load_images(traj_dir: Path, name: str) -> tuple[str, str, int, int]:
    """(image data URI, thumbnail data URI, width, height) of one screenshot file (checked by tools.runfiles)."""
    rgb = read_run_image(traj_dir, name)
    full = _encode(rgb, IMAGE_QUALITY)
    thumb = rgb.copy()
    thumb.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 4))
    return full, _encode(thumb, THUMB_QUALITY), rgb.width, rgb.height


# --------------------------------------------------------------------------- building the page


def _fmt_time(ts: float | None) -> str:
    if not ts:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _seconds(v: float) -> str:
    if v < 1:
        return f"{v * 1000:.0f} ms"
    if v < 120:
        return f"{v:.2f} s"
    return f"{int(v // 60)} min {v % 60:.0f} s"


def _tone(rec: ActionRecord) -> str:
    if rec.error or rec.decision.startswith(("deny", "confirm-no")):
        return "bad"
    if not rec.executed:
        return "warn"
    return "good"


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))


def _phase_names(traj: Trajectory) -> list[str]:
    extra = sorted({k for s in traj.steps for k in s.durations} - set(PHASES))
    return list(PHASES) + extra


def _tall(width: int, height: int) -> bool:
    return height > width


def _final_view(traj: Trajectory, traj_dir: Path, missing_files: list[str]) -> FinalView | None:
    """The report's last frame: the screen after the last step's actions, when the run recorded it."""
    final = traj.final
    if final is None or final.after_step != len(traj.steps) or not traj.steps:
        return None  # a file edited so the final screen follows no recorded step: it would mislead
    img, why = None, None
    try:
        img = _load_images(traj_dir, final.screenshot)
    except RunFileMissing:
        missing_files.append(final.screenshot)
        why = f"screenshot {final.screenshot} is missing"
    except UnsafeRunFile as exc:
        raise TrajectoryError(f"final: {exc}") from None
    except RunFileError as exc:
        why = f"screenshot {final.screenshot} cannot be shown ({exc})"
    last = traj.steps[-1].frame
    width = img[2] if img else last.image_width if last else 16
    height = img[3] if img else last.image_height if last else 9
    return FinalView(index=final.after_step, anchor="final", started=_fmt_time(final.captured_at),
                     image=img[0] if img else None, thumb=img[1] if img else None, missing=why, width=width,
                     height=height, tall=_tall(width, height))


def _step_views(traj: Trajectory, traj_dir: Path) -> tuple[list[StepView], list[str]]:
    phases = _phase_names(traj)
    longest = max((sum(s.durations.values()) for s in traj.steps), default=0.0) or 1.0
    missing_files: list[str] = []

    def images(step: StepRecord):
        if not step.screenshot:
            return None, "no screenshot was recorded for this step"
        try:
            return _load_images(traj_dir, step.screenshot), None
        except RunFileMissing:
            missing_files.append(step.screenshot)
            return None, f"screenshot {step.screenshot} is missing (the run may have been killed before it was written)"
        except UnsafeRunFile as exc:  # a shared run naming files outside itself: refuse the whole report
            raise TrajectoryError(f"step {step.index}: {exc}") from None
        except RunFileError as exc:  # a truncated, foreign or oversized image: say so on the page, keep rendering
            return None, f"screenshot {step.screenshot} cannot be shown ({exc})"

    # PIL releases the GIL while encoding, so a few threads cut the time of long runs.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        loaded = list(pool.map(images, traj.steps))

    views: list[StepView] = []
    pointer: tuple[float, float] | None = None
    for position, (step, (img, why)) in enumerate(zip(traj.steps, loaded, strict=True), 1):
        frame = step.frame
        if img is not None and frame is not None and (img[2], img[3]) != (frame.image_width, frame.image_height):
            # the image is not the one the frame describes: markers would lie, so map onto what is shown
            frame = frame.model_copy(update={"image_width": img[2], "image_height": img[3]})
        marks, pointer = action_marks(step.actions, frame, pointer)
        total = sum(step.durations.values())
        notes = []
        if frame is not None and frame.screen.scale != 1:
            notes.append(f"HiDPI: {frame.screen.scale:g} captured pixels per screen unit")
        width = img[2] if img else frame.image_width if frame else 16
        height = img[3] if img else frame.image_height if frame else 9
        views.append(StepView(
            index=step.index,
            anchor=f"step-{step.index}",
            summary="; ".join(describe_action(a.screen_action or a.model_action) for a in step.actions)
            or ("error" if step.error else "no action"),
            started=_fmt_time(step.started_at),
            seconds=total,
            phases=[(p, step.durations[p], step.durations[p] / longest * 100) for p in phases if p in step.durations],
            model_timings=list(step.model_timings.items()),
            image=img[0] if img else None,
            thumb=img[1] if img else None,
            missing=why,
            width=width,
            height=height,
            frame=frame,
            marks=marks,
            actions=[ActionView(
                number=i, summary=describe_action(a.screen_action or a.model_action), model_json=_json(a.model_action),
                screen_json=_json(a.screen_action) if a.screen_action is not None else None, decision=a.decision,
                executed=a.executed, error=a.error, tone=_tone(a),
            ) for i, a in enumerate(step.actions, 1)],
            raw_text=step.raw_text,
            user_text=_user_text(traj, position),
            usage=step.usage.model_dump(),
            error=step.error,
            feedback=list(step.feedback),
            has_problem=bool(step.error or why or any(a.error or not a.executed for a in step.actions
                                                      if a.model_action.get("action") not in ("wait",))),
            notes=notes,
            tall=_tall(width, height),
        ))
    return views, sorted(missing_files)


def _user_text(traj: Trajectory, position: int) -> str:
    """The step's last user turn (rebuilt from the record for schema 2); empty when the record cannot rebuild it."""
    try:
        return prompts.user_text(traj, position)
    except ValueError:
        return ""


def build_context(traj: Trajectory, traj_dir: Path) -> dict[str, Any]:
    """Everything the report template shows, as plain values (no I/O left for the template)."""
    meta = traj.meta
    steps, missing = _step_views(traj, traj_dir)
    final = _final_view(traj, traj_dir, missing)
    totals = traj.totals()
    first_frame = next((s.frame for s in traj.steps if s.frame is not None), None)
    screen = meta.screen or (first_frame.screen if first_frame else None)
    model_size = meta.model_size or (first_frame.model_size if first_frame else None)
    captured = (first_frame.image_width, first_frame.image_height) if first_frame else None
    last_end = max((s.ended_at for s in traj.steps), default=0.0)
    incomplete = traj.status == "running" or traj.ended_at is None
    end = traj.ended_at or last_end or None
    wall = (end - meta.started_at) if end else None
    phase_totals = [(p, totals[p]) for p in _phase_names(traj) if p in totals]
    phase_sum = sum(v for _, v in phase_totals) or 1.0

    facts: list[tuple[str, str]] = [
        ("Model", meta.model),
        ("Environment", meta.env + (f" ({meta.space})" if meta.space else "")),
    ]
    if screen is not None:
        s = f"{screen.width}×{screen.height}"
        if screen.scale != 1:
            s += f" · scale {screen.scale:g}"
        if screen.origin_x or screen.origin_y:
            s += f" · origin ({screen.origin_x}, {screen.origin_y})"
        facts.append(("Screen", s))
    if captured is not None:
        facts.append(("Captured", f"{captured[0]}×{captured[1]} px"))
    if model_size is not None:
        facts.append(("Model image", f"{model_size[0]}×{model_size[1]} px"))
    facts += [
        ("Pixel budget", f"{meta.min_pixels:,} – {meta.max_pixels:,} px"),
        ("History", meta.history),
        ("Steps", f"{len(traj.steps)} of at most {meta.max_steps}" + (" · dry run" if meta.dry_run else "")),
        ("Tokens", f"{int(totals.get('prompt_tokens', 0)):,} in · {int(totals.get('completion_tokens', 0)):,} out"
         if totals.get("prompt_tokens") or totals.get("completion_tokens") else "not reported by the model"),
        ("Wall time", (_seconds(wall) + (" so far" if incomplete else "")) if wall is not None else "—"),
        ("Started", _fmt_time(meta.started_at)),
        ("Ended", _fmt_time(traj.ended_at) if traj.ended_at else "not recorded"),
    ]
    details = {"versions": meta.versions, "env_info": meta.env_info}
    if meta.extra:
        details["extra"] = meta.extra
    return {
        "title": f"guiagent · {_clip(meta.instruction, 80)}",
        "instruction": meta.instruction,
        "status": traj.status,
        "tone": STATUS_TONE.get(traj.status, "warn"),
        "reason": traj.reason,
        "answer": traj.answer,
        "incomplete": incomplete,
        "missing": missing,
        "facts": facts,
        "details": [(k, _json(v)) for k, v in details.items() if v],
        "phase_totals": [(p, v, v / phase_sum * 100) for p, v in phase_totals],
        "phase_sum": sum(v for _, v in phase_totals),
        "steps": steps,
        "final": final,
        "generated": _fmt_time(time.time()),
        "fmt_s": _seconds,
    }


def _environment():
    """Sandboxed, autoescaping Jinja environment over the templates shipped in this package."""
    from jinja2 import FunctionLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def load(name: str) -> str | None:
        file = resources.files(__package__) / name
        return file.read_text(encoding="utf-8") if file.is_file() else None

    env = ImmutableSandboxedEnvironment(loader=FunctionLoader(load), autoescape=True, undefined=StrictUndefined,
                                        trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: f"{v:.4f}%"
    return env


def _write(out: Path, text: str) -> Path:
    """Write `out` atomically through a fresh temp file in its folder.

    The temp name is random and created with O_EXCL|O_NOFOLLOW, so a file or symlink
    planted in a shared run folder (``report.html.tmp`` -> ``~/.bashrc``) is never written
    through; `os.replace` then swaps the name itself, never following a symlink at `out`.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # umask applies, as for any file the user writes
            break
        except FileExistsError:
            continue
    else:
        raise OSError(f"{out.parent}: cannot create a temporary file")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return out


def render_report(traj_dir: str | Path, out_file: str | Path | None = None,
                  verdict: list[tuple[str, str]] | None = None) -> Path:
    """Write the HTML report of the run in `traj_dir` (default ``TRAJ_DIR/report.html``); returns its path.

    `verdict`: labelled facts shown first (the harness's score and its evaluator's verdict).

    Raises `TrajectoryError` (one-line message) when `traj_dir` is not a readable trajectory.
    Works on runs that were killed half-way: missing endings and screenshots are shown as such.
    """
    traj_dir = Path(traj_dir)
    if traj_dir.is_file() and traj_dir.name == TRAJECTORY_FILE:
        traj_dir = traj_dir.parent
    traj = load_trajectory(traj_dir)
    out = Path(out_file) if out_file else traj_dir / REPORT_FILE
    context = build_context(traj, traj_dir)
    context["facts"] = [*(verdict or []), *context["facts"]]
    html = _environment().get_template("report.html.jinja").render(**context)
    return _write(out, html)


def render_index(entries: list[dict], summary: dict, out_file: str | Path, *, headline: str | None = None,
                 notes: list[str] | None = None) -> Path:
    """Write an index page linking one report per task (the harness's suite report); returns its path.

    Each entry: ``id`` (or ``task``), ``status``, optional ``score`` (0..1 or any number),
    ``steps``, ``report`` (or ``link``; a path, made relative to the index, or a URL),
    ``reason``, ``seconds``, ``instruction``. `summary` is shown as labelled facts, in order
    (e.g. ``{"suite": "miniwob", "model": "hf:...", "success rate": "45 %"}``). `headline` (the suite's
    success rate) leads the page and `notes` (what was skipped or errored, and why) follow it, one line each.
    """
    out = Path(out_file)
    rows = []
    for e in entries:
        link = e.get("report") or e.get("link")
        if link and "://" not in str(link):
            try:
                link = os.path.relpath(Path(link).resolve(), out.resolve().parent)
            except ValueError:  # another drive on Windows
                link = Path(link).resolve().as_uri()
            link = Path(link).as_posix()
        status = str(e.get("status", "—"))
        score = e.get("score")
        rows.append({
            "id": str(e.get("id", e.get("task", "?"))),
            "status": status,
            "tone": STATUS_TONE.get(status, "good" if score and float(score) >= 1 else "warn"),
            "score": "—" if score is None else f"{score:g}" if isinstance(score, (int, float)) else str(score),
            "steps": e.get("steps", "—"),
            "seconds": _seconds(float(e["seconds"])) if e.get("seconds") is not None else "—",
            "reason": e.get("reason") or "",
            "instruction": e.get("instruction") or "",
            "link": link,
        })
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    html = _environment().get_template("report_index.html.jinja").render(
        title=f"guiagent · {summary.get('suite', 'suite')} report", summary=[(str(k), str(v)) for k, v in summary.items()],
        rows=rows, counts=sorted(counts.items(), key=lambda kv: -kv[1]), generated=_fmt_time(time.time()),
        headline=headline, notes=list(notes or []),
        fmt_s=_seconds,
    )
    return _write(out, html)


__all__ = ["REPORT_FILE", "action_marks", "build_context", "render_index", "render_report", "screen_to_pixel"]
