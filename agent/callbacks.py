"""Step hooks: budget, recording, progress output and the like plug in here, not into the loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guiagent.agent.trajectory import ActionRecord, Result, RunMeta, StepRecord
    from guiagent.model.base import Completion


class Callback:
    """Override any hook. Hooks run on the loop's thread; keep them cheap."""

    def on_run_start(self, meta: RunMeta) -> None: ...

    def on_step_start(self, index: int) -> None: ...

    def on_completion(self, index: int, completion: Completion) -> None: ...

    def on_action(self, index: int, record: ActionRecord) -> None: ...

    def on_step_end(self, step: StepRecord) -> None: ...

    def on_run_end(self, result: Result) -> None: ...


class FunctionCallback(Callback):
    """Wraps a plain ``fn(step)`` as an ``on_step_end`` hook."""

    def __init__(self, fn: Callable[[StepRecord], object]) -> None:
        self.fn = fn

    def on_step_end(self, step: StepRecord) -> None:
        self.fn(step)
