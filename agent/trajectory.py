"""The trajectory format and its recorder.

A run directory holds ``trajectory.json`` (the run's metadata and ending, schema 2),
``steps.jsonl`` (one `StepRecord` per line, in order), ``step_NNN.png`` screenshots and, optionally,
``final.png``: the screen after the last recorded step's actions (`FinalScreen`; runs recorded
before it, and runs whose last step changed nothing, have none).
Recording costs the same at step 1,000 as at step 1: each step appends one line, written
once with a single ``write`` on an ``O_APPEND`` file and flushed, and ``trajectory.json``
(a few KB) is replaced atomically only at the start and at the end. Writes run on one
background thread, in the order "screenshot, then the line that names it", so no line
points at a file that is not there; a line cut short by a crash has no newline and is
not read. At most `QUEUE_STEPS` steps wait for the disk: past that `Recorder.add_step`
blocks (backpressure, timed by the loop as ``record_wait``). The loop hands a step's screenshot
over when the step starts (`Recorder.add_screenshot`), so its PNG is encoded while the model
thinks and the actions settle, and the step's line follows it at the end. One run holds a folder at a
time (agent/runlock.py); a write that fails stops the recording and, through
`Recorder.check`, the run (status ``record_error``). `load_trajectory` also reads schema 1
(every step inside ``trajectory.json``).

A step's ``prompt`` keeps what was new at that step (``new_calls``: the calls the history
gained since the previous step, and ``feedback``); the whole prompt is rebuilt from the
record by `guiagent.agent.prompts.step_messages`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import platform
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, Literal

from guiagent.agent.runlock import RecordError, lock_run_folder
from guiagent.model.base import Usage, parse_policy
from guiagent.tools.actions import ActionSpace
from guiagent.tools.frame import Frame, ScreenSpace
from guiagent.tools.runfiles import STEPS_FILE, TRAJECTORY_FILE, RunFileError, RunFileMissing, read_run_record
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger("guiagent.agent")

SCHEMA_VERSION = 2
FINAL_SCREENSHOT = "final.png"  # the screen after the last step's actions (optional; see FinalScreen)
READS = (1, 2)  # schema versions load_trajectory reads
QUEUE_STEPS = 2  # steps that may wait for the disk before add_step blocks (each holds a screenshot)

# How a run ended. "running" is only ever seen in files of a run that is still going or
# was killed before it could write its ending.
Status = Literal[
    "running", "success", "failure", "max_steps", "parse_errors", "stalled", "interrupted", "budget",
    "device_lost", "display_lost", "env_error", "model_error", "record_error", "error",
]


# Bounds of a recorded value: a trajectory may come from someone else, so what the schema accepts is
# what `view` and `replay` can show and re-execute without a crash (finite, sane, the right types).
MAX_TIMESTAMP = 32503680000.0  # 3000-01-01: past it time.localtime and the report's dates overflow
MAX_SECONDS = 10_000_000.0  # a phase of ~4 months; more is a corrupt record
MAX_COORDINATE = 1_000_000
Timestamp = Annotated[float, Field(ge=0, le=MAX_TIMESTAMP)]
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS)]


class _Record(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _short(v: object) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:59] + "…"


def check_action_dict(action: dict[str, Any], integer_points: bool) -> dict[str, Any]:
    """A recorded action's fields have the types `view` and `replay` use; ValueError naming the field."""
    if not isinstance(action.get("action"), str):
        raise ValueError("'action' must be the action's name (a string)")
    for key in ("coordinate", "coordinate2"):
        if key not in action:
            continue
        v = action[key]
        # model points are any finite numbers (the model may answer far off screen; the guard refuses
        # those), executed points are screen pixels
        ok = isinstance(v, (list, tuple)) and len(v) == 2 and all(_number(c) for c in v)
        if ok and integer_points:
            ok = all(isinstance(c, int) and abs(c) <= MAX_COORDINATE for c in v)
        if not ok:
            kind = f"integers (|x|, |y| <= {MAX_COORDINATE:,})" if integer_points else "finite numbers"
            raise ValueError(f"{key!r} must be a list of two {kind}, got {_short(v)}")
    for key in ("pixels", "time"):
        if key in action and not _number(action[key]):
            raise ValueError(f"{key!r} must be a finite number, got {_short(action[key])}")
    if "keys" in action and not (isinstance(action["keys"], list) and all(isinstance(k, str) for k in action["keys"])):
        raise ValueError(f"'keys' must be a list of key names, got {_short(action['keys'])}")
    for key in ("text", "button", "status"):
        if key in action and not isinstance(action[key], str):
            raise ValueError(f"{key!r} must be a string, got {_short(action[key])}")
    return action


