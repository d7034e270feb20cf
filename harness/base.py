"""The harness's shared vocabulary, at the bottom of its imports: what a task is, what it runs on, how it ends.

- `Task`: one task instance (id, instruction at setup, env kind, step budget, tags; the first tag, or
  `domain`, is what summaries group by). The task formats subclass it: native files
  (`harness.native`), OSWorld JSON (`harness.osworld`), AndroidWorld-style classes
  (`harness.androidworld`). `InvalidTask` stands in for a file that could not be loaded.
- `Sandbox`: what a worker owns for one env kind, the env plus the side channels setup steps,
  getters and the oracle use (`run`, `launch`, `shell`, `host_path`, `locate`, `window_action`).
  The sandboxes themselves are in `harness.sandboxes`.
- `Outcome`: a task's score and what the evaluator saw; the errors that end a task
  (`TaskFileError`, `TaskSkip`, `InfraError`); `SuiteConfig`, what a format's loader is told.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from guiagent.agent.loop import Result
    from guiagent.envs.base import Env
    from guiagent.tools.actions import Action

EnvKind = Literal["miniwob", "desktop", "android"]
ENV_KINDS: tuple[str, ...] = ("miniwob", "desktop", "android")
SUITES_DIR = Path(__file__).parent / "suites"
DEFAULT_BASE_SEED = 30  # AndroidWorld's run.py --task_random_seed

# How the agent's ending maps to OSWorld's last action, which `infeasible` tasks (and the FAIL rule of
# every other task) score on. OSWorld's own Qwen2.5-VL agent (mm_agents/qwen25vl_agent.py) turns every
# `terminate`, whatever its status, into DONE: it never answers FAIL, so it scores 0 on every infeasible
# task and is never zeroed for giving up on a feasible one.
INFEASIBLE_MAPPINGS: dict[str, str] = {
    "guiagent": "terminate(status=failure) -> FAIL, terminate(status=success) -> DONE",
    "osworld": "every terminate -> DONE (OSWorld's Qwen2.5-VL agent; FAIL is never sent)",
}
DEFAULT_INFEASIBLE_MAPPING = "guiagent"


class TaskFileError(ValueError):
    """A task file that cannot be used; the message names the file and the field."""


class TaskSkip(Exception):  # noqa: N818 - a signal, not a failure
    """The task needs something this harness does not support; it is skipped with this reason."""


class InfraError(Exception):
    """The environment failed (did not start, device lost): an error, never an agent failure."""


@dataclass
class Outcome:
    """A task's score in [0, 1] and what the evaluator saw."""

    score: float
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.score = float(min(1.0, max(0.0, self.score)))


# ---------------------------------------------------------------------- sandboxes


def confine(path: Path, root: Path, what: str) -> Path:
    """`path` with symlinks resolved, when that lies inside `root`; else TaskSkip naming `what`.

    Task files are untrusted: every file one names to write, read or copy must stay in the folder the
    harness gave it (the task's home, its scratch folder, the folder of the task file itself).
    """
    resolved, inside = Path(path).resolve(), Path(root).resolve()
    if resolved != inside and not resolved.is_relative_to(inside):
        raise TaskSkip(f"{what} {path} is outside {inside}: task files may only use their own folders")
    return resolved



@dataclass
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class Sandbox:
    """Base class: one env of one kind, owned by one worker, reused across its tasks."""

    kind: str = "none"
    env: Env
    env_spec: str = ""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.task_id: str | None = None
        self.scratch = self.root / "scratch"

    def prepare(self, task_id: str) -> None:
        """Fresh per-task state (called before setup)."""
        self.task_id = task_id
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir(parents=True)

    def cleanup(self) -> None:
        """Undo what the task started (called after evaluation, and before a retry)."""

    def alive(self) -> bool:
        return True

    def kill(self) -> None:
        """Make a hung env fail fast (the runner's watchdog calls this from another thread)."""
        self.close()

    def close(self) -> None:
        env = getattr(self, "env", None)  # unset when the constructor failed before the env started
        if env is not None:
            with contextlib.suppress(Exception):
                env.close()

    # ---- side channels; a sandbox that lacks one makes the task skip

    def run(self, command: list[str] | str, *, shell: bool = False, timeout: float = 120.0) -> CommandResult:
        raise TaskSkip(f"{self.kind} tasks cannot run commands")

    def launch(self, command: list[str] | str, *, shell: bool = False) -> None:
        raise TaskSkip(f"{self.kind} tasks cannot launch programs")

    def shell(self, command: str, timeout: float = 30.0) -> str:
        raise TaskSkip(f"{self.kind} tasks have no adb shell")

    def host_path(self, path: str) -> Path:
        raise TaskSkip(f"{self.kind} tasks have no files")

    def task_path(self, host: Path) -> str:
        """Where the file at `host` is for the task's own programs."""
        return str(host)

    def locate(self, target: dict[str, Any]) -> tuple[int, int]:
        raise TaskSkip(f"the oracle cannot locate {target} on a {self.kind} env")

    def window_action(self, action: str, name: str, *, strict: bool = False, by_class: bool = False) -> None:
        raise TaskSkip(f"{self.kind} tasks have no windows")


