"""Prompt building for Qwen2.5-VL, exactly as the cookbooks build it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from guiagent.model.messages import (
    HistoryItem,
    ImagePart,
    Message,
    TextPart,
    parse_policy,
    render_chat_template,
)
from guiagent.model.qwen25vl.template import (
    ARGS_FORMAT,
    CHAT_TEMPLATE,
    FN_CALL_TEMPLATE,
    MOBILE_QUERY,
    SYSTEM_TEXT,
    TASK_PROGRESS,
)
from guiagent.tools import definitions

if TYPE_CHECKING:
    from guiagent.tools.actions import ActionSpace


def tool_function(space: ActionSpace, model_size: tuple[int, int], *, answer: bool = False) -> dict[str, Any]:
    """The tool as qwen-agent 0.0.15 exposes it (`name_for_human` ... `args_format`)."""
    fn = definitions.function_for(space, *model_size, answer=answer)
    return {
        "name_for_human": fn["name"],
        "name": fn["name"],
        "description": fn["description"],
        "parameters": fn["parameters"],
        "args_format": ARGS_FORMAT,
    }


def system_text(space: ActionSpace, model_size: tuple[int, int], *, answer: bool = False) -> str:
    """System message: the assistant line, a blank line, then the function-calling section."""
    desc = json.dumps({"type": "function", "function": tool_function(space, model_size, answer=answer)}, ensure_ascii=False)
    return SYSTEM_TEXT + "\n\n" + FN_CALL_TEMPLATE.format(tool_descs=desc)


def history_text(calls: list[str]) -> str:
    """``Step 1: {...}; Step 2: {...}; `` as the mobile cookbook writes it."""
    return "".join(f"Step {i}: {c}; " for i, c in enumerate(calls, 1))


def user_text(instruction: str, space: ActionSpace, calls: list[str], feedback: list[str] | None = None) -> str:
    """The user turn's text for the current step.

    Mobile: the cookbook's "The user query:  …\\nTask progress (…): Step 1: …; ".
    Desktop: the instruction alone at step 1 (computer_use cookbook), then the same
    task-progress line once there is history. Feedback (a rejected reply, a stall)
    is appended only when there is some, so a clean step-1 prompt stays exact.
    """
    if space == "mobile_use":
        text = MOBILE_QUERY.format(instruction=instruction) + TASK_PROGRESS.format(history=history_text(calls))
    elif calls:
        text = instruction + TASK_PROGRESS.format(history=history_text(calls))
    else:
        text = instruction
    for note in feedback or ():
        text += "\n" + note
    return text


def build_messages(
    instruction: str,
    space: ActionSpace,
    image: ImagePart,
    history: list[HistoryItem],
    *,
    policy: str = "text",
    feedback: list[str] | None = None,
    answer: bool = False,
) -> list[Message]:
    """Messages for one step: system + tools, optional prior turns, then text and screenshot."""
    return assemble_messages(
        system_text(space, image.size, answer=answer),
        lambda older, notes: user_text(instruction, space, [c for h in older for c in h.calls], notes),
        image, history, policy=policy, feedback=feedback, image_first=False,
    )


def assemble_messages(
    system: str,
    text_for: Callable[[list[HistoryItem], list[str] | None], str],
    image: ImagePart,
    history: list[HistoryItem],
    *,
    policy: str = "text",
    feedback: list[str] | None = None,
    image_first: bool = False,
) -> list[Message]:
    """The Qwen cookbooks' message layout, shared by the Qwen dialects.

    `text_for(older, feedback)` is the user text given the steps shown only as text;
    `image_first` puts each screenshot before its text (the API cookbooks' order).
    ``text``: one user turn; ``images:K``: the last K steps as real turns (screenshot,
    then the model's own reply), older steps as the task-progress text of the first turn.
    """
    def turn(text: str | None, shot: ImagePart) -> list[TextPart | ImagePart]:
        parts: list[TextPart | ImagePart] = [] if text is None else [TextPart(text=text)]
        return [shot, *parts] if image_first else [*parts, shot]

    msgs = [Message(role="system", content=[TextPart(text=system)])]
    k = parse_policy(policy)
    if k == 0:
        return [*msgs, Message(role="user", content=turn(text_for(history, feedback), image))]
    window = [h for h in history if h.image is not None][-k:]
    older = history[: len(history) - len(window)]
    for i, h in enumerate(window):
        assert h.image is not None
        msgs += [Message(role="user", content=turn(text_for(older, None) if i == 0 else None, h.image)),
                 Message(role="assistant", content=[TextPart(text=h.reply)])]
    if not window:
        last = turn(text_for(older, feedback), image)
    else:
        last = turn("\n".join(feedback) if feedback else None, image)
    msgs.append(Message(role="user", content=last))
    return msgs


def render(messages: list[Message], *, add_generation_prompt: bool = True) -> str:
    """The exact text the model receives, with one image placeholder per screenshot."""
    return render_chat_template(CHAT_TEMPLATE, messages, add_generation_prompt=add_generation_prompt)
