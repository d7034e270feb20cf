"""Qwen2.5-VL reply parsing: model text -> typed actions in model-image coordinates.

Accepts what real models emit (missing ``</tool_call>``, code fences, thoughts
before the call, several calls, numbers as strings, coordinates as ``"(x, y)"``
strings ...). Model text is only ever read as JSON data: nothing is evaluated.
Every failure surfaces as `ParseError` with a message written for the model.
"""

from __future__ import annotations

import json
import re
from typing import Any

from guiagent.model.messages import ParsedCall, ParseError
from guiagent.tools.actions import ACTIONS, Action, ActionSpace, action_from_dict
from guiagent.tools.definitions import action_names, function_for
from pydantic import ValidationError

MAX_REPLY_CHARS = 200_000
MAX_CALLS = 10
# Characters brace-matched per block, in all: restarting the match at every "{" of a reply made
# of braces would cost O(n^2) (minutes for 50k braces); this bounds it to well under a second.
MAX_SCAN_CHARS = 2_000_000
_TAIL_TOKENS = ("<|im_end|>", "<|endoftext|>")
# OSWorld's agent notes that some Qwen outputs use these in place of the XML tags.
_OPEN_TAGS = ("<tool_call>", "⚗")
_CLOSE_TAGS = ("</tool_call>", "⚗", "📐")
_FENCE = re.compile(r"```(?:json|JSON|tool_call)?\s*\n?(.*?)(?:```|$)", re.S)
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = re.compile(rf"^\s*[\[(]?\s*({_NUMBER})\s*[,\s]\s*({_NUMBER})\s*[\])]?\s*$")

# Names models use for actions that the cookbook spells differently.
_ALIASES = {
    "computer_use": {"click": "left_click", "tap": "left_click", "press": "key", "hotkey": "key",
                     "typing": "type", "move": "mouse_move", "drag": "left_click_drag", "done": "terminate"},
    "mobile_use": {"tap": "click", "press": "long_press", "input": "type", "type_text": "type",
                   "home": "system_button", "back": "system_button", "open_app": "open", "done": "terminate"},
}
_BUTTONS = {"back": "Back", "home": "Home", "menu": "Menu", "enter": "Enter"}


def parse_reply(text: Any, space: ActionSpace, *, answer: bool = False, offered: list[str] | None = None,
                aliases: dict[str, str] | None = None) -> list[ParsedCall]:
    """Parse a raw reply into tool calls for `space`; raises `ParseError` only.

    `offered`: the action names the dialect's tool lists (default: the Qwen2.5-VL tool's);
    `aliases`: extra spellings the dialect's tool itself defines (e.g. Qwen3-VL's
    ``triple_click`` -> ``double_click``), mapped before validation.
    """
    try:
        return _parse(text, space, answer, offered, aliases or {})
    except ParseError:
        raise
    except (RecursionError, MemoryError):
        raise ParseError("The reply is nested too deeply to read. Reply with one flat tool call.") from None
    except Exception as exc:  # noqa: BLE001 - the contract is ParseError and nothing else
        raise ParseError(f"The reply could not be read ({type(exc).__name__}). Reply with one tool call.") from None


def _parse(text: Any, space: ActionSpace, answer: bool, offered: list[str] | None,
           aliases: dict[str, str]) -> list[ParsedCall]:
    if not isinstance(text, str):
        raise ParseError("The reply is not text.")
    if len(text) > MAX_REPLY_CHARS:
        raise ParseError(f"The reply is too long ({len(text)} characters). Reply with one tool call.")
    text = _strip_noise(text)
    objects = _json_objects(text)
    if not objects:
        raise ParseError(
            f'No tool call found. Reply with <tool_call>{{"name": "{space}", "arguments": {{"action": ...}}}}</tool_call>.'
        )
    if len(objects) > MAX_CALLS:
        raise ParseError(f"Too many tool calls ({len(objects)}); send at most {MAX_CALLS}.")
    names = offered if offered is not None else action_names(function_for(space, 1, 1, answer=answer))
    allowed = [n for n in names if n in ACTIONS[space] or n in aliases]
    return [_to_call(obj, space, allowed, aliases, names) for obj in objects]