class ActionRecord(_Record):
    """One tool call of a step: as parsed (model coordinates) and as executed (screen)."""

    call: str = Field(description="the call as the model wrote it, re-serialised (used for the history)")
    model_action: dict = Field(description="parsed action, model-image coordinates")
    screen_action: dict | None = Field(default=None, description="executed action, screen coordinates")
    decision: str = Field(default="allow", description="guard decision: allow, deny, confirm-yes, confirm-no, dry-run")
    executed: bool = False
    error: str | None = None

    @field_validator("model_action")
    @classmethod
    def _model_action(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_action_dict(v, integer_points=False)

    @field_validator("screen_action")
    @classmethod
    def _screen_action(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else check_action_dict(v, integer_points=True)


class StepRecord(_Record):
    index: int = Field(ge=1, le=1_000_000)
    started_at: Timestamp
    ended_at: Timestamp = 0.0
    screenshot: str | None = None
    frame: Frame | None = None
    prompt: dict = Field(default_factory=dict, description="what was new in the prompt: messages, images, new_calls, "
                                                           "feedback (schema 1: the whole user_text)")
    raw_text: str | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model_timings: dict[str, Seconds] = Field(default_factory=dict)
    durations: dict[str, Seconds] = Field(default_factory=dict, description="seconds: capture, prompt, infer, parse, "
                                                                            "record_wait, execute, settle")
    feedback: list[str] = Field(default_factory=list, description="messages fed back to the model at the next step")
    error: str | None = None


class RunMeta(_Record):
    instruction: str
    env: str
    env_info: dict = Field(default_factory=dict)
    model: str
    # runs recorded before dialects were chosen all spoke Qwen2.5-VL
    dialect: str = Field(default="qwen2.5-vl", max_length=40, description="the model family's dialect (prompt, "
                         "reply syntax, coordinate convention): qwen2.5-vl | qwen3-vl")
    space: ActionSpace
    screen: ScreenSpace | None = None
    model_size: tuple[PositiveInt, PositiveInt] | None = None
    min_pixels: PositiveInt
    max_pixels: PositiveInt
    history: str = "text"
    max_steps: int = Field(ge=0, le=1_000_000)
    dry_run: bool = False
    # files written before this field existed executed every call of a reply
    calls: Literal["first", "all"] = Field(default="all", description="which tool calls of a reply are executed")
    answer: bool = Field(default=False, description="the tool offered the answer action (part of the prompt)")
    versions: dict[str, str] = Field(default_factory=dict)
    started_at: Timestamp = Field(default_factory=time.time)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("history")
    @classmethod
    def _history(cls, v: str) -> str:
        parse_policy(v)  # 'text' or 'images:K'; ValueError names the policy
        return v


class FinalScreen(_Record):
    """The screen after the last recorded step's actions, captured once when the run ends.

    A step's screenshot is what the model saw before it acted, so without this the effect of the
    run's last action is never on record. Optional in schema 2: older files lack it, and older
    readers ignore it.
    """

    screenshot: str = Field(description="file name in the run folder (final.png)")
    after_step: int = Field(ge=1, le=1_000_000, description="the step whose actions this screen follows")
    captured_at: Timestamp
    screen: ScreenSpace | None = None


class Trajectory(_Record):
    schema_version: int = SCHEMA_VERSION
    meta: RunMeta
    steps: list[StepRecord] = Field(default_factory=list)
    status: Status = "running"
    reason: str | None = None
    answer: str | None = None
    ended_at: Timestamp | None = None
    final: FinalScreen | None = None

    def totals(self) -> dict[str, float]:
        """Aggregates for reports: steps, tokens, seconds per phase."""
        out: dict[str, float] = {"steps": len(self.steps)}
        for s in self.steps:
            out["prompt_tokens"] = out.get("prompt_tokens", 0) + s.usage.prompt_tokens
            out["completion_tokens"] = out.get("completion_tokens", 0) + s.usage.completion_tokens
            for k, v in s.durations.items():
                out[k] = out.get(k, 0.0) + v
        return out


class TrajectoryError(ValueError):
    """A run directory that cannot be read; the message names the file and the field."""


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("guiagent", "pydantic", "pillow", "transformers", "torch", "mss", "pyautogui", "adbutils"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def load_trajectory(path: str | Path) -> Trajectory:
    """Read a run directory (or its trajectory.json), schema 1 or 2. Raises `TrajectoryError` with a one-line message."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    file = folder / TRAJECTORY_FILE
    try:
        data = read_run_record(folder)
    except RunFileMissing as exc:
        if not str(exc).startswith(str(file)):
            raise TrajectoryError(str(exc)) from None
        raise TrajectoryError(f"{file}: not found; expected a run directory written by guiagent") from None
    except RunFileError as exc:
        raise TrajectoryError(str(exc)) from None
    except (ValueError, RecursionError) as exc:  # bad JSON, a 5000-digit integer, 100,000 nested lists
        raise TrajectoryError(f"{file}: unreadable ({type(exc).__name__}: {exc})") from None
    version = data.get("schema_version")
    if version not in READS:
        raise TrajectoryError(f"{file}: schema_version {version!r} is not supported "
                              f"(this guiagent reads {', '.join(map(str, READS))})")
    try:
        return Trajectory.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        where = file
        if version == 2 and err["loc"] and err["loc"][0] == "steps" and len(err["loc"]) > 1:
            where, loc = folder / STEPS_FILE, f"line {int(err['loc'][1]) + 1}: " + ".".join(str(p) for p in err["loc"][2:])
            raise TrajectoryError(f"{where}: {loc}: {err['msg']}") from None
        raise TrajectoryError(f"{where}: field {loc}: {err['msg']}") from None


def ran(rec: ActionRecord) -> bool:
    """The call was executed, or a dry run allowed it (what the model's history says was done)."""
    return rec.executed or rec.decision.startswith("dry-run")


def compare_actions(a: Trajectory, b: Trajectory) -> list[str]:
    """Differences between the executed screen actions of two trajectories, one line per differing step.

    Only actions that ran (or that a dry run allowed) count: a call the guard refused on replay
    is a difference, even though it maps to the same screen action.
    """
    out = []
    for i in range(max(len(a.steps), len(b.steps))):
        x = [r.screen_action for r in a.steps[i].actions if ran(r)] if i < len(a.steps) else None
        y = [r.screen_action for r in b.steps[i].actions if ran(r)] if i < len(b.steps) else None
        if x != y:
            out.append(f"step {i + 1}: recorded {json.dumps(x)} replayed {json.dumps(y)}")
    return out


@dataclass
class Result:
    """How a run ended."""

    status: Status
    steps: int
    reason: str | None
    answer: str | None
    out_dir: Path | None
    trajectory: Trajectory

    @property
    def success(self) -> bool:
        return self.status == "success"


# Before step 1 the folder must have room for this many steps of (half a raw RGB screenshot + JSON growth):
# a PNG of a screen rarely takes more than half its raw size.
PREFLIGHT_STEPS = 3
JSON_SLACK = 64 * 1024


class Recorder:
    """Writes a trajectory step by step, off the loop's hot path, at a cost per step independent of the run's length.

    Opening takes the folder's run lock (`RunFolderInUse` when another run holds it) and
    writes the first trajectory.json at once, so a folder that takes no files fails before
    anything runs (`RecordError`). After the first failed write nothing more is written:
    the folder keeps the last complete step (its screenshot, then the line naming it), the
    failed step's files are removed (its partial line truncated away), and `check()` raises
    the error so the loop stops before its next action; `finish()` then writes the ending
    as ``record_error`` if it still can.
    """

    def __init__(self, out_dir: str | Path, meta: RunMeta) -> None:
        self.dir = Path(out_dir)
        self.traj = Trajectory(meta=meta)
        self.error: RecordError | None = None
        self._recorded = 0  # steps whose line is on disk
        self._run_lock = lock_run_folder(self.dir)
        self._steps_fd: int | None = None
        try:
            with contextlib.suppress(FileNotFoundError):  # a folder reused by a new run starts with no steps
                os.unlink(self.steps_path)
            self._write_atomic(self.path, self._head())
        except OSError as exc:
            self._run_lock.release()
            raise _record_error(self.path, exc) from None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(QUEUE_STEPS)
        self._pending: list[Future[None]] = []
        self._last_line: Future[None] | None = None  # the write of the latest step's line
        self._early: dict[int, str] = {}  # steps whose screenshot was handed over before their line
        self._unnamed: set[str] = set()  # screenshots on disk that no line names yet
        self._final: FinalScreen | None = None  # set once final.png is on disk

    @property
    def path(self) -> Path:
        return self.dir / TRAJECTORY_FILE

    @property
    def steps_path(self) -> Path:
        return self.dir / STEPS_FILE

    def preflight(self, image_size: tuple[int, int]) -> None:
        """Before step 1: raise `RecordError` unless the folder has room for a few steps of this screen size."""
        w, h = image_size
        need = PREFLIGHT_STEPS * (w * h * 3 // 2 + JSON_SLACK)
        try:
            st = os.statvfs(self.dir)
        except OSError as exc:
            raise _record_error(self.dir, exc) from None
        free = st.f_bavail * st.f_frsize
        if free < need:
            raise RecordError(errno.ENOSPC, f"{self.dir}: not enough free space to record the run "
                                            f"({free / 2**20:.1f} MiB free, {PREFLIGHT_STEPS} steps of a {w}x{h} "
                                            f"screen need about {need / 2**20:.1f} MiB)")

    def add_screenshot(self, index: int, screenshot: Image) -> float:
        """Start writing step `index`'s screenshot now, before the step is done; `add_step` names it.

        The PNG is encoded in the background while the step runs, instead of after it, so a loop
        that waits for the previous step's line (`check`) does not wait for its encoding too. A
        screenshot whose step never gets its line is removed by `finish`. Blocks while
        `QUEUE_STEPS` steps already wait for the disk; returns the seconds it waited.
        """
        t = time.perf_counter()
        self._slots.acquire()
        waited = time.perf_counter() - t
        name = f"step_{index:03d}.png"
        try:
            self._submit(self._write_screenshot, name, screenshot)
        except BaseException:
            self._slots.release()
            raise
        self._early[index] = name
        return waited

    def add_step(self, step: StepRecord, screenshot: Image | None) -> float:
        """Record a finished step; its PNG (unless `add_screenshot` took it) and its line are written in the
        background, in that order.

        Blocks while `QUEUE_STEPS` steps already wait for the disk; returns the seconds it waited.
        """
        early = self._early.pop(step.index, None)
        waited = 0.0
        if early is not None:
            step.screenshot, screenshot = early, None
        else:
            if screenshot is not None:
                step.screenshot = f"step_{step.index:03d}.png"
            t = time.perf_counter()
            self._slots.acquire()
            waited = time.perf_counter() - t
        line = step.model_dump_json() + "\n"  # one step, not the run: the same cost at step 1 and step 1,000
        with self._lock:
            self.traj.steps.append(step)
            count = len(self.traj.steps)
        try:
            self._last_line = self._submit(self._write_step, step.screenshot, screenshot, line, count)
        except BaseException:
            self._slots.release()
            raise
        return waited

    def add_final(self, after_step: int, screenshot: Image, screen: ScreenSpace | None = None) -> None:
        """Record the screen after step `after_step`'s actions as ``final.png`` (written in the background).

        `finish` names it in trajectory.json only when it is on disk and follows the last step on
        disk. A failed write of this extra picture is logged, not a recording error: the steps and
        the ending matter more.
        """
        final = FinalScreen(screenshot=FINAL_SCREENSHOT, after_step=after_step, captured_at=time.time(), screen=screen)
        self._submit(self._write_final, final, screenshot)

    def _write_final(self, final: FinalScreen, image: Image) -> None:
        if self.error is not None or final.after_step != self._recorded:
            return
        path = self.dir / final.screenshot
        try:
            self._write_png(path, image)
        except Exception as exc:  # noqa: BLE001 - the final picture is extra; its failure must not end the recording
            log.warning("cannot write %s: %s", path, exc)
            return
        self._final = final

    def check(self) -> float:
        """Wait until every step recorded so far is on disk (a screenshot handed over early may still be
        on its way); the seconds waited. Raises the `RecordError` of a failed write."""
        t = time.perf_counter()
        if self._last_line is not None:
            self._last_line.result()  # one writer thread, in order: every earlier write is done too
        if self.error is not None:
            raise self.error
        return time.perf_counter() - t

    def finish(self, status: Status, reason: str | None = None, answer: str | None = None) -> Trajectory:
        """Write the ending, wait until everything is on disk and give the folder up.

        A run whose files could not all be written ends ``record_error`` with the steps that
        are on disk, whatever `status` says.
        """
        try:
            self.flush()
            for name in self._unnamed:  # handed over early, but its step never ended
                with contextlib.suppress(OSError):
                    (self.dir / name).unlink()
            self._unnamed.clear()
            with self._lock:
                if self.error is not None:
                    status, reason, answer = "record_error", str(self.error), None
                    del self.traj.steps[self._recorded:]
                self.traj.status, self.traj.reason, self.traj.answer = status, reason, answer
                self.traj.ended_at = time.time()
                if self._final is not None and self._final.after_step == len(self.traj.steps):
                    self.traj.final = self._final
            try:
                self._write_atomic(self.path, self._head())
            except OSError as exc:
                if self.error is None:  # the ending is the first write that failed; the steps are all on disk
                    self.error = _record_error(self.path, exc)
                    with self._lock:
                        self.traj.status, self.traj.reason, self.traj.answer = "record_error", str(self.error), None
        finally:
            self._pool.shutdown(wait=True)
            if self._steps_fd is not None:
                os.close(self._steps_fd)
                self._steps_fd = None
            self._run_lock.release()
        return self.traj

    def flush(self) -> None:
        for f in list(self._pending):
            f.result()
        self._pending.clear()

    def _head(self) -> str:
        """trajectory.json: the run without its steps (those are in steps.jsonl), a few KB."""
        return self.traj.model_dump_json(indent=1, exclude={"steps"})

    def _submit(self, fn: Callable[..., None], *args: Any) -> Future[None]:
        self._pending = [f for f in self._pending if not f.done()]
        future = self._pool.submit(fn, *args)
        self._pending.append(future)
        return future

    def _write_screenshot(self, name: str, image: Image) -> None:
        if self.error is not None:
            return
        try:
            self._write_png(self.dir / name, image)
        except Exception as exc:  # noqa: BLE001 - whatever stops a write stops the recording
            self.error = _record_error(self.dir / name, exc)
            return
        self._unnamed.add(name)

    def _write_png(self, path: Path, image: Image) -> None:
        # no fsync: the line's fsync orders nothing for this file, but a PNG lost to a power cut costs one
        # picture, and the sync would double the time the next step waits for it
        self._write_atomic(path, lambda fh: image.save(fh, format="PNG", compress_level=1), sync=False)

    def _write_step(self, name: str | None, image: Image | None, line: str, count: int) -> None:
        try:
            self._write_step_files(name, image, line, count)
        finally:
            self._slots.release()

    def _write_step_files(self, name: str | None, image: Image | None, line: str, count: int) -> None:
        if self.error is not None:
            return  # the folder stays as it was after its last complete step
        png = self.dir / name if name and image is not None else None
        target = png or self.steps_path
        try:
            if png is not None and image is not None:
                self._write_png(png, image)
            target = self.steps_path
            self._append(line.encode("utf-8"))
            if name:
                self._unnamed.discard(name)  # named by a line now
        except Exception as exc:  # noqa: BLE001 - whatever stops a write stops the recording
            self.error = _record_error(target, exc)
            if png is not None:  # not named by a line on disk; removing it also frees room for the ending
                try:
                    png.unlink()
                except OSError:
                    pass
            return
        self._recorded = count

    def _append(self, data: bytes) -> None:
        """One line at the end of steps.jsonl, written whole or not at all (a short write is truncated away)."""
        if self._steps_fd is None:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            self._steps_fd = os.open(self.steps_path, flags, 0o666)
        fd = self._steps_fd
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        except BaseException:
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass  # a reader skips the torn line: it has no newline
            raise

    def _write_atomic(self, path: Path, data: str | Callable[[BinaryIO], None], *, sync: bool = True) -> None:
        """Write through a unique temp file in the folder, fsync (`sync`), rename: the file is whole or absent.

        The temp file is created by name with O_EXCL (``open(..., "xb")``, what mkstemp does, with the
        umask's mode): two writers never share one, and a planted file or link is never written through.
        """
        while True:
            tmp = self.dir / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            try:
                fh = open(tmp, "xb")  # noqa: SIM115 - closed below; the name must be unlinked on failure
                break
            except FileExistsError:
                continue
        try:
            with fh:
                if isinstance(data, str):
                    fh.write(data.encode("utf-8"))
                else:
                    data(fh)
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def _record_error(path: Path, exc: BaseException) -> RecordError:
    if isinstance(exc, RecordError):
        return exc
    if isinstance(exc, OSError):
        return RecordError(exc.errno or errno.EIO, f"cannot write {path}: {exc.strerror or exc}")
    return RecordError(errno.EIO, f"cannot write {path}: {type(exc).__name__}: {exc}")
