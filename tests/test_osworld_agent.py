"""The OSWorld agent: our loop inside OSWorld's runner contract, emitting pyautogui code.

Each of the 11 computer_use actions goes model reply -> OSWorldAgent.predict -> code, which runs in a
separate Python process exactly as OSWorld's VM runs it (``python -c "import pyautogui; import time;
pyautogui.FAILSAFE = False; <code>"``) on a real Xvfb; the Tk logger must record the same input as when
our DesktopEnv performs the parsed action. Every hostile reply of the corpus gives only constant-argument
pyautogui calls (or the fixed clipboard sequence). The Stepper keeps history and maps to screen units.
"""

from __future__ import annotations

import ast
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from guiagent.agent.stepper import Stepper
from guiagent.harness.osworld_agent import OSWorldAgent, pyautogui_code
from guiagent.model.scripted import ScriptedModel
from guiagent.tools.actions import LeftClick, Terminate, Type, Wait
from PIL import Image

from tests.fixtures.desktop import SCREEN

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = json.loads((ROOT / "tests" / "data" / "hostile_replies.json").read_text(encoding="utf-8"))
OSWORLD_PREFIX = "import pyautogui; import time; pyautogui.FAILSAFE = False; {command}"  # PythonController's


def call(args: dict) -> str:
    return f'<tool_call>\n{json.dumps({"name": "computer_use", "arguments": args})}\n</tool_call>'


def png(size: tuple[int, int], color: str = "white") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- the code is constant-only, whatever the reply


CLIPBOARD_COPY = "subprocess.run(['xclip', '-selection', 'clipboard', '-in'], input=B, stdout=subprocess.DEVNULL, " \
                 "stderr=subprocess.DEVNULL, check=False)"


def _constant(arg: ast.expr, code: str) -> None:
    if isinstance(arg, ast.UnaryOp) and isinstance(arg.op, ast.USub):  # repr(-50) is "-50"
        assert isinstance(arg.operand, ast.Constant) and type(arg.operand.value) in (int, float), code
        return
    assert isinstance(arg, ast.Constant), code


def check_constant_pyautogui(code: str) -> None:
    """Only ``pyautogui.<fn>(<constants>)`` statements, plus the one fixed clipboard copy of a bytes literal."""
    for node in ast.parse(code, mode="exec").body:
        if isinstance(node, ast.Import):
            assert [(a.name, a.asname) for a in node.names] == [("subprocess", None)], code
            continue
        assert isinstance(node, ast.Expr) and isinstance(node.value, ast.Call), code
        fn, args, keywords = node.value.func, node.value.args, node.value.keywords
        assert isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name), code
        if fn.value.id == "subprocess":
            text = next(k.value for k in keywords if k.arg == "input")
            assert isinstance(text, ast.Constant) and isinstance(text.value, bytes), code
            skeleton = ast.unparse(node).replace(repr(text.value), "B")
            assert skeleton == CLIPBOARD_COPY, code
            continue
        assert fn.value.id == "pyautogui", code
        for arg in [*args, *(k.value for k in keywords)]:
            _constant(arg, code)
        assert all(k.arg is not None for k in keywords), code  # no **kwargs


def test_every_hostile_reply_gives_only_constant_pyautogui_calls():
    cases = [c for c in HOSTILE if c.get("space", "computer_use") == "computer_use"]
    assert len(cases) > 40
    emitted = 0
    for case in cases:
        reply = case["reply_latin1"].encode("latin-1").decode("utf-8", errors="replace") \
            if "reply_latin1" in case else case["reply"]
        for key, (text, count) in case.get("expand", {}).items():
            reply = reply.replace(key, text * count)
        reply = reply.replace("@MARKER@", "/tmp/guiagent-hostile-marker")
        agent = OSWorldAgent(ScriptedModel([reply]), screen_size=(1920, 1080))
        agent.reset()
        response, actions = agent.predict("Do the task.", {"screenshot": png((1920, 1080))})
        assert response == reply
        for code in actions:
            if code in ("WAIT", "DONE", "FAIL"):
                continue
            check_constant_pyautogui(code)
            emitted += 1
    assert emitted > 20  # the corpus does reach code, not only refusals


