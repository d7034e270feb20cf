"""The Qwen2.5-VL reply parser against a corpus of real-world replies, and its one-exception contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from guiagent.model.base import ParseError
from guiagent.model.qwen25vl.parse import parse_reply
from guiagent.tools.actions import action_to_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CORPUS = json.loads((Path(__file__).parent / "data" / "parser_corpus.json").read_text(encoding="utf-8"))


def test_corpus_is_large_and_covers_errors():
    assert len(CORPUS) >= 30
    assert sum("error" in c for c in CORPUS) >= 10


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_corpus_case(case):
    if "error" in case:
        with pytest.raises(ParseError) as info:
            parse_reply(case["reply"], case["space"])
        assert case["error"] in str(info.value)
    else:
        calls = parse_reply(case["reply"], case["space"])
        assert [action_to_dict(c.action) for c in calls] == case["expect"]


def test_call_json_keeps_what_the_model_wrote_for_history():
    reply = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "open", "text": "设置"}}\n</tool_call>'
    [call] = parse_reply(reply, "mobile_use")
    assert call.call_json == '{"name": "mobile_use", "arguments": {"action": "open", "text": "设置"}}'


def test_answer_action_only_when_enabled():
    reply = '<tool_call>{"name": "mobile_use", "arguments": {"action": "answer", "text": "Alice"}}</tool_call>'
    [call] = parse_reply(reply, "mobile_use", answer=True)
    assert call.action.text == "Alice"


def test_payloads_are_data_not_code(tmp_path):
    marker = tmp_path / "pwned"
    payloads = [
        f"__import__('os').system('touch {marker}')",
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"'; touch {marker}; '",
    ]
    for p in payloads:
        reply = json.dumps({"name": "computer_use", "arguments": {"action": "type", "text": p}})
        [call] = parse_reply(f"<tool_call>{reply}</tool_call>", "computer_use")
        assert call.action.text == p  # typed literally, as text
        with pytest.raises(ParseError):
            parse_reply(f"<tool_call>{p}</tool_call>", "computer_use")
    assert not marker.exists()


def test_huge_and_deep_inputs_are_parse_errors():
    with pytest.raises(ParseError, match="too long"):
        parse_reply("<tool_call>" + "a" * 1_000_000, "computer_use")
    deep = '{"name": "computer_use", "arguments": ' + "[" * 50_000 + "]" * 50_000 + "}"
    with pytest.raises(ParseError):
        parse_reply(f"<tool_call>{deep}</tool_call>", "computer_use")
    long_text = json.dumps({"name": "computer_use", "arguments": {"action": "type", "text": "x" * 20_000}})
    with pytest.raises(ParseError, match="text"):
        parse_reply(f"<tool_call>{long_text}</tool_call>", "computer_use")


def test_huge_numbers_parse_but_are_rejected_by_the_frame():
    from guiagent.tools.frame import Frame, OutOfFrame, ScreenSpace

    [call] = parse_reply('{"action": "click", "coordinate": [1e308, -5]}', "mobile_use")
    frame = Frame(image_width=1080, image_height=2400, screen=ScreenSpace(width=1080, height=2400),
                  model_width=1092, model_height=2408)
    with pytest.raises(OutOfFrame, match="outside the screen"):
        frame.action_to_screen(call.action)


_json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_never_raises_anything_but_parse_error_on_text(text):
    for space in ("computer_use", "mobile_use"):
        try:
            parse_reply(text, space)
        except ParseError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["computer_use", "mobile_use", "click", "x"]), _json_values,
       st.sampled_from(["<tool_call>{}</tool_call>", "{}", "```json\n{}\n```", "<tool_call>{}"]))
def test_never_raises_anything_but_parse_error_on_json(name, args, wrapper):
    body = json.dumps({"name": name, "arguments": args})
    for space in ("computer_use", "mobile_use"):
        try:
            parse_reply(wrapper.replace("{}", body), space)
        except ParseError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_invalid_utf8_is_handled(data):
    text = data.decode("utf-8", errors="replace")
    try:
        parse_reply(text, "computer_use")
    except ParseError:
        pass