# ---------------------------------------------------------------------- tasks


class Task(ABC):
    """One task instance. Subclasses implement setup / evaluate; teardown and the oracle are optional."""

    id: str  # unique in the suite run (name + instance suffix)
    name: str  # the task (template) name
    domain: str
    tags: list[str]
    env_kind: str
    max_steps: int
    answer: bool = False  # information retrieval: the agent may end with answer(text)
    seed: int | None = None
    source: str = ""
    skip_reason: str | None = None  # known before running: unsupported feature
    runs_commands: bool = False  # its steps or getters run shell commands (isolated, or --unsafe-host)
    infeasible_mapping: str = DEFAULT_INFEASIBLE_MAPPING  # a key of INFEASIBLE_MAPPINGS; the runner sets it

    @abstractmethod
    def setup(self, sandbox: Sandbox) -> str:
        """Prepare the env; returns the instruction. Raises TaskSkip or InfraError."""

    @abstractmethod
    def evaluate(self, sandbox: Sandbox, result: Result) -> Outcome:
        """Score the finished episode."""

    def teardown(self, sandbox: Sandbox) -> None:  # noqa: B027 - optional hook, nothing to undo by default
        """Undo what setup did (apps closed, state restored); default: nothing."""

    @property
    def has_oracle(self) -> bool:
        return False

    @property
    def affinity(self) -> str | None:
        """Tasks with the same key reuse a worker's warm state (a loaded page); None: no preference."""
        return None

    def oracle_action(self, sandbox: Sandbox, step: int) -> Action | None:
        """The ground-truth next action in SCREEN coordinates; None when the task is done."""
        raise TaskSkip("the oracle has no ground truth for this task")

    def info(self) -> dict[str, Any]:
        """What results.json records about the task."""
        return {"id": self.id, "name": self.name, "domain": self.domain, "tags": list(self.tags),
                "env": self.env_kind, "max_steps": self.max_steps, "seed": self.seed, "source": self.source}


class InvalidTask(Task):
    """Stands in for a file that could not be loaded; the runner reports it and moves on."""

    def __init__(self, source: str, message: str, task_id: str | None = None) -> None:
        self.source = source
        self.message = message
        self.id = task_id or safe_id(Path(source).stem)
        self.name = self.id
        self.domain = "invalid"
        self.tags = []
        self.env_kind = "none"
        self.max_steps = 0

    def setup(self, sandbox: Sandbox) -> str:  # pragma: no cover - the runner never sets up an invalid task
        raise TaskFileError(self.message)

    def evaluate(self, sandbox: Sandbox, result: Result) -> Outcome:  # pragma: no cover
        raise TaskFileError(self.message)


@dataclass
class SuiteConfig:
    """``suite.yaml`` in a suite folder (all optional); what each format's loader is told."""

    name: str
    description: str = ""
    tasks: list[str] = field(default_factory=lambda: ["**/*.json", "**/*.yaml", "**/*.yml", "**/*.py"])
    instances: int = 1
    base_seed: int = DEFAULT_BASE_SEED
    max_steps: int | None = None
    domain: str | None = None


# ---------------------------------------------------------------------- seeds and names


def instance_seed(base: int, name: str, index: int) -> int:
    """AndroidWorld's per-instance seed (``suite_utils.create_suite``): the sha256 of
    ``f"{base}_{name}_{index}"`` read as one big integer, modulo 2**32 (its low 32 bits)."""
    return int(hashlib.sha256(f"{base}_{name}_{index}".encode()).hexdigest(), 16) % (2**32)


def choose_params(params: dict[str, list[Any]], seed: int) -> dict[str, Any]:
    """One value per parameter, chosen reproducibly from `seed` (keys in sorted order)."""
    rng = random.Random(seed)
    return {k: rng.choice(params[k]) for k in sorted(params)}


def safe_id(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.@+-]+", "_", text).strip("_") or "task"
    return s[:128]


def domain_of(file: Path, root: Path) -> str | None:
    """OSWorld keeps tasks in examples/<domain>/<id>.json: the parent folder under the suite root."""
    try:
        parts = file.relative_to(root).parts
    except ValueError:
        return None
    return parts[-2] if len(parts) >= 2 and parts[-2] not in ("examples", "tasks") else None


__all__ = [
    "DEFAULT_BASE_SEED", "DEFAULT_INFEASIBLE_MAPPING", "ENV_KINDS", "INFEASIBLE_MAPPINGS", "SUITES_DIR", "CommandResult", "EnvKind", "InfraError", "InvalidTask",
    "Outcome", "Sandbox", "SuiteConfig", "Task", "TaskFileError", "TaskSkip", "choose_params", "domain_of",
    "instance_seed", "safe_id",
]
