"""The model interface: typed messages in, a `Completion` out.

Backends (``hf:``, ``openai:``, ``scripted:``, ``replay:``, ``oracle``) implement
`Model.generate`. The model family's conventions (prompt text, reply syntax, image
size) live in its `Dialect`, so every backend of the family shares them. The message
types are defined in `model.messages` (which dialects import) and re-exported here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from guiagent.model.image import PixelBudget
from guiagent.model.messages import (
    Completion,
    HistoryItem,
    ImagePart,
    Message,
    ParsedCall,
    ParseError,
    RequestContext,
    TextPart,
    Usage,
    parse_policy,
)

if TYPE_CHECKING:
    from guiagent.tools.actions import Action, ActionSpace

GroundTruth = Callable[[int], "Action | None"]
"""A harness task's ground truth for one episode: the right action at step N (1-based), in screen
coordinates, or None when the task is done."""


class TokenMeter:
    """Passes a reply's running token count to a `RequestContext.on_tokens` hook, throttled.

    A backend calls `update` as tokens arrive (as often as it likes) and `finish` at the end; the hook
    hears at most one count per `interval` seconds, plus the final one, so a fast decoder does not pay
    for a redraw per token.
    """

    def __init__(self, hook: Callable[[int], None], interval: float = 0.1) -> None:
        self.hook = hook
        self.interval = interval
        self.count = 0
        self._told = -1
        self._last = float("-inf")

    def update(self, count: int) -> None:
        """The reply has `count` tokens so far."""
        self.count = count
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._tell()

    def finish(self) -> None:
        """Generation ended: the hook hears the final count (once)."""
        self._tell()

    def _tell(self) -> None:
        if self.count != self._told:
            self._told = self.count
            self.hook(self.count)


class ModelError(Exception):
    """A backend failure the run cannot recover from (after its own retries)."""


class Dialect(Protocol):
    """A model family's conventions: tool rendering, prompt building, reply parsing, image size."""

    name: str
    factor: int
    """smart_resize factor: the vision patch size times the spatial merge (28 Qwen2.5-VL, 32 Qwen3-VL)."""

    def image_size(self, width: int, height: int, budget: PixelBudget) -> tuple[int, int]: ...

    def tool(
        self, space: ActionSpace, model_size: tuple[int, int], *, answer: bool = False
    ) -> dict[str, Any]: ...

    def messages(
        self,
        instruction: str,
        space: ActionSpace,
        image: ImagePart,
        history: list[HistoryItem],
        *,
        policy: str = "text",
        feedback: list[str] | None = None,
        answer: bool = False,
    ) -> list[Message]: ...

    def render(self, messages: list[Message], *, add_generation_prompt: bool = True) -> str: ...

    def parse(self, text: str, space: ActionSpace, *, answer: bool = False) -> list[ParsedCall]: ...

    def format_call(self, space: ActionSpace, action: Action) -> str: ...


class Model:
    """Base class of model backends.

    Subclasses implement `generate`. The pixel budget is set by the agent through
    `configure` before the first step; backends that resize or preprocess images read
    it from `self.budget`. Callers (the agent loop, the harness) use only the members
    declared here; `assign` / `release` matter only to ground-truth backends (the oracle).
    """

    name: str = "model"
    spec: str = ""
    """The spec that loads this backend again (``hf:PATH``, ``openai:URL``, ``oracle``), recorded in
    trajectories; empty: the backend's `name` stands for it."""

    def __init__(self, dialect: Dialect | str | None = None) -> None:
        """`dialect`: a dialect or its name (``qwen2.5-vl``, ``qwen3-vl``); None: the default (Qwen2.5-VL)."""
        from guiagent.model import dialects

        self.dialect: Dialect = dialects.get(dialect) if dialect is None or isinstance(dialect, str) else dialect
        self.budget = PixelBudget()

    def configure(self, budget: PixelBudget) -> None:
        """Adopt the agent's pixel budget (the one source of the model-image size)."""
        self.budget = budget

    def image_size(self, width: int, height: int) -> tuple[int, int]:
        """The size this model wants a `width` x `height` screenshot to be."""
        return self.dialect.image_size(width, height, self.budget)

    def check(self, space: ActionSpace, policy: str) -> None:
        """Raise `ModelError` when the backend cannot serve this run (e.g. server limits). Default: fine."""

    def generate(self, messages: list[Message], context: RequestContext | None = None) -> Completion:
        raise NotImplementedError

    async def agenerate(self, messages: list[Message], context: RequestContext | None = None) -> Completion:
        return await asyncio.to_thread(self.generate, messages, context)

    def assign(self, env: object, truth: GroundTruth) -> None:
        """An episode on `env` (a harness worker's env) starts; `truth` is its task's ground truth.

        A backend shared by several workers tells their requests apart by `RequestContext.env`.
        Default: nothing (only ground-truth backends use it)."""

    def release(self, env: object) -> None:
        """The episode on `env` ended: forget what `assign` gave. Default: nothing."""

    def close(self) -> None:
        """Release resources (GPU memory, HTTP sessions)."""


__all__ = [
    "Completion", "Dialect", "GroundTruth", "HistoryItem", "ImagePart", "Message", "Model", "ModelError",
    "ParseError", "ParsedCall", "RequestContext", "TextPart", "TokenMeter", "Usage", "parse_policy",
]
