"""The trajectory format and its recorder.

A run directory holds ``trajectory.json`` (versioned schema below) and
``step_NNN.png`` screenshots. The recorder writes both after every step through a
single background thread: PNG encoding (tens of ms at 1080p) stays off the loop's
hot path, and the one thread keeps the order "screenshot, then the JSON that names
it", so ``trajectory.json`` never points at a file that is not there. Every file is
written to a unique temporary file in the folder and renamed, so a crash or Ctrl+C
leaves either the previous or the new complete file, never a torn one. One run holds
a folder at a time (agent/runlock.py); a write that fails stops the recording and,
through `Recorder.check`, the run (status ``record_error``).
"""

from __future__ import annotations

import errno
import json
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
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from guiagent.agent.runlock import RecordError, lock_run_folder
from guiagent.model.base import Usage
from guiagent.tools.frame import Frame, ScreenSpace
from pydantic import BaseModel, Field, ValidationError

if TYPE_CHECKING:
    from PIL.Image import Image

SCHEMA_VERSION = 1
TRAJECTORY_FILE = "trajectory.json"

# How a run ended. "running" is only ever seen in files of a run that is still going or
# was killed before it could write its ending.
Status = Literal[
    "running", "success", "failure", "max_steps", "parse_errors", "stalled", "interrupted", "budget",
    "device_lost", "display_lost", "env_error", "model_error", "record_error", "error",
]


class ActionRecord(BaseModel):
    """One tool call of a step: as parsed (model coordinates) and as executed (screen)."""

    call: str = Field(description="the call as the model wrote it, re-serialised (used for the history)")
    model_action: dict = Field(description="parsed action, model-image coordinates")
    screen_action: dict | None = Field(default=None, description="executed action, screen coordinates")
    decision: str = Field(default="allow", description="guard decision: allow, deny, confirm-yes, confirm-no, dry-run")
    executed: bool = False
    error: str | None = None


class StepRecord(BaseModel):
    index: int
    started_at: float
    ended_at: float = 0.0
    screenshot: str | None = None
    frame: Frame | None = None
    prompt: dict = Field(default_factory=dict, description="summary: messages, images, user text")
    raw_text: str | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model_timings: dict[str, float] = Field(default_factory=dict)
    durations: dict[str, float] = Field(default_factory=dict, description="seconds: capture, prompt, infer, parse, execute, settle")
    feedback: list[str] = Field(default_factory=list, description="messages fed back to the model at the next step")
    error: str | None = None


class RunMeta(BaseModel):
    instruction: str
    env: str
    env_info: dict = Field(default_factory=dict)
    model: str
    space: str
    screen: ScreenSpace | None = None
    model_size: tuple[int, int] | None = None
    min_pixels: int
    max_pixels: int
    history: str = "text"
    max_steps: int
    dry_run: bool = False
    # files written before this field existed executed every call of a reply
    calls: Literal["first", "all"] = Field(default="all", description="which tool calls of a reply are executed")
    versions: dict[str, str] = Field(default_factory=dict)
    started_at: float = Field(default_factory=time.time)
    extra: dict[str, Any] = Field(default_factory=dict)


