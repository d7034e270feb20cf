"""The trajectory format and its recorder.

A run directory holds ``trajectory.json`` (versioned schema below) and
``step_NNN.png`` screenshots. The recorder writes both after every step through a
single background thread: PNG encoding (tens of ms at 1080p) stays off the loop's
hot path, and the one thread keeps the order "screenshot, then the JSON that names
it", so ``trajectory.json`` never points at a file that is not there. JSON is
written to a temporary file and renamed, so a crash or Ctrl+C leaves either the
previous or the new complete file, never a torn one.
"""

from __future__ import annotations

import json
import math
import os
import platform
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from guiagent.model.base import Usage, parse_policy
from guiagent.tools.actions import ActionSpace
from guiagent.tools.frame import Frame, ScreenSpace
from guiagent.tools.runfiles import RunFileError, RunFileMissing, read_run_text
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

if TYPE_CHECKING:
    from PIL.Image import Image

SCHEMA_VERSION = 1
TRAJECTORY_FILE = "trajectory.json"

# How a run ended. "running" is only ever seen in files of a run that is still going or
# was killed before it could write its ending.
Status = Literal[
    "running", "success", "failure", "max_steps", "parse_errors", "stalled", "interrupted", "budget",
    "device_lost", "display_lost", "env_error", "model_error", "error",
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
    prompt: dict = Field(default_factory=dict, description="summary: messages, images, user text")
    raw_text: str | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model_timings: dict[str, Seconds] = Field(default_factory=dict)
    durations: dict[str, Seconds] = Field(default_factory=dict, description="seconds: capture, prompt, infer, parse, execute, settle")
    feedback: list[str] = Field(default_factory=list, description="messages fed back to the model at the next step")
    error: str | None = None


class RunMeta(_Record):
    instruction: str
    env: str
    env_info: dict = Field(default_factory=dict)
    model: str
    space: ActionSpace
    screen: ScreenSpace | None = None
    model_size: tuple[PositiveInt, PositiveInt] | None = None
    min_pixels: PositiveInt
    max_pixels: PositiveInt
    history: str = "text"
    max_steps: int = Field(ge=0, le=1_000_000)
    dry_run: bool = False
    versions: dict[str, str] = Field(default_factory=dict)
    started_at: Timestamp = Field(default_factory=time.time)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("history")
    @classmethod
    def _history(cls, v: str) -> str:
        parse_policy(v)  # 'text' or 'images:K'; ValueError names the policy
        return v


class Trajectory(_Record):
    schema_version: int = SCHEMA_VERSION
    meta: RunMeta
    steps: list[StepRecord] = Field(default_factory=list)
    status: Status = "running"
    reason: str | None = None
    answer: str | None = None
    ended_at: Timestamp | None = None

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
        data = json.loads(read_run_text(file.parent, file.name))
    except RunFileMissing:
        raise TrajectoryError(f"{file}: not found; expected a run directory written by guiagent") from None
    except RunFileError as exc:
        raise TrajectoryError(str(exc)) from None
    except (ValueError, RecursionError) as exc:  # bad JSON, a 5000-digit integer, 100,000 nested lists
        raise TrajectoryError(f"{file}: unreadable ({type(exc).__name__}: {exc})") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise TrajectoryError(f"{file}: schema_version {version!r} is not supported (this guiagent reads {SCHEMA_VERSION})")
    try:
        return Trajectory.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise TrajectoryError(f"{file}: field {loc}: {err['msg']}") from None


def compare_actions(a: Trajectory, b: Trajectory) -> list[str]:
    """Differences between the executed screen actions of two trajectories, one line per differing step."""
    out = []
    for i in range(max(len(a.steps), len(b.steps))):
        x = [r.screen_action for r in a.steps[i].actions] if i < len(a.steps) else None
        y = [r.screen_action for r in b.steps[i].actions] if i < len(b.steps) else None
        if x != y:
            out.append(f"step {i + 1}: recorded {json.dumps(x)} replayed {json.dumps(y)}")
    return out


class Recorder:
    """Writes a trajectory step by step, atomically, off the loop's hot path."""

    def __init__(self, out_dir: str | Path, meta: RunMeta) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.traj = Trajectory(meta=meta)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self._lock = threading.Lock()
        self._pending: list[Future] = []
        self._submit(self._write_json, self._snapshot())

    @property
    def path(self) -> Path:
        return self.dir / TRAJECTORY_FILE

    def add_step(self, step: StepRecord, screenshot: Image | None) -> None:
        """Record a finished step; the PNG and the JSON are written in the background, in that order."""
        if screenshot is not None:
            step.screenshot = f"step_{step.index:03d}.png"
            self._submit(screenshot.save, self.dir / step.screenshot, compress_level=1)
        with self._lock:
            self.traj.steps.append(step)
        self._submit(self._write_json, self._snapshot())

    def finish(self, status: Status, reason: str | None = None, answer: str | None = None) -> Trajectory:
        """Write the ending and wait until everything is on disk."""
        with self._lock:
            self.traj.status = status
            self.traj.reason = reason
            self.traj.answer = answer
            self.traj.ended_at = time.time()
        self._submit(self._write_json, self._snapshot())
        self.flush()
        self._pool.shutdown(wait=True)
        return self.traj

    def flush(self) -> None:
        for f in list(self._pending):
            f.result()
        self._pending.clear()

    def _snapshot(self) -> str:
        with self._lock:
            return self.traj.model_dump_json(indent=1)

    def _submit(self, fn, *args, **kwargs) -> None:
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(fn, *args, **kwargs))

    def _write_json(self, text: str) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
