"""What crosses the model boundary: typed messages in, a `Completion` out, parsed calls back.

The agent loop, every backend and every dialect share these types; they import nothing of
the model package, so a dialect (`model.qwen25vl`) and the `Model` base both build on them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

if TYPE_CHECKING:
    from PIL.Image import Image


class ParseError(Exception):
    """A model reply that cannot be turned into actions; `str(err)` is fed back to the model."""


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
        resized: Image = self._resized
        return resized


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
    truth: Any = None  # an offline benchmark sample's ground truth, for its oracle only
    on_tokens: Callable[[int], None] | None = Field(
        default=None, description="called with the number of reply tokens generated so far, while the reply is "
        "being generated, by backends that can stream (hf:, openai:); None: nobody is watching, so no backend "
        "streams. It may be called from a backend's own thread and must be cheap")


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


def parse_policy(policy: str) -> int:
    """Number of prior screenshots a history policy keeps: ``text`` -> 0, ``images:K`` -> K."""
    if policy == "text":
        return 0
    name, _, k = policy.partition(":")
    if name == "images" and k.isdigit() and int(k) > 0:
        return int(k)
    raise ValueError(f"unknown history policy {policy!r}; use 'text' or 'images:K' (K >= 1)")


def template_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The messages as a chat template reads them: text as it is, one ``{"type": "image"}`` per screenshot."""
    return [{"role": m.role, "content": [{"type": "image"} if isinstance(p, ImagePart) else {"type": "text", "text": p.text}
                                         for p in m.content]} for m in messages]


def render_chat_template(template: str, messages: list[Message], *, add_generation_prompt: bool = True) -> str:
    """A model's Jinja chat template rendered as transformers renders it (sandboxed), one placeholder per image."""
    text: str = _compiled(template).render(messages=template_messages(messages),
                                           add_generation_prompt=add_generation_prompt)
    return text


@functools.cache
def _compiled(template: str) -> Any:
    import jinja2.sandbox

    return jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(template)