def test_the_checker_refuses_code_that_is_not_constant_pyautogui():
    for bad in ["import os", "pyautogui.write(open('/etc/passwd').read())", "os.system('x')",
                "pyautogui.write('a'); __import__('os')", "pyautogui.click(*[1, 2])", "pyautogui.write(**{'a': 1})",
                "subprocess.run(['sh', '-c', 'x'], input=b'', stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, "
                "check=False)", "import subprocess as pyautogui"]:
        with pytest.raises(AssertionError):
            check_constant_pyautogui(bad)


def test_text_is_a_literal_never_code():
    code = pyautogui_code(Type(text="'); import os; os.system('touch /tmp/x') #\n"))
    assert code == "pyautogui.write(\"'); import os; os.system('touch /tmp/x') #\\n\")"
    check_constant_pyautogui(code)
    unicode = pyautogui_code(Type(text="héllo 中文 \u202e"))
    check_constant_pyautogui(unicode)
    assert repr("héllo 中文 \u202e".encode()) in unicode and unicode.endswith("pyautogui.hotkey('ctrl', 'v')")
    assert pyautogui_code(Wait(time=3)) == "WAIT"
    assert pyautogui_code(Terminate(status="success")) == "DONE"
    assert pyautogui_code(Terminate(status="failure")) == "FAIL"


# ---------------------------------------------------------------- the stepper


def test_the_stepper_keeps_history_and_maps_to_screen_units():
    model = ScriptedModel([call({"action": "left_click", "coordinate": [100, 50]}),
                           call({"action": "wait", "time": 2}),
                           "not a tool call",
                           call({"action": "left_click", "coordinate": [10, 10]})])
    # a HiDPI capture: 2 captured pixels per screen point
    stepper = Stepper(model, screen_size=(960, 540))
    image = Image.new("RGB", (1920, 1080), "white")
    first = stepper.step(image, "Click it")
    w, h = model.image_size(1920, 1080)
    assert first.actions == [LeftClick(coordinate=(int(100 * 960 / w + 0.5), int(50 * 540 / h + 0.5)))]
    second = stepper.step(png((1920, 1080)), "Click it")  # PNG bytes work too
    assert second.actions == [Wait(time=2)]
    third = stepper.step(image, "Click it")
    assert third.actions == [] and third.error and third.error.startswith("parse error")
    user_text = model.requests[-1][-1].text()
    assert "Step 1:" in user_text and "Step 2:" in user_text  # the history of the earlier calls
    # a new instruction is a new episode: its first prompt has no history
    stepper.step(image, "Something else")
    assert "Step 1:" not in model.requests[-1][-1].text()
    assert len(stepper.steps) == 1


def test_terminate_and_stop_rules_end_the_episode():
    agent = OSWorldAgent(ScriptedModel([call({"action": "terminate", "status": "failure"})]), screen_size=(800, 600))
    _, actions = agent.predict("Impossible task", {"screenshot": png((800, 600))})
    assert actions == ["FAIL"] and agent.last is not None and agent.last.ended == "failure"
    agent = OSWorldAgent(ScriptedModel(["no", "no", "no"]), screen_size=(800, 600))
    results = [agent.predict("x", {"screenshot": png((800, 600))})[1] for _ in range(3)]
    assert results == [[], [], ["DONE"]]  # three unreadable replies end the run, claiming nothing


# ---------------------------------------------------------------- on Xvfb: the code lands where our env does

START = (400, 300)  # where the pointer is before each action (drags and coordinate-less clicks start here)
ACTIONS = [
    ({"action": "left_click", "coordinate": [300, 200]}, "press"),
    ({"action": "left_click"}, "press"),
    ({"action": "right_click", "coordinate": [1000, 600]}, "press"),
    ({"action": "middle_click", "coordinate": [5, 700]}, "press"),
    ({"action": "double_click", "coordinate": [700, 100]}, "press"),
    ({"action": "mouse_move", "coordinate": [1200, 50]}, "pointer"),
    ({"action": "left_click_drag", "coordinate": [900, 500]}, "press"),
    ({"action": "scroll", "pixels": -300, "coordinate": [600, 400]}, "wheel"),
    ({"action": "scroll", "pixels": 120}, "wheel"),
    ({"action": "key", "keys": ["ctrl", "a"]}, "key"),
    ({"action": "key", "keys": ["Return"]}, "key"),
    ({"action": "type", "text": "Hello, World! 123 ~`@#$%^&*()_+-={}[]:;\"',.?/\\"}, "text"),
    ({"action": "type", "text": "a <b> | c"}, "text"),
    ({"action": "type", "text": "héllo 中文 ✓"}, "text"),
    ({"action": "type", "text": "'); import os; os.system('touch /tmp/guiagent-pwned') #"}, "text"),
]