def _strip_noise(text: str) -> str:
    text = text.strip()
    for tok in _TAIL_TOKENS:
        text = text.replace(tok, "")
    # Thinking may mention tool calls; only what comes after it is the answer.
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    elif "<think>" in text and "<tool_call>" in text.split("<think>", 1)[1]:
        pass  # an unclosed think that still contains a call: keep it
    return text


def _json_objects(text: str) -> list[Any]:
    """The JSON values of every tool call in `text`, in order."""
    blocks = _tool_call_blocks(text)
    if blocks is None:
        fences = [m.group(1) for m in _FENCE.finditer(text)] if "```" in text else []
        blocks = fences or [text]
    found: list[Any] = []
    for block in blocks:
        block = _FENCE.sub(lambda m: m.group(1), block) if "```" in block else block
        found.extend(_decode_all(block))
    return found


def _tool_call_blocks(text: str) -> list[str] | None:
    tag = next((t for t in _OPEN_TAGS if t in text), None)
    if tag is None:
        return None
    blocks = []
    for chunk in text.split(tag)[1:]:
        end = min((i for t in _CLOSE_TAGS if (i := chunk.find(t)) >= 0), default=len(chunk))
        blocks.append(chunk[:end])
    return blocks


def _decode_all(block: str) -> list[Any]:
    """Every top-level JSON object in `block` (brace-matched, string-aware)."""
    out: list[Any] = []
    i = 0
    budget = MAX_SCAN_CHARS
    while budget > 0 and (start := block.find("{", i)) >= 0:
        end = _match_brace(block, start)
        budget -= end - start
        raw = block[start:end]
        value = _loads(raw)
        if isinstance(value, dict) and ("name" in value or "action" in value or "arguments" in value):
            out.append(value)
            i = end
        else:
            i = start + 1
    return out


def _match_brace(s: str, start: int) -> int:
    depth, in_str, esc = 0, False, False
    quote = ""
    for i in range(start, len(s)):
        c = s[i]
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == quote:
                in_str = False
        elif c in "\"'":
            in_str, quote = True, c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    # Unbalanced (cut-off reply): close what is open so a complete call can still be read.
    return len(s)


def _loads(raw: str) -> Any:
    attempts = [raw, re.sub(r",\s*([}\]])", r"\1", raw)]
    if '"' not in raw:
        attempts.append(raw.replace("'", '"'))
    if raw.count("{") > raw.count("}"):
        attempts.append(raw.rstrip() + "}" * (raw.count("{") - raw.count("}")))
    for attempt in attempts:
        try:
            return json.loads(attempt, strict=False)
        except json.JSONDecodeError:
            continue
    return None


def _to_call(obj: dict[str, Any], space: ActionSpace, allowed: list[str], aliases: dict[str, str],
             offered: list[str]) -> ParsedCall:
    name = obj.get("name", space)
    args = obj.get("arguments", obj.get("parameters", None))
    if isinstance(args, str):
        args = _loads(args)
    if args is None and "action" in obj:
        args = {k: v for k, v in obj.items() if k != "name"}
    if not isinstance(args, dict):
        raise ParseError(f'The tool call has no "arguments" object. Use {{"name": "{space}", "arguments": {{...}}}}.')
    args = dict(args)
    if name != space:
        if isinstance(name, str) and _canonical(name, space, allowed, aliases) and "action" not in args:
            args["action"] = name  # {"name": "click", "arguments": {...}}
        elif name not in ("computer_use", "mobile_use"):
            raise ParseError(f"Unknown function {str(name)[:40]!r}; the only function is {space!r}.")
        else:
            raise ParseError(f"This device is controlled with {space!r}, not {name!r}.")
    call_json = json.dumps({"name": space, "arguments": args}, ensure_ascii=False)
    action = _validate(_coerce(args, space, allowed, aliases, offered), space)
    return ParsedCall(action=action, call_json=call_json)


