"""The task model and the suite loader.

A task instance has an id, an instruction (fixed, a goal template filled from seeded
parameters, or read from the env at setup as MiniWoB's utterance), the env kind it
needs, setup steps, evaluators, a step budget and tags (the first tag, or `domain`, is
the domain summaries group by). Three sources give tasks:

- native task files (YAML or JSON, validated with pydantic; `NativeSpec` below);
- OSWorld task JSON, loaded as is (`harness.osworld`);
- AndroidWorld-style Python task classes (`harness.androidworld`).

A file that cannot be read or validated becomes an `InvalidTask`: it is reported with
a one-line message naming the file and the field, and the rest of the suite still runs.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from guiagent.agent.loop import Result
    from guiagent.harness.sandbox import Sandbox
    from guiagent.tools.actions import Action

EnvKind = Literal["miniwob", "desktop", "android"]
ENV_KINDS: tuple[str, ...] = ("miniwob", "desktop", "android")
SUITES_DIR = Path(__file__).parent / "suites"
BUILTIN_SUITES = ("miniwob", "simphone", "desktop")
DEFAULT_BASE_SEED = 30  # AndroidWorld's run.py --task_random_seed
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")


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
    detail: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.score = float(min(1.0, max(0.0, self.score)))


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

    def info(self) -> dict:
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


# ---------------------------------------------------------------------- seeds


def instance_seed(base: int, name: str, index: int) -> int:
    """AndroidWorld's per-instance seed: a hash of (base seed, task name, instance index)."""
    digest = hashlib.sha256(f"{base}_{name}_{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def choose_params(params: dict[str, list[Any]], seed: int) -> dict[str, Any]:
    """One value per parameter, chosen reproducibly from `seed` (keys in sorted order)."""
    rng = random.Random(seed)
    return {k: rng.choice(params[k]) for k in sorted(params)}


def safe_id(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.@+-]+", "_", text).strip("_") or "task"
    return s[:128]


# ---------------------------------------------------------------------- native task files


class StepSpec(BaseModel):
    """One setup / postconfig step, in OSWorld's shape: ``{"type": T, "parameters": {...}}``."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)


class EvaluatorSpec(BaseModel):
    """OSWorld's evaluator block: metric(s), getters, options, conj, postconfig."""

    model_config = ConfigDict(extra="allow")
    func: str | list[str]
    result: dict | list[dict] | None = None
    expected: dict | list[dict] | None = None
    options: dict | list[dict] | None = None
    conj: Literal["and", "or"] = "and"
    postconfig: list[StepSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _lists_match(self) -> EvaluatorSpec:
        if isinstance(self.func, list):
            n = len(self.func)
            if n == 0:
                raise ValueError("func must name at least one metric")
            for name in ("result", "expected", "options"):
                value = getattr(self, name)
                if isinstance(value, list) and len(value) != n:
                    raise ValueError(f"{name} has {len(value)} entries but func has {n}")
        return self


class NativeSpec(BaseModel):
    """A guiagent task file (YAML or JSON). Example::

        id: settings-wifi
        env: android
        goal: "Turn wifi {state}."
        params: {state: ["on", "off"]}
        setup: [{type: adb_shell, parameters: {command: "settings put global wifi_on 0"}}]
        evaluator:
          func: exact_match
          result: {type: adb_shell, command: "settings get global wifi_on"}
          expected: {type: rule, rules: {expected: "1"}}
        max_steps: 10
        tags: [settings]
    """

    model_config = ConfigDict(extra="forbid")
    id: str
    env: EnvKind
    instruction: str | None = None
    goal: str | None = Field(default=None, description="template; {name} is filled from params")
    params: dict[str, list[Any]] = Field(default_factory=dict, description="choices per template parameter")
    domain: str | None = None
    tags: list[str] = Field(default_factory=list)
    instances: int | None = Field(default=None, ge=1, le=1000, description="seeded instances (default: the suite's)")
    setup: list[StepSpec] = Field(default_factory=list)
    evaluator: EvaluatorSpec
    max_steps: int = Field(default=15, ge=1, le=1000)
    answer: bool = False
    oracle: list[dict] | None = Field(default=None, description="ground-truth plan for the oracle model")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("must be 1-128 characters of letters, digits and _ . @ + -, starting with a letter "
                             "or digit")
        return v

    @field_validator("params")
    @classmethod
    def _choices(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for k, choices in v.items():
            if not choices:
                raise ValueError(f"parameter {k!r} has no choices")
        return v

    @model_validator(mode="after")
    def _instruction(self) -> NativeSpec:
        if self.instruction and self.goal:
            raise ValueError("give either instruction or goal, not both")
        if not self.instruction and not self.goal and self.env != "miniwob":
            raise ValueError("needs an instruction (or a goal template); only miniwob tasks take the page's own")
        if self.goal:
            names = set(re.findall(r"{(\w+)[^}]*}", self.goal))
            missing = names - set(self.params)
            if missing:
                raise ValueError(f"goal uses {{{sorted(missing)[0]}}} but params does not define it")
        return self


class NativeTask(Task):
    """A task from a native file; steps and evaluators are shared with the OSWorld format."""

    def __init__(self, spec: NativeSpec, source: str, seed: int | None, index: int | None,
                 default_domain: str) -> None:
        self.spec = spec
        self.source = source
        self.seed = seed
        self.name = spec.id
        self.id = spec.id if index is None else f"{spec.id}_{index}"
        self.domain = spec.domain or (spec.tags[0] if spec.tags else default_domain)
        self.tags = list(spec.tags)
        self.env_kind = spec.env
        self.max_steps = spec.max_steps
        self.answer = spec.answer
        self.params = choose_params(spec.params, seed or 0) if spec.params else {}
        from guiagent.harness.evaluators import unsupported_evaluator
        from guiagent.harness.osworld import unsupported_steps

        self.skip_reason = unsupported_steps(spec.setup, spec.env) or unsupported_evaluator(
            spec.evaluator.model_dump(), spec.env)

    @property
    def affinity(self) -> str | None:
        pages = [st.parameters.get("task") for st in self.spec.setup if st.type == "miniwob"]
        return f"miniwob:{pages[0]}" if pages else None

    def instruction(self) -> str | None:
        if self.spec.goal:
            return self.spec.goal.format(**self.params)
        return self.spec.instruction

    def setup(self, sandbox: Sandbox) -> str:
        from guiagent.harness.osworld import run_steps

        out = run_steps(sandbox, [s.model_dump() for s in self.spec.setup], self, self.source)
        text = self.instruction() or out.get("instruction")
        if not text:
            raise TaskSkip("the task gave no instruction (no instruction/goal, and the env reported none)")
        return text

    def evaluate(self, sandbox: Sandbox, result: Result) -> Outcome:
        from guiagent.harness.evaluators import evaluate

        return evaluate(sandbox, self.spec.evaluator.model_dump(), result, self)

    def teardown(self, sandbox: Sandbox) -> None:
        sandbox.cleanup()

    @property
    def has_oracle(self) -> bool:
        return self.spec.oracle is not None or self.env_kind == "miniwob"

    def oracle_action(self, sandbox: Sandbox, step: int) -> Action | None:
        if self.spec.oracle is not None:
            from guiagent.harness.oracle import plan_action

            return plan_action(self.spec.oracle, sandbox, step, self.params)
        if self.env_kind == "miniwob":
            from guiagent.harness.suites.miniwob.solvers import solve

            return solve(sandbox.env, step)
        return super().oracle_action(sandbox, step)


# ---------------------------------------------------------------------- loading


@dataclass
class SuiteConfig:
    """``suite.yaml`` in a suite folder (all optional)."""

    name: str
    description: str = ""
    tasks: list[str] = field(default_factory=lambda: ["**/*.json", "**/*.yaml", "**/*.yml", "**/*.py"])
    instances: int = 1
    base_seed: int = DEFAULT_BASE_SEED
    max_steps: int | None = None
    domain: str | None = None


@dataclass
class Suite:
    name: str
    root: Path
    tasks: list[Task]
    config: SuiteConfig

    def select(self, ids: list[str]) -> list[Task]:
        """Tasks whose instance id or task name is in `ids`; unknown ids are a TaskFileError."""
        wanted = set(ids)
        chosen = [t for t in self.tasks if t.id in wanted or t.name in wanted]
        known = {t.id for t in self.tasks} | {t.name for t in self.tasks}
        unknown = sorted(wanted - known)
        if unknown:
            sample = ", ".join(sorted({t.name for t in self.tasks})[:8])
            raise TaskFileError(f"no task {unknown[0]!r} in suite {self.name} (tasks: {sample}"
                                f"{', ...' if len({t.name for t in self.tasks}) > 8 else ''})")
        return chosen


def suite_path(spec: str) -> Path:
    """A built-in suite name or a path -> the folder or file to load."""
    if spec in BUILTIN_SUITES:
        return SUITES_DIR / spec
    path = Path(spec).expanduser()
    if not path.exists():
        raise TaskFileError(f"{spec}: no such suite or file (built-in suites: {', '.join(BUILTIN_SUITES)})")
    return path


def load_suite(spec: str, *, instances: int | None = None, max_steps: int | None = None) -> Suite:
    """Load a built-in suite, a folder of task files or one task file.

    `instances` overrides the number of seeded instances per templated task and
    `max_steps` every task's step budget. Bad files become `InvalidTask`s.
    """
    path = suite_path(spec)
    root = path if path.is_dir() else path.parent
    config = _suite_config(root, spec if spec in BUILTIN_SUITES else path.stem if path.is_file() else path.name)
    if instances is not None:
        config.instances = instances
    files = _index_files(path) if path.is_file() and path.suffix == ".json" else None
    if files is not None:
        root = path.parent / "examples"
    else:
        files = _task_files(path, config)
    tasks: list[Task] = []
    for f in files:
        tasks.extend(load_file(f, root, config))
    if max_steps is not None:
        for t in tasks:
            if not isinstance(t, InvalidTask):
                t.max_steps = max_steps
    _dedupe_ids(tasks)
    return Suite(name=config.name, root=root, tasks=tasks, config=config)


def is_osworld_index(data: Any) -> bool:
    """OSWorld's test_all.json / test_small.json: ``{domain: [task id, ...]}``."""
    return isinstance(data, dict) and bool(data) and all(
        isinstance(v, list) and all(isinstance(i, str) for i in v) for v in data.values())


def _index_files(path: Path) -> list[Path] | None:
    """The task files an OSWorld index lists (``examples/<domain>/<id>.json`` next to it); None if not an index."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not is_osworld_index(data):
        return None
    examples = path.parent / "examples"
    return [examples / domain / f"{task_id}.json" for domain, ids in data.items() for task_id in ids]


def _suite_config(root: Path, default_name: str) -> SuiteConfig:
    cfg = SuiteConfig(name=default_name)
    file = root / "suite.yaml"
    if not file.is_file():
        return cfg
    data = _read_data(file)
    if not isinstance(data, dict):
        raise TaskFileError(f"{file}: expected a mapping of suite settings")
    for key, value in data.items():
        if not hasattr(cfg, key):
            raise TaskFileError(f"{file}: field {key}: unknown suite setting "
                                "(name, description, tasks, instances, base_seed, max_steps, domain)")
        setattr(cfg, key, value)
    return cfg


def _task_files(path: Path, config: SuiteConfig) -> list[Path]:
    if path.is_file():
        return [path]
    seen: dict[Path, None] = {}
    for pattern in config.tasks:
        for f in sorted(path.glob(pattern)):
            if not f.is_file() or f.name in ("suite.yaml", "__init__.py") or f.name.startswith(("_", ".")):
                continue
            if any(part.startswith((".", "_")) for part in f.relative_to(path).parts[:-1]):
                continue
            seen.setdefault(f, None)
    return list(seen)


def _read_data(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError(f"{file}: unreadable ({exc})") from None
    if file.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskFileError(f"{file}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise TaskFileError(f"{file}: not valid YAML ({where}{getattr(exc, 'problem', None) or exc})") from None


def validation_message(file: Path | str, exc: ValidationError) -> str:
    """pydantic's first error as ``FILE: field a.b: message``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{file}: field {loc}: {msg}"


def load_file(file: Path, root: Path, config: SuiteConfig) -> list[Task]:
    """The task instances one file defines; a bad file gives one InvalidTask."""
    try:
        if file.suffix == ".py":
            from guiagent.harness.androidworld import load_module_tasks

            return load_module_tasks(file, root, config)
        if not file.is_file():
            raise TaskFileError(f"{file}: not found (listed in the OSWorld index)")
        data = _read_data(file)
        if is_osworld_index(data):
            return []  # an index inside a folder of examples: the examples themselves are loaded
        if isinstance(data, dict) and "env" in data:
            return _native_tasks(data, file, root, config)
        if isinstance(data, dict) and "tasks" in data and isinstance(data["tasks"], list):
            out: list[Task] = []
            for i, item in enumerate(data["tasks"]):
                if not isinstance(item, dict):
                    out.append(InvalidTask(str(file), f"{file}: field tasks.{i}: expected a mapping",
                                           f"{file.stem}_{i}"))
                    continue
                try:
                    out.extend(_native_tasks(item, file, root, config, where=f"tasks.{i}."))
                except TaskFileError as exc:
                    out.append(InvalidTask(str(file), str(exc), safe_id(str(item.get("id") or f"{file.stem}_{i}"))))
            return out
        if isinstance(data, dict) and "evaluator" in data:
            from guiagent.harness.osworld import load_osworld_task

            return [load_osworld_task(data, file, root, config)]
        raise TaskFileError(f"{file}: not a task file: a guiagent task needs 'env', an OSWorld task 'evaluator'")
    except TaskFileError as exc:
        return [InvalidTask(str(file), str(exc))]


def _native_tasks(data: dict, file: Path, root: Path, config: SuiteConfig, where: str = "") -> list[Task]:
    try:
        spec = NativeSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = where + (".".join(str(p) for p in err["loc"]) or "(top level)")
        raise TaskFileError(f"{file}: field {loc}: {err['msg'].removeprefix('Value error, ')}") from None
    domain = config.domain or domain_of(file, root) or config.name
    templated = bool(spec.params) or spec.env == "miniwob"
    n = spec.instances or (config.instances if templated else 1)
    if n == 1 and not templated:
        return [NativeTask(spec, str(file), None, None, domain)]
    return [NativeTask(spec, str(file), instance_seed(config.base_seed, spec.id, i), i, domain) for i in range(n)]


def domain_of(file: Path, root: Path) -> str | None:
    """OSWorld keeps tasks in examples/<domain>/<id>.json: the parent folder under the suite root."""
    try:
        parts = file.relative_to(root).parts
    except ValueError:
        return None
    return parts[-2] if len(parts) >= 2 and parts[-2] not in ("examples", "tasks") else None


def _dedupe_ids(tasks: list[Task]) -> None:
    seen: dict[str, int] = {}
    for t in tasks:
        n = seen.get(t.id, 0)
        seen[t.id] = n + 1
        if n:
            t.id = f"{t.id}~{n + 1}"
