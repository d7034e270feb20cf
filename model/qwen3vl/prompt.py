"""Prompt building for Qwen3-VL, exactly as its cookbooks build it.

- computer_use (``computer_use.ipynb``): system "You are a helpful assistant." + qwen-agent's tool
  section (qwen-agent >= 0.0.16 function dicts: name, description, parameters) for a 1000x1000
  screen; the user turn is the screenshot, then the query.
- mobile_use (``mobile_agent.ipynb``): the hard-coded system prompt (tool section for a 999x999
  screen — mapped on the dialect's 1000 grid, see `template.GRID` —, then the response-format rules, no assistant line); the user turn is
  "The user query: {q}.\\nTask progress (…): Step 1: {action}; .\\n", then the screenshot. History
  steps are the model's own "Action:" lines (quotes and newlines removed), as the cookbook's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from guiagent.model.messages import HistoryItem, ImagePart, Message, render_chat_template
from guiagent.model.qwen3vl.template import (
    CHAT_TEMPLATE,
    MOBILE_QUERY,
    MOBILE_RESPONSE_FORMAT,
    STATED,
    SYSTEM_TEXT,
    TASK_PROGRESS,
)
from guiagent.model.qwen3vl.tools import function_for
from guiagent.model.qwen25vl.prompt import assemble_messages
from guiagent.model.qwen25vl.template import FN_CALL_TEMPLATE

if TYPE_CHECKING:
    from guiagent.tools.actions import ActionSpace


def tool_function(space: ActionSpace) -> dict[str, Any]:
    """The tool as qwen-agent >= 0.0.16 exposes it, at the resolution the cookbook states."""
    return function_for(space, *STATED[space])


def system_text(space: ActionSpace) -> str:
    """The system message of each cookbook."""
    desc = json.dumps({"type": "function", "function": tool_function(space)}, ensure_ascii=False)
    tools = "\n\n" + FN_CALL_TEMPLATE.format(tool_descs=desc)
    if space == "mobile_use":
        return tools + MOBILE_RESPONSE_FORMAT
    return SYSTEM_TEXT + tools


def step_summary(item: HistoryItem) -> str:
    """One history step as the mobile cookbook writes it: the reply's "Action:" line, else its calls."""
    for line in item.reply.splitlines():
        if line.strip().startswith("Action:"):
            summary = line.strip().removeprefix("Action:").strip()
            if summary:
                return summary.replace('"', "")
    return " ".join(item.calls)


def history_text(items: list[HistoryItem]) -> str:
    """``Step 1: …; Step 2: …; `` (the cookbook's ``stage2_history``)."""
    return "".join(f"Step {i}: {step_summary(h)}; " for i, h in enumerate(items, 1))


def user_text(instruction: str, space: ActionSpace, older: list[HistoryItem], feedback: list[str] | None) -> str:
    """The user turn's text. Feedback is appended only when there is some, so clean prompts stay exact."""
    if space == "mobile_use":
        text = MOBILE_QUERY.format(instruction=instruction, history=history_text(older))
    elif older:
        text = instruction + TASK_PROGRESS.format(history=history_text(older))
    else:
        text = instruction
    for note in feedback or ():
        text += ("" if text.endswith("\n") else "\n") + note
    return text


def build_messages(
    instruction: str, space: ActionSpace, image: ImagePart, history: list[HistoryItem], *,
    policy: str = "text", feedback: list[str] | None = None,
) -> list[Message]:
    """Messages for one step: the cookbook's system, optional prior turns, then the user turn."""
    return assemble_messages(
        system_text(space), lambda older, notes: user_text(instruction, space, older, notes), image, history,
        policy=policy, feedback=feedback, image_first=space == "computer_use",
    )


def render(messages: list[Message], *, add_generation_prompt: bool = True) -> str:
    """The exact text the model receives, with one image placeholder per screenshot."""
    return render_chat_template(CHAT_TEMPLATE, messages, add_generation_prompt=add_generation_prompt)