def _canonical(name: str, space: ActionSpace, allowed: list[str], aliases: dict[str, str]) -> str | None:
    name = name.strip().lower()
    if name in allowed and name in aliases:
        return aliases[name]  # an action the dialect's tool offers, executed as its closest action
    name = _ALIASES[space].get(name, name)
    return name if name in allowed and name in ACTIONS[space] else None


def _coerce(args: dict[str, Any], space: ActionSpace, allowed: list[str], aliases: dict[str, str],
            offered: list[str]) -> dict[str, Any]:
    raw_action = args.get("action")
    if not isinstance(raw_action, str):
        raise ParseError(f'The arguments need an "action"; one of {", ".join(allowed)}.')
    action = _canonical(raw_action, space, allowed, aliases)
    if action is None and raw_action.strip().lower() in offered:
        raise ParseError(f"Action {raw_action.strip()!r} cannot be carried out on this device; use one of "
                         f"{', '.join(allowed)}.")
    if action is None:
        raise ParseError(f"Unknown action {raw_action[:40]!r}; use one of {', '.join(allowed)}.")
    out: dict[str, Any] = {"action": action}
    if space == "mobile_use" and action == "system_button" and "button" not in args:
        if raw_action.lower() in _BUTTONS:
            out["button"] = _BUTTONS[raw_action.lower()]
    fields = _fields(space, action)
    for key, value in args.items():
        if key == "action" or key not in fields:
            continue  # extra keys are ignored, never executed
        out[key] = _coerce_field(key, value)
    if action == "key" and space == "computer_use" and "keys" not in out and isinstance(args.get("text"), str):
        out["keys"] = _coerce_field("keys", args["text"])
    return out


def _fields(space: ActionSpace, action: str) -> set[str]:
    return set(ACTIONS[space][action].model_fields)


def _coerce_field(key: str, value: Any) -> Any:
    if key in ("coordinate", "coordinate2"):
        return _point(key, value)
    if key in ("pixels", "time"):
        return _number(key, value)
    if key == "keys":
        if isinstance(value, str):
            return [value]  # a chord string ("ctrl+c"): the Key action splits it (guiagent.tools.keys)
        if isinstance(value, list) and all(isinstance(k, str) for k in value):
            return value
        raise ParseError('"keys" must be a list of key names, e.g. ["ctrl", "c"].')
    if key == "status" and isinstance(value, str):
        return value.strip().lower()
    if key == "button" and isinstance(value, str):
        return _BUTTONS.get(value.strip().lower(), value)
    if key in ("text",) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ParseError(f'"{key}" must be a number.')
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and re.fullmatch(rf"\s*{_NUMBER}\s*", value):
        return float(value)
    raise ParseError(f'"{key}" must be a number, got {str(value)[:40]!r}.')


def _point(key: str, value: Any) -> tuple[float, float]:
    if isinstance(value, str):
        m = _PAIR.match(value)
        if not m:
            raise ParseError(f'"{key}" must be [x, y], got {value[:40]!r}.')
        return float(m.group(1)), float(m.group(2))
    if isinstance(value, dict) and set(value) >= {"x", "y"}:
        value = [value["x"], value["y"]]
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], (list, tuple, str)):
        return _point(key, value[0])
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _number(key, value[0]), _number(key, value[1])
    if isinstance(value, (list, tuple)) and len(value) == 4 and all(isinstance(v, (int, float)) for v in value):
        # a box [x1, y1, x2, y2]: its centre, as grounding models intend
        return (value[0] + value[2]) / 2, (value[1] + value[3]) / 2
    raise ParseError(f'"{key}" must be [x, y], got {json.dumps(value)[:40]}.')


def _validate(args: dict[str, Any], space: ActionSpace) -> Action:
    try:
        return action_from_dict(space, args)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"][1:]) or "arguments"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = f'action "{args["action"]}" needs "{loc}"'
            raise ParseError(f"Invalid tool call: {msg}.") from None
        raise ParseError(f'Invalid tool call: "{loc}" of action "{args["action"]}": {msg}.') from None
