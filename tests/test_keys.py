"""One key vocabulary (guiagent.tools.keys): the guard decides on exactly the keys the env presses.

Every spelling of a denied chord is denied through the whole loop (a model's reply, parsed,
guarded, never executed); on the real Xvfb desktop every spelling of an allowed chord presses
the same keys; on the simulated phone every spelling of a denied key (name, KEYCODE_ name,
number) never reaches the phone; a chord is capped at its total keys; a typed CR LF is one Enter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from guiagent.agent.guard import DEFAULT_DENY_KEYS, Guard, Policy
from guiagent.agent.loop import Agent, Settle
from guiagent.agent.trajectory import load_trajectory
from guiagent.envs.adb_keys import KEYCODES, android_code, keycode
from guiagent.envs.desktop import PYAUTOGUI_KEYS, DesktopEnv
from guiagent.envs.replay import ReplayEnv
from guiagent.model.base import ParseError
from guiagent.model.qwen25vl.parse import parse_reply
from guiagent.model.scripted import ScriptedModel
from guiagent.tools.actions import Key, MobileType, Type
from guiagent.tools.keys import (
    CHAR_NAMES,
    MAX_CHORD_KEYS,
    NAMED_KEYS,
    UnknownKey,
    held_keys,
    resolve_chord,
    resolve_key,
)
from pydantic import ValidationError

from tests.recordings import record_screens

ROOT = Path(__file__).resolve().parent.parent
FAST = Settle(interval=0.001, min_wait=0.0, max_wait=0.05)


def call(space: str, **args) -> str:
    return "<tool_call>\n" + json.dumps({"name": space, "arguments": args}) + "\n</tool_call>"


def terminate(space: str) -> str:
    return call(space, action="terminate", status="success")


# ---------------------------------------------------------------------- the vocabulary


@pytest.mark.parametrize(("spelling", "canonical"), [
    (["ctrl", "control", "ctl", "Control_L", "lctrl", "ctrlleft", "ctrl_l", "CTRL"], "ctrl"),
    (["Control_R", "rctrl", "ctrlright"], "ctrl_r"),
    (["alt", "Alt_L", "altleft", "option"], "alt"),
    (["shift", "Shift_L", "lshift"], "shift"),
    (["super", "win", "windows", "winleft", "cmd", "command", "meta", "Super_L"], "super"),
    (["del", "delete", "Delete"], "delete"),
    (["enter", "return", "Return", "\n", "\r\n", "KP_Enter"], "enter"),
    (["esc", "escape", "Escape"], "esc"),
    (["pgdn", "Page_Down", "page down", "Next"], "pagedown"),
    (["Up", "ArrowUp", "uparrow"], "up"),
    (["F24", "f24"], "f24"),
    (["plus", "+"], "+"),
    (["BackSpace", "backspace", "bksp"], "backspace"),
])
def test_every_spelling_resolves_to_one_canonical_name(spelling, canonical):
    assert {resolve_key(s) for s in spelling} == {canonical}


def test_chords_resolve_once_whatever_their_form():
    assert resolve_chord("ctrl+alt+delete") == resolve_chord(["ctrl+alt+delete"]) == ["ctrl", "alt", "delete"]
    assert resolve_chord(["ctrl+shift", "T"]) == ["ctrl", "shift", "t"]  # letters fold in a chord
    assert resolve_chord(["A"]) == ["A"]  # ... but a lone capital is that capital
    assert resolve_chord(["ctrl", "Q", "q"]) == ["ctrl", "q"]  # pressed once
    assert resolve_chord("+") == ["+"] and resolve_chord("ctrl++") == ["ctrl", "+"]
    for bad, why in [("ctrl+", "ends with a +"), ("+a", "cannot read"), ("", "unknown key ''"), ([], "at least one")]:
        with pytest.raises(UnknownKey, match=why):
            resolve_chord(bad)


def test_resolution_is_idempotent_for_every_spelling():
    spellings = [s for c, aliases in NAMED_KEYS.items() for s in (c, *aliases)] + list(CHAR_NAMES)
    for s in spellings:
        once = resolve_chord([s])
        assert resolve_chord(once) == once, s
        assert resolve_chord(["ctrl", s]) == resolve_chord(resolve_chord(["ctrl", s])), s


def test_unknown_names_say_what_to_use():
    with pytest.raises(UnknownKey, match=r"unknown key 'ctrk' \(did you mean ctrl\?\)"):
        resolve_key("ctrk")
    with pytest.raises(UnknownKey, match=r"^unknown key 'xyz'; use names like ctrl, alt"):
        resolve_key("xyz")
    with pytest.raises(UnknownKey, match="action=type"):
        resolve_key("é")


def test_every_canonical_key_is_pressed_by_some_executor():
    for name in NAMED_KEYS:
        assert name in PYAUTOGUI_KEYS or android_code(name) is not None, name


def test_android_names_agree_with_the_vocabulary():
    # A KeyEvent name the vocabulary also knows (DEL, HOME, PAGE_UP, ALT_LEFT ...) means the same keycode
    # either way; "mute" is the one deliberate exception (speaker mute, as people mean it).
    for full, code in KEYCODES.items():
        bare = full.removeprefix("KEYCODE_")
        assert keycode(full) == code
        if bare.isdigit() or bare == "MUTE":
            continue
        assert keycode(bare) == code, bare


def test_no_other_module_keeps_key_aliases():
    # One alias vocabulary: the executors map canonical names to their codes, nobody reads spellings.
    aliases = ['"ctl"', '"lctrl"', '"pgdn"', '"escape"', '"control_l"', '"super_l"', '"recents"', '"vol_up"',
               '"arrowup"']
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("tests/", ".venv/", "tools/keys.py")) or "/.venv/" in rel:
            continue
        text = path.read_text(encoding="utf-8")  # lower-case spellings: KeyEvent and DOM names are not aliases
        offenders += [f"{rel}: {a}" for a in aliases if a in text]
    assert offenders == []
    assert not (ROOT / "envs" / "keys.py").exists()


# ---------------------------------------------------------------------- the cap on keys


def test_a_chord_is_capped_at_its_total_keys_not_its_items():
    eight = "ctrl+alt+shift+super+a+b+c+d"
    assert len(Key(keys=[eight]).keys) == MAX_CHORD_KEYS
    for keys in (["ctrl+alt+shift+super+a+b+c+d+e"], ["ctrl+alt+shift", "super+a+b", "c+d+e"],
                 ["+".join("abcdefghijklmnopqrstuvwxyz") * 1000]):
        with pytest.raises(ValidationError, match=f"at most {MAX_CHORD_KEYS} keys"):
            Key(keys=keys)


def test_an_over_long_chord_never_reaches_the_env(tmp_path):
    env = ReplayEnv(record_screens(tmp_path / "rec", ["red", "green"]))
    reply = call("computer_use", action="key", keys=["ctrl+alt+shift+super+a+b+c+d+e+f+g"])
    agent = Agent(ScriptedModel([reply, terminate("computer_use")]), env, out_dir=tmp_path / "out", settle=FAST)
    assert agent.run("x").status == "success"
    assert env.executed == []
    step = load_trajectory(tmp_path / "out").steps[0]
    assert step.actions == [] and f"at most {MAX_CHORD_KEYS} keys" in step.error


# ---------------------------------------------------------------------- the guard

BUILT_IN_BYPASSES = [
    ["Super_L", "l"], ["windows", "l"], ["winleft", "l"], ["super_r", "L"], ["cmd", "l"],
    ["ctl", "alt", "del"], ["Control_L", "Alt_L", "Delete"], ["lctrl", "altleft", "backspace"],
    ["ctrl+alt+delete"], "ctrl+alt+delete", ["Delete", "alt", "ctrl"], ["ctrl", "alt", "delete", "delete"],
    ["super", "a", "l"],  # l goes down while super is held: the lock fires whatever else is held
    ["control_r", "alt_r", "F1"], ["alt", "Print", "b"], ["alt", "sysrq", "b"],
]
POLICY_BYPASSES = [["ctrl_l", "q"], ["ctrl", "Q", "q"], ["q", "ctrl"], ["Control_R", "q"], "ctrl+Q", ["ctl+q"]]


@pytest.mark.parametrize("keys", BUILT_IN_BYPASSES + POLICY_BYPASSES, ids=repr)
def test_every_spelling_of_a_denied_chord_is_denied_through_the_loop(keys, tmp_path):
    env = ReplayEnv(record_screens(tmp_path / "rec", ["red", "green"]))
    model = ScriptedModel([call("computer_use", action="key", keys=keys), terminate("computer_use")])
    agent = Agent(model, env, out_dir=tmp_path / "out", settle=FAST, guard=Guard(Policy(deny_keys=["ctrl+q"])))
    assert agent.run("x").status == "success"
    assert env.executed == []
    rec = load_trajectory(tmp_path / "out").steps[0].actions[0]
    assert rec.decision.startswith("deny: the key chord") and not rec.executed
    assert "safety policy" in model.requests[1][-1].text()


@pytest.mark.parametrize("keys", [["ctrl", "c"], ["super"], ["l"], ["alt", "tab"], ["ctrl", "alt", "t"], "ctrl+w"],
                         ids=repr)
def test_other_chords_are_allowed(keys):
    [parsed] = parse_reply(call("computer_use", action="key", keys=keys), "computer_use")
    assert Guard(Policy(deny_keys=["ctrl+q"])).check(parsed.action).verdict == "allow"


def test_the_built_in_list_and_policy_entries_resolve():
    for entry in DEFAULT_DENY_KEYS:
        Guard(Policy(deny_keys=[entry]))
    assert held_keys("super+shift+q") == held_keys(["cmd", "Shift_R", "Q"])
    with pytest.raises(ValidationError, match="deny_keys"):
        Policy(deny_keys=["ctrl+qq"])  # a typo is an error, not a rule that silently matches nothing


def test_a_key_built_without_validation_is_still_resolved_by_the_guard():
    raw = Key.model_construct(keys=["Super_L", "l"])
    assert Guard().check(raw).verdict == "deny"
    assert Guard().check(Key.model_construct(keys=["frobnicate"])).verdict == "deny"


def test_a_parse_error_names_the_unknown_key():
    with pytest.raises(ParseError, match=r"unknown key 'ctrk' \(did you mean ctrl\?\)") as info:
        parse_reply(call("computer_use", action="key", keys=["ctrk", "c"]), "computer_use")
    assert "Value error" not in str(info.value)


# ---------------------------------------------------------------------- the real desktop (Xvfb)


@pytest.fixture
def desktop(xvfb):
    env = DesktopEnv(settle=False, failsafe=False)
    yield env
    env.close()


def _keys_seen(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["type"], e["keysym"]) for e in events if e["type"] in ("key", "key_release")]


@pytest.mark.parametrize(("spellings", "expected"), [
    ([["ctrl", "shift", "z"], ["Control_L", "Shift_L", "Z"], ["lctrl+lshift+z"], ["ctl+shift", "z"],
      ["ctrl", "shift", "Z", "z"], "ctrl+shift+z"],
     [("key", "Control_L"), ("key", "Shift_L"), ("key", "Z"),
      ("key_release", "Z"), ("key_release", "Shift_L"), ("key_release", "Control_L")]),
    ([["Super_L", "a"], ["windows", "a"], ["cmd", "A"], ["winleft+a"], ["meta", "a"]],
     [("key", "Super_L"), ("key", "a"), ("key_release", "a"), ("key_release", "Super_L")]),
    ([["Control_R", "b"], ["rctrl", "b"], ["ctrlright+B"]],
     [("key", "Control_R"), ("key", "b"), ("key_release", "b"), ("key_release", "Control_R")]),
])
def test_every_spelling_of_an_allowed_chord_presses_the_same_keys(desktop, tk_app, spellings, expected):
    guard = Guard()
    for keys in spellings:
        [parsed] = parse_reply(call("computer_use", action="key", keys=keys), "computer_use")
        assert guard.check(parsed.action).verdict == "allow"
        desktop.execute(parsed.action)
        assert _keys_seen(tk_app.sync()) == expected, keys


def test_denied_spellings_never_reach_the_real_desktop(desktop, tk_app, tmp_path):
    denied = [["Super_L", "l"], ["windows", "l"], ["winleft", "l"], ["ctl", "alt", "del"],
              ["Control_L", "Alt_L", "Delete"], ["lctrl", "altleft", "backspace"], "ctrl+alt+delete"]
    replies = [call("computer_use", action="key", keys=k) for k in denied]
    replies += [call("computer_use", action="key", keys=["x"]), terminate("computer_use")]
    agent = Agent(ScriptedModel(replies), desktop, out_dir=tmp_path / "out", settle=FAST)
    assert agent.run("x").status == "success"
    steps = load_trajectory(tmp_path / "out").steps
    assert [s.actions[0].decision.split(":")[0] for s in steps[:-1]] == ["deny"] * len(denied) + ["allow"]
    # only the allowed x (the control that input is observed) reached the app
    assert _keys_seen(tk_app.sync()) == [("key", "x"), ("key_release", "x")]


@pytest.mark.parametrize("text", ["a\r\nb", "a\rb", "a\nb"], ids=repr)
def test_a_typed_line_break_is_one_enter_on_the_desktop(desktop, tk_app, text):
    desktop.execute(Type(text=text))
    downs = [e["keysym"] for e in tk_app.sync() if e["type"] == "key"]
    assert downs == ["a", "Return", "b"]


# ---------------------------------------------------------------------- the simulated phone

PHONE_BYPASSES = ["276", "KEYCODE_SOFT_SLEEP", "soft_sleep", "224", "KEYCODE_WAKEUP", "wake", "223", "sleep",
                  "26", "KEYCODE_POWER", "Power", "lock", " 26 ", "27", "KEYCODE_CAMERA"]


@pytest.mark.parametrize("chunk", [PHONE_BYPASSES[:8], PHONE_BYPASSES[8:]], ids=["sleep-wake", "power-camera"])
def test_denied_phone_keys_in_every_spelling_never_reach_the_phone(android_env, phone, tmp_path, chunk):
    replies = [call("mobile_use", action="key", text=k) for k in chunk]
    replies += [call("mobile_use", action="key", text="volume_up"), terminate("mobile_use")]
    guard = Guard(Policy(deny_keys=["camera"]))
    agent = Agent(ScriptedModel(replies), android_env, out_dir=tmp_path / "out", settle=FAST, guard=guard)
    assert agent.run("x").status == "success"
    steps = load_trajectory(tmp_path / "out").steps
    assert [s.actions[0].decision.split(":")[0] for s in steps[:-1]] == ["deny"] * len(chunk) + ["allow"]
    # the allowed volume_up shows the log is read; nothing else reached the phone as a key
    assert [ln for ln in phone.log() if "keyevent" in ln] == ["input keyevent 24"]


def test_a_typed_line_break_is_one_enter_on_the_phone(android_env, phone):
    android_env.execute(MobileType(text="ab\r\ncd\re"))
    sent = " && ".join(ln for ln in phone.log() if ln.startswith("input"))
    assert re.findall(r"input (text \S+|keyevent 66)", sent) == [
        "text ab", "keyevent 66", "text cd", "keyevent 66", "text e"]
