"""The oracle model: ground truth in, Qwen-format tool calls out, no weights.

For the built-in suites only. At each step it asks the task for the right next action
in SCREEN coordinates (MiniWoB: solvers that read the page's DOM rectangles; simphone:
the widget rectangles of ``uiautomator dump`` over adb; desktop: rectangles the
shipped apps publish, and the task's own plan), maps it to model coordinates with
``frame.to_model`` and writes it as the model would, with the dialect's
``format_call``. The reply then goes through the same parser, Frame, guard, env and
evaluator as a real model's, so the whole pipeline is exercised.

When the ground truth cannot be read (a widget not found), the oracle gives up with
``terminate(failure)``, so the task counts as a failure rather than being hidden as
an error.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from guiagent.model.base import Completion, Message, Model, ModelError, RequestContext
from guiagent.tools.actions import Terminate, action_from_dict

if TYPE_CHECKING:
    from guiagent.harness.sandbox import Sandbox
    from guiagent.harness.tasks import Task
    from guiagent.tools.actions import Action, ActionSpace

ORACLE_SPEC = "oracle"


class OracleModel(Model):
    """Shared by all workers; the runner `assign`s each worker's env to its current task."""

    name = "oracle"
    spec = ORACLE_SPEC

    def __init__(self) -> None:
        super().__init__()
        self._assigned: dict[int, tuple[Task, Sandbox]] = {}
        self._lock = threading.Lock()

    def assign(self, env: Any, task: Task, sandbox: Sandbox) -> None:
        with self._lock:
            self._assigned[id(env)] = (task, sandbox)

    def release(self, env: Any) -> None:
        with self._lock:
            self._assigned.pop(id(env), None)

    def generate(self, messages: list[Message], context: RequestContext | None = None) -> Completion:
        if context is None or context.env is None or context.frame is None:
            raise ModelError("the oracle needs the live env and frame (run it through `guiagent bench`)")
        with self._lock:
            entry = self._assigned.get(id(context.env))
        if entry is None:
            raise ModelError("the oracle has no task for this env (only `guiagent bench` can drive it)")
        task, sandbox = entry
        # Render the prompt as a real backend would: the chat template must accept every turn.
        self.dialect.render(messages)
        note = ""
        try:
            action = task.oracle_action(sandbox, context.step)
        except Exception as exc:  # noqa: BLE001 - any ground-truth failure ends the episode as a failure
            action, note = Terminate(status="failure"), f"oracle: {type(exc).__name__}: {exc}\n"
        if action is None:
            action = Terminate(status="success")
        try:
            model_action = context.frame.action_to_model(action)
        except ValueError as exc:  # OutOfFrame: the ground truth lies off screen
            model_action, note = Terminate(status="failure"), f"oracle: {exc}\n"
        return Completion(text=note + self.dialect.format_call(cast("ActionSpace", context.space), model_action))


def plan_action(plan: list[dict], sandbox: Sandbox, step: int, params: dict[str, Any]) -> Action | None:
    """Step `step` (1-based) of a ground-truth plan; None after the last entry.

    An entry is an action of the env's tool in screen coordinates, e.g.
    ``{"action": "type", "text": "{name}"}`` (``{...}`` filled from the task params),
    with ``"target": {...}`` instead of a coordinate to place it on a widget the
    sandbox can locate (desktop: ``{"app", "widget"}``; phone: ``{"text"}`` / ``{"id"}``).
    """
    if step > len(plan):
        return None
    entry = dict(plan[step - 1])
    target = entry.pop("target", None)
    target2 = entry.pop("target2", None)
    if target is not None:
        entry["coordinate"] = list(sandbox.locate(_fill(target, params)))
    if target2 is not None:
        entry["coordinate2"] = list(sandbox.locate(_fill(target2, params)))
    return action_from_dict(sandbox.env.space, _fill(entry, params))


def _fill(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, str) and params and "{" in value:
        return value.format(**params)
    if isinstance(value, dict):
        return {k: _fill(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, params) for v in value]
    return value


__all__ = ["ORACLE_SPEC", "OracleModel", "plan_action"]
