"""OSWorld task JSON, loaded as is.

A task file (``evaluation_examples/examples/<domain>/<uuid>.json``) has ``id``,
``instruction``, ``config`` (setup steps), ``evaluator`` and more keys this loader
keeps but does not need (``snapshot``, ``source``, ``related_apps``, ``proxy``, ...).
It runs on the local desktop sandbox: an Xvfb display of this machine, not a VM, so
OSWorld's ``/home/user`` paths map into a fresh per-task home folder. The setup steps
are `harness.steps` (shared with native tasks); a step it lacks makes the task skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.harness.base import Outcome, Sandbox, SuiteConfig, Task, TaskFileError, domain_of, safe_id
from guiagent.harness.evaluators import (
    evaluate,
    needs_problem,
    path_problem,
    runs_commands,
    unsupported_evaluator,
)
from guiagent.harness.plan import plan_action
from guiagent.harness.steps import run_steps, unsupported_steps

if TYPE_CHECKING:
    from guiagent.agent.loop import Result
    from guiagent.tools.actions import Action

DEFAULT_MAX_STEPS = 15  # OSWorld run.py --max_steps


class OSWorldTask(Task):
    """An OSWorld task JSON on the desktop sandbox."""

    def __init__(self, data: dict[str, Any], source: str, domain: str) -> None:
        self.data = data
        self.source = source
        self.id = safe_id(str(data["id"]))
        self.name = self.id
        self.domain = domain
        self.tags = [domain, *[str(a) for a in data.get("related_apps") or []]]
        self.env_kind = "desktop"
        self.max_steps = DEFAULT_MAX_STEPS
        self.instruction = str(data["instruction"])
        self.config = list(data.get("config") or [])
        self.evaluator = dict(data["evaluator"])
        self.oracle_plan = data.get("guiagent_oracle")  # our extension: the oracle's ground truth
        self.skip_reason = unsupported_steps(self.config, "desktop") or unsupported_evaluator(
            self.evaluator, "desktop") or path_problem(self.config, self.evaluator, Path(source).parent) or \
            needs_problem(self.config, self.evaluator)
        self.runs_commands = runs_commands(self.config, self.evaluator)

    def info(self) -> dict[str, Any]:
        funcs = self.evaluator.get("func")
        return {**super().info(), "format": "osworld", "infeasible": funcs == "infeasible" or funcs == ["infeasible"]}

    def setup(self, sandbox: Sandbox) -> str:
        run_steps(sandbox, self.config, self, self.source)
        return self.instruction

    def evaluate(self, sandbox: Sandbox, result: Result) -> Outcome:
        return evaluate(sandbox, self.evaluator, result, self)

    def teardown(self, sandbox: Sandbox) -> None:
        sandbox.cleanup()

    @property
    def has_oracle(self) -> bool:
        return self.oracle_plan is not None

    def oracle_action(self, sandbox: Sandbox, step: int) -> Action | None:
        if self.oracle_plan is None:
            return super().oracle_action(sandbox, step)
        return plan_action(self.oracle_plan, sandbox, step, {})


def load_osworld_task(data: dict[str, Any], file: Path, root: Path, config: SuiteConfig) -> OSWorldTask:
    """Validate the keys the harness needs; everything else is kept as is."""
    for key, kind in (("id", (str, int)), ("instruction", str), ("evaluator", dict)):
        if key not in data:
            raise TaskFileError(f"{file}: field {key}: missing (an OSWorld task needs id, instruction, evaluator)")
        if not isinstance(data[key], kind):
            raise TaskFileError(f"{file}: field {key}: expected {getattr(kind, '__name__', 'a string')}")
    config_steps = data.get("config") or []
    if not isinstance(config_steps, list):
        raise TaskFileError(f"{file}: field config: expected a list of steps")
    for i, step in enumerate(config_steps + list(data["evaluator"].get("postconfig") or [])):
        if not isinstance(step, dict) or not isinstance(step.get("type"), str):
            raise TaskFileError(f"{file}: field config.{i}: expected {{\"type\": ..., \"parameters\": {{...}}}}")
        if not isinstance(step.get("parameters", {}), dict):
            raise TaskFileError(f"{file}: field config.{i}.parameters: expected a mapping")
    if "func" not in data["evaluator"]:
        raise TaskFileError(f"{file}: field evaluator.func: missing")
    domain = config.domain or domain_of(file, root) or str(data.get("snapshot") or config.name)
    task = OSWorldTask(data, str(file), domain)
    if config.max_steps:
        task.max_steps = config.max_steps
    return task


__all__ = ["DEFAULT_MAX_STEPS", "OSWorldTask", "load_osworld_task"]
