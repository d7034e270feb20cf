"""Step hooks: budget, recording, progress output and the like plug in here, not into the loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guiagent.agent.trajectory import ActionRecord, Result, RunMeta, StepRecord
    from guiagent.model.base import Completion


class Callback:
    """Override any hook. Hooks run on the loop's thread (`on_tokens` excepted); keep them cheap."""

    wants_tokens: bool = False
    """True: the loop asks the model to stream its reply and calls `on_tokens` as tokens arrive. Backends
    stream only when some callback wants it, so a run nobody watches pays nothing for it."""

    def on_run_start(self, meta: RunMeta) -> None: ...

    def on_step_start(self, index: int) -> None: ...

    def on_tokens(self, index: int, count: int) -> None:
        """Step `index`'s reply has `count` tokens so far (only when `wants_tokens`; streaming backends only).

        Called while the model generates, possibly from the backend's own thread, between `on_step_start`
        and `on_completion`."""

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