def _normalize(events: list[dict]) -> list[tuple]:
    keep = ("press", "release", "double", "wheel", "key", "key_release", "motion")
    out = []
    for e in events:
        if e["type"] not in keep:
            continue
        if e["type"] == "motion":  # how many motion events a drag produces depends on timing, not on aim
            out.append(("motion",))
        else:
            out.append(tuple((k, e[k]) for k in sorted(e) if k in ("type", "x", "y", "button", "direction",
                                                                     "keysym", "state")))
    # collapse runs of motion into one: the path's end is what the release records; a motion between a press
    # and a release at the same point is pyautogui's (its click re-positions after the press), not an aim
    out = [e for i, e in enumerate(out) if not (e == ("motion",) and i and out[i - 1] == ("motion",))]
    return [e for i, e in enumerate(out) if not (
        e == ("motion",) and 0 < i < len(out) - 1 and dict(out[i - 1]).get("type") == "press"
        and dict(out[i + 1]).get("type") == "release"
        and (dict(out[i - 1])["x"], dict(out[i - 1])["y"]) == (dict(out[i + 1])["x"], dict(out[i + 1])["y"]))]


def _pointer(tk_app) -> tuple[int, int]:
    p = tk_app._x.screen().root.query_pointer()
    return p.root_x, p.root_y


def _run_code(code: str, xvfb) -> None:
    res = subprocess.run([sys.executable, "-c", OSWORLD_PREFIX.format(command=code)], env=xvfb.child_env(),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


@pytest.fixture
def desktop(xvfb):
    from guiagent.envs.desktop import DesktopEnv

    env = DesktopEnv(settle=False, failsafe=False)
    yield env
    env.close()


def test_each_action_lands_where_our_desktop_env_puts_it(xvfb, tk_app, desktop):
    if not shutil.which("xclip"):
        pytest.skip("needs xclip (apt install xclip): the code pastes non-ASCII text with it, as on OSWorld's VM")
    shot = desktop.observe()
    buf = io.BytesIO()
    shot.image.save(buf, "PNG")
    replies = [call(args) for args, _ in ACTIONS] + [call({"action": "wait", "time": 1}),
                                                     call({"action": "terminate", "status": "success"})]
    agent = OSWorldAgent(ScriptedModel(replies), screen_size=SCREEN)
    agent.reset()
    for args, what in ACTIONS:
        _, codes = agent.predict("Use the app.", {"screenshot": buf.getvalue()})
        assert agent.last is not None and len(agent.last.actions) == 1, (args, agent.last)
        [screen_action] = agent.last.actions
        [code] = codes
        check_constant_pyautogui(code)
        seen = []
        for run in ("env", "code"):
            time.sleep(0.6)  # past Tk's double-click interval: the previous case's click must not pair with this one
            tk_app.reset()
            tk_app.move_pointer(*START)
            if run == "env":
                desktop.execute(screen_action)
            else:
                _run_code(code, xvfb)
            events = tk_app.events()
            seen.append((_normalize(events), _pointer(tk_app), tk_app.entry_text()))
        (env_events, env_ptr, env_text), (code_events, code_ptr, code_text) = seen
        assert code_ptr == env_ptr, (args, code)
        assert code_text == env_text, (args, code)
        if what == "text":
            assert env_text == args["text"], args  # typed intact, by both
        else:
            assert code_events == env_events and env_events or what == "pointer", (args, code, code_events, env_events)
        if "coordinate" in args:  # and where the Frame says the model's point is on the screen
            assert env_ptr == tuple(screen_action.coordinate), args
    assert agent.predict("Use the app.", {"screenshot": buf.getvalue()})[1] == ["WAIT"]
    assert agent.predict("Use the app.", {"screenshot": buf.getvalue()})[1] == ["DONE"]
