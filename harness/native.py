"""Native task files (YAML or JSON, validated with pydantic): `NativeSpec` and its `NativeTask`.

A file holds one task mapping (it has ``env``) or ``tasks: [...]``; setup steps and the
evaluator block take OSWorld's shapes, so both formats share `harness.steps` and
`harness.evaluators`. A templated task (``goal`` + ``params``, or any miniwob page) gets
the suite's number of seeded instances.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from guiagent.harness.base import (
    EnvKind,
    Outcome,
    Sandbox,
    SuiteConfig,
    Task,
    TaskFileError,
    TaskSkip,
    choose_params,
    domain_of,
    instance_seed,
)
from guiagent.harness.evaluators import (
    evaluate,
    needs_problem,
    path_problem,
    runs_commands,
    unsupported_evaluator,
)
from guiagent.harness.plan import plan_action
from guiagent.harness.steps import run_steps, unsupported_steps
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from guiagent.agent.loop import Result
    from guiagent.tools.actions import Action

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")


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
    """A task from a native file; steps and evaluators are shared with the OSWorld format (`harness.steps`,
    `harness.evaluators`)."""

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
        steps, evaluator = [s.model_dump() for s in spec.setup], spec.evaluator.model_dump()
        self.skip_reason = unsupported_steps(spec.setup, spec.env) or unsupported_evaluator(evaluator, spec.env) or \
            path_problem(steps, evaluator, Path(source).parent) or needs_problem(steps, evaluator)
        self.runs_commands = runs_commands(steps, evaluator)

    @property
    def affinity(self) -> str | None:
        pages = [st.parameters.get("task") for st in self.spec.setup if st.type == "miniwob"]
        return f"miniwob:{pages[0]}" if pages else None

    def instruction(self) -> str | None:
        if self.spec.goal:
            return self.spec.goal.format(**self.params)
        return self.spec.instruction

    def setup(self, sandbox: Sandbox) -> str:
        out = run_steps(sandbox, [s.model_dump() for s in self.spec.setup], self, self.source)
        text = self.instruction() or out.get("instruction")
        if not text:
            raise TaskSkip("the task gave no instruction (no instruction/goal, and the env reported none)")
        return text

    def evaluate(self, sandbox: Sandbox, result: Result) -> Outcome:
        return evaluate(sandbox, self.spec.evaluator.model_dump(), result, self)

    def teardown(self, sandbox: Sandbox) -> None:
        sandbox.cleanup()

    @property
    def has_oracle(self) -> bool:
        return self.spec.oracle is not None or self.env_kind == "miniwob"

    def oracle_action(self, sandbox: Sandbox, step: int) -> Action | None:
        if self.spec.oracle is not None:
            return plan_action(self.spec.oracle, sandbox, step, self.params)
        if self.env_kind == "miniwob":
            from guiagent.harness.suites.miniwob.solvers import solve

            return solve(sandbox.env, step)
        return super().oracle_action(sandbox, step)


def native_tasks(data: dict[str, Any], file: Path, root: Path, config: SuiteConfig, where: str = "") -> list[Task]:
    """The instances one native task mapping defines (`where` prefixes field names: ``tasks.3.``)."""
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


__all__ = ["EvaluatorSpec", "NativeSpec", "NativeTask", "StepSpec", "native_tasks"]
