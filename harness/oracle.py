"""The oracle model: ground truth in, Qwen-format tool calls out, no weights.

For the built-in suites only. At each step it asks the ground truth the runner
`assign`ed to the worker's env (the task's `oracle_action`) for the right next action
in SCREEN coordinates (MiniWoB: solvers that read the page's DOM rectangles; simphone:
the widget rectangles of ``uiautomator dump`` over adb; desktop: rectangles the
shipped apps publish, and the task's own plan, `harness.plan`), maps it to model coordinates with
``frame.to_model`` and writes it as the model would, with the dialect's
``format_call``. The reply then goes through the same parser, Frame, guard, env and
evaluator as a real model's, so the whole pipeline is exercised.

When the ground truth cannot be read (a widget not found), the oracle gives up with
``terminate(failure)``, so the task counts as a failure rather than being hidden as
an error.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, cast

from guiagent.model.base import Completion, GroundTruth, Message, Model, ModelError, RequestContext
from guiagent.tools.actions import Terminate

if TYPE_CHECKING:
    from guiagent.tools.actions import ActionSpace

ORACLE_SPEC = "oracle"


class OracleModel(Model):
    """Shared by all workers; the runner `assign`s each worker's env its current task's ground truth."""

    name = "oracle"
    spec = ORACLE_SPEC

    def __init__(self) -> None:
        super().__init__()
        self._assigned: dict[int, GroundTruth] = {}
        self._lock = threading.Lock()

    def assign(self, env: object, truth: GroundTruth) -> None:
        with self._lock:
            self._assigned[id(env)] = truth

    def release(self, env: object) -> None:
        with self._lock:
            self._assigned.pop(id(env), None)

    def generate(self, messages: list[Message], context: RequestContext | None = None) -> Completion:
        if context is None or context.env is None or context.frame is None:
            raise ModelError("the oracle needs the live env and frame (run it through `guiagent bench`)")
        with self._lock:
            truth = self._assigned.get(id(context.env))
        if truth is None:
            raise ModelError("the oracle has no task for this env (only `guiagent bench` can drive it)")
        # Render the prompt as a real backend would: the chat template must accept every turn.
        self.dialect.render(messages)
        note = ""
        try:
            action = truth(context.step)
        except Exception as exc:  # noqa: BLE001 - any ground-truth failure ends the episode as a failure
            action, note = Terminate(status="failure"), f"oracle: {type(exc).__name__}: {exc}\n"
        if action is None:
            action = Terminate(status="success")
        try:
            model_action = context.frame.action_to_model(action)
        except ValueError as exc:  # OutOfFrame: the ground truth lies off screen
            model_action, note = Terminate(status="failure"), f"oracle: {exc}\n"
        return Completion(text=note + self.dialect.format_call(cast("ActionSpace", context.space), model_action))


__all__ = ["ORACLE_SPEC", "OracleModel"]
