"""The Qwen2.5-VL dialect: cookbook prompt, `<tool_call>` replies, smart_resize images."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from guiagent.model.image import FACTOR, PixelBudget
from guiagent.model.messages import HistoryItem, ImagePart, Message, ParsedCall
from guiagent.model.qwen25vl import parse as _parse
from guiagent.model.qwen25vl import prompt as _prompt
from guiagent.tools.actions import action_to_dict

if TYPE_CHECKING:
    from guiagent.tools.actions import Action, ActionSpace


class Qwen25VL:
    """Absolute pixel coordinates in the smart-resized image, qwen-agent 0.0.15 tool prompt."""

    name = "qwen2.5-vl"
    factor = FACTOR

    def image_size(self, width: int, height: int, budget: PixelBudget) -> tuple[int, int]:
        return budget.model_size(width, height)

    def tool(self, space: ActionSpace, model_size: tuple[int, int], *, answer: bool = False) -> dict[str, Any]:
        return _prompt.tool_function(space, model_size, answer=answer)

    def messages(
        self, instruction: str, space: ActionSpace, image: ImagePart, history: list[HistoryItem], *,
        policy: str = "text", feedback: list[str] | None = None, answer: bool = False,
    ) -> list[Message]:
        return _prompt.build_messages(instruction, space, image, history, policy=policy, feedback=feedback, answer=answer)

    def render(self, messages: list[Message], *, add_generation_prompt: bool = True) -> str:
        return _prompt.render(messages, add_generation_prompt=add_generation_prompt)

    def parse(self, text: str, space: ActionSpace, *, answer: bool = False) -> list[ParsedCall]:
        return _parse.parse_reply(text, space, answer=answer)

    def format_call(self, space: ActionSpace, action: Action) -> str:
        """A reply the model could have written for `action` (model coordinates)."""
        call = {"name": space, "arguments": action_to_dict(action)}
        return "<tool_call>\n" + json.dumps(call, ensure_ascii=False) + "\n</tool_call>"


__all__ = ["Qwen25VL"]