class Trajectory(BaseModel):
    schema_version: int = SCHEMA_VERSION
    meta: RunMeta
    steps: list[StepRecord] = Field(default_factory=list)
    status: Status = "running"
    reason: str | None = None
    answer: str | None = None
    ended_at: float | None = None

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
    """Read a run directory (or its trajectory.json). Raises `TrajectoryError` with a one-line message."""
    path = Path(path)
    file = path / TRAJECTORY_FILE if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrajectoryError(f"{file}: not found; expected a run directory written by guiagent") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TrajectoryError(f"{file}: unreadable ({exc})") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise TrajectoryError(f"{file}: schema_version {version!r} is not supported (this guiagent reads {SCHEMA_VERSION})")
    try:
        return Trajectory.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise TrajectoryError(f"{file}: field {loc}: {err['msg']}") from None


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
    """Writes a trajectory step by step, atomically, off the loop's hot path.

    Opening takes the folder's run lock (`RunFolderInUse` when another run holds it) and
    writes the first trajectory.json at once, so a folder that takes no files fails before
    anything runs (`RecordError`). After the first failed write nothing more is written:
    the folder keeps the last complete step (its screenshot, then the JSON naming it), the
    failed step's files are removed, and `check()` raises the error so the loop stops before
    its next action; `finish()` then writes the ending as ``record_error`` if it still can.
    """

    def __init__(self, out_dir: str | Path, meta: RunMeta) -> None:
        self.dir = Path(out_dir)
        self.traj = Trajectory(meta=meta)
        self.error: RecordError | None = None
        self._recorded = 0  # steps named by the trajectory.json on disk
        self._run_lock = lock_run_folder(self.dir)
        try:
            self._write_atomic(self.path, self._snapshot())
        except OSError as exc:
            self._run_lock.release()
            raise _record_error(self.path, exc) from None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self._lock = threading.Lock()
        self._pending: list[Future[None]] = []

    @property
    def path(self) -> Path:
        return self.dir / TRAJECTORY_FILE

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

    def add_step(self, step: StepRecord, screenshot: Image | None) -> None:
        """Record a finished step; the PNG and the JSON are written in the background, in that order."""
        if screenshot is not None:
            step.screenshot = f"step_{step.index:03d}.png"
        with self._lock:
            self.traj.steps.append(step)
            count = len(self.traj.steps)
        self._submit(self._write_step, step.screenshot, screenshot, self._snapshot(), count)

    def check(self) -> None:
        """Wait until every step so far is on disk; raises the `RecordError` of a failed write."""
        self.flush()
        if self.error is not None:
            raise self.error

    def finish(self, status: Status, reason: str | None = None, answer: str | None = None) -> Trajectory:
        """Write the ending, wait until everything is on disk and give the folder up.

        A run whose files could not all be written ends ``record_error`` with the steps that
        are on disk, whatever `status` says.
        """
        try:
            self.flush()
            with self._lock:
                if self.error is not None:
                    status, reason, answer = "record_error", str(self.error), None
                    del self.traj.steps[self._recorded:]
                self.traj.status, self.traj.reason, self.traj.answer = status, reason, answer
                self.traj.ended_at = time.time()
            try:
                self._write_atomic(self.path, self._snapshot())
            except OSError as exc:
                if self.error is None:  # the ending is the first write that failed; the steps are all on disk
                    self.error = _record_error(self.path, exc)
                    with self._lock:
                        self.traj.status, self.traj.reason, self.traj.answer = "record_error", str(self.error), None
        finally:
            self._pool.shutdown(wait=True)
            self._run_lock.release()
        return self.traj

    def flush(self) -> None:
        for f in list(self._pending):
            f.result()
        self._pending.clear()

    def _snapshot(self) -> str:
        return self.traj.model_dump_json(indent=1)

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(fn, *args))

    def _write_step(self, name: str | None, image: Image | None, text: str, count: int) -> None:
        if self.error is not None:
            return  # the folder stays as it was after its last complete step
        png = self.dir / name if name and image is not None else None
        target = png or self.path
        try:
            if png is not None and image is not None:
                shot: Image = image
                # no fsync: the JSON's fsync below orders nothing for this file, but a PNG lost to a power cut
                # costs one picture, and the sync would double the time the next step waits for it
                self._write_atomic(png, lambda fh: shot.save(fh, format="PNG", compress_level=1), sync=False)
            target = self.path
            self._write_atomic(self.path, text)
        except Exception as exc:  # noqa: BLE001 - whatever stops a write stops the recording
            self.error = _record_error(target, exc)
            if png is not None:  # not named by the JSON on disk; removing it also frees room for the ending
                try:
                    png.unlink()
                except OSError:
                    pass
            return
        self._recorded = count

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
