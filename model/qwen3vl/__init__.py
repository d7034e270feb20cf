"""The Qwen3-VL dialect: cookbook prompts, `<tool_call>` replies, a relative coordinate grid.

Qwen3-VL answers on a relative 0..1000 grid (see `template.GRID`), not in pixels of its image; its image is smart-resized with factor 32 (patch 16 x merge 2).
The reply syntax is Qwen2.5-VL's, so the parser is shared.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from guiagent.model.image import PixelBudget, smart_resize
from guiagent.model.messages import HistoryItem, ImagePart, Message, ParsedCall
from guiagent.model.qwen3vl import prompt as _prompt
from guiagent.model.qwen3vl.template import GRID
from guiagent.model.qwen3vl.tools import ALIASES
from guiagent.model.qwen25vl.parse import parse_reply
from guiagent.tools.actions import action_to_dict
from guiagent.tools.definitions import action_names
from guiagent.tools.frame import ModelSize

if TYPE_CHECKING:
    from guiagent.tools.actions import Action, ActionSpace

FACTOR = 32  # Qwen3-VL image processor: patch_size 16 x merge_size 2


class Qwen3VL:
    """Coordinates on a relative 0..1000 grid, qwen-agent >= 0.0.16 tool prompts of the Qwen3-VL cookbooks."""

    name = "qwen3-vl"
    factor = FACTOR

    def image_size(self, width: int, height: int, budget: PixelBudget) -> ModelSize:
        """The smart-resized model image (factor 32), carrying the 1000 grid the model answers in."""
        h, w = smart_resize(height, width, FACTOR, budget.min_pixels, budget.max_pixels)
        return ModelSize(w, h, coords=GRID)

    def tool(self, space: ActionSpace, model_size: tuple[int, int], *, answer: bool = False) -> dict[str, Any]:
        return _prompt.tool_function(space)

    def messages(
        self, instruction: str, space: ActionSpace, image: ImagePart, history: list[HistoryItem], *,
        policy: str = "text", feedback: list[str] | None = None, answer: bool = False,
    ) -> list[Message]:
        return _prompt.build_messages(instruction, space, image, history, policy=policy, feedback=feedback)

    def render(self, messages: list[Message], *, add_generation_prompt: bool = True) -> str:
        return _prompt.render(messages, add_generation_prompt=add_generation_prompt)

    def parse(self, text: str, space: ActionSpace, *, answer: bool = False) -> list[ParsedCall]:
        return parse_reply(text, space, offered=action_names(_prompt.tool_function(space)), aliases=ALIASES[space])

    def format_call(self, space: ActionSpace, action: Action) -> str:
        """A reply the model could have written for `action` (grid coordinates)."""
        call = {"name": space, "arguments": action_to_dict(action)}
        return "<tool_call>\n" + json.dumps(call, ensure_ascii=False) + "\n</tool_call>"


__all__ = ["FACTOR", "Qwen3VL"]
