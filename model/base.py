"""The model interface: typed messages in, a `Completion` out.

Backends (``hf:``, ``openai:``, ``scripted:``, ``replay:``, ``oracle``) implement
`Model.generate`. The model family's conventions (prompt text, reply syntax, image
size) live in its `Dialect`, so every backend of the family shares them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from guiagent.model.image import PixelBudget
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

if TYPE_CHECKING:
    from guiagent.tools.actions import Action, ActionSpace
    from PIL.Image import Image


class ParseError(Exception):
    """A model reply that cannot be turned into actions; `str(err)` is fed back to the model."""


class ModelError(Exception):
    """A backend failure the run cannot recover from (after its own retries)."""


class TextPart(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ImagePart(BaseModel):
    """A screenshot and the size the model sees it at (the Frame's model size).

    The resize is lazy: `resized()` does it once, for the backends that send pixels
    (the loop itself never pays for a resize it does not need).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    type: Literal["image"] = "image"
    image: Any = Field(description="PIL.Image.Image as captured")
    size: tuple[int, int] = Field(description="(width, height) the model sees; what the tool description states")

    _resized: Any = PrivateAttr(default=None)

    def resized(self) -> Image:
        """The image at `size` (bicubic, as the Qwen2.5-VL processor resizes); computed once."""
        if self._resized is None:
            from PIL import Image as PILImage

            self._resized = self.image if self.image.size == tuple(self.size) else self.image.resize(
                tuple(self.size), PILImage.Resampling.BICUBIC)
        return cast("Image", self._resized)


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: list[TextPart | ImagePart]

    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    def images(self) -> list[ImagePart]:
        return [p for p in self.content if isinstance(p, ImagePart)]


class Usage(BaseModel):
    prompt_tokens: int = 0
    image_tokens: int = 0
    completion_tokens: int = 0


class Completion(BaseModel):
    """A model reply with its accounting. `finish_reason="length"` means it was cut off."""

    text: str
    usage: Usage = Field(default_factory=Usage)
    timings: dict[str, float] = Field(default_factory=dict, description="seconds per phase (preprocess, prefill, decode)")
    finish_reason: Literal["stop", "length"] = "stop"


class RequestContext(BaseModel):
    """What the agent knows about the step; most backends ignore it (the oracle reads it)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    instruction: str
    space: str
    step: int
    frame: Any = None  # tools.frame.Frame
    env: Any = None  # the live env, for ground-truth backends only


class ParsedCall(BaseModel):
    """One tool call from a reply: the typed action and the call as the model wrote it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    action: Any  # tools.actions.Action, in model-image coordinates
    call_json: str = Field(description='{"name": ..., "arguments": ...} re-serialised for the history')


class HistoryItem(BaseModel):
    """A finished step as the prompt needs it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    calls: list[str] = Field(default_factory=list, description="call_json of each executed call")
    reply: str = ""
    image: ImagePart | None = None  # kept only by image history policies


class Dialect(Protocol):
    """A model family's conventions: tool rendering, prompt building, reply parsing, image size."""

    name: str

    def image_size(self, width: int, height: int, budget: PixelBudget) -> tuple[int, int]: ...

    def tool(self, space: ActionSpace, model_size: tuple[int, int], *, answer: bool = False) -> dict[str, Any]: ...

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
    it from `self.budget`.
    """

    name: str = "model"

    def __init__(self, dialect: Dialect | None = None) -> None:
        if dialect is None:
            from guiagent.model.qwen25vl import Qwen25VL

            dialect = Qwen25VL()
        self.dialect = dialect
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

    def close(self) -> None:
        """Release resources (GPU memory, HTTP sessions)."""


def parse_policy(policy: str) -> int:
    """Number of prior screenshots a history policy keeps: ``text`` -> 0, ``images:K`` -> K."""
    if policy == "text":
        return 0
    name, _, k = policy.partition(":")
    if name == "images" and k.isdigit() and int(k) > 0:
        return int(k)
    raise ValueError(f"unknown history policy {policy!r}; use 'text' or 'images:K' (K >= 1)")
