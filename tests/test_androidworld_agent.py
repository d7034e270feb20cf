"""guiagent's model as an AndroidWorld agent: mobile_use actions -> JSONActions (or adb), step(goal).

android_world is not on PyPI and cannot be installed here, so `step` runs against a stand-in of its two
modules the agent touches (json_action.JSONAction with its validation, adb_utils' three adb calls building
android_env's real AdbRequests); the adb calls and the env run on the real simulated phone."""

from __future__ import annotations

import dataclasses
import json
import sys
import types

import numpy as np
import pytest
from guiagent.harness.androidworld_agent import SWIPE_MS, AdbCall, AndroidWorldAgent, to_json_action
from guiagent.tools.actions import (
    Answer,
    Click,
    LongPress,
    MobileKey,
    MobileType,
    Open,
    Swipe,
    SystemButton,
    Terminate,
    Wait,
)


def test_every_mobile_use_action_maps_to_a_json_action_or_an_adb_call():
    assert to_json_action(Click(coordinate=(10, 20))) == {"action_type": "click", "x": 10, "y": 20}
    assert to_json_action(LongPress(coordinate=(3, 4))) == {"action_type": "long_press", "x": 3, "y": 4}
    assert to_json_action(Swipe(coordinate=(1, 2), coordinate2=(3, 4))) == AdbCall("swipe", (1, 2, 3, 4, SWIPE_MS))
    assert to_json_action(MobileType(text="hi there")) == AdbCall("type", ("hi there",))
    assert to_json_action(SystemButton(button="Back")) == {"action_type": "navigate_back"}
    assert to_json_action(SystemButton(button="Home")) == {"action_type": "navigate_home"}
    assert to_json_action(SystemButton(button="Enter")) == {"action_type": "keyboard_enter"}
    assert to_json_action(SystemButton(button="Menu")) == AdbCall("key", ("KEYCODE_MENU",))
    assert to_json_action(MobileKey(text="volume_up")) == AdbCall("key", ("KEYCODE_VOLUME_UP",))
    assert to_json_action(Open(text="Settings")) == {"action_type": "open_app", "app_name": "Settings"}
    assert to_json_action(Wait(time=1)) == {"action_type": "wait"}
    assert to_json_action(Answer(text="42")) == {"action_type": "answer", "text": "42"}
    assert to_json_action(Terminate(status="success")) == {"action_type": "status", "goal_status": "complete"}
    assert to_json_action(Terminate(status="failure")) == {"action_type": "status", "goal_status": "infeasible"}


@pytest.fixture
def android_world(monkeypatch):
    pytest.importorskip("android_env", reason="android_env (the [androidworld] extra) is not installed")
    from android_env.proto import adb_pb2

    @dataclasses.dataclass
    class JSONAction:  # AndroidWorld's fields and its action-type check
        action_type: str | None = None
        index: int | None = None
        x: int | None = None
        y: int | None = None
        text: str | None = None
        direction: str | None = None
        goal_status: str | None = None
        app_name: str | None = None
        keycode: str | None = None
        clear_text: bool | None = None

        def __post_init__(self):
            if self.action_type not in ("click", "double_tap", "scroll", "swipe", "input_text", "navigate_home",
                                        "navigate_back", "keyboard_enter", "open_app", "status", "wait",
                                        "long_press", "answer", "unknown"):
                raise ValueError(f"Invalid action type: {self.action_type}")

    def issue_generic_request(args, env, timeout_sec=10):
        return env.execute_adb_call(adb_pb2.AdbRequest(generic=adb_pb2.AdbRequest.GenericRequest(args=args),
                                                       timeout_sec=timeout_sec))

    def generate_swipe_command(x1, y1, x2, y2, duration_ms=None):
        return ["shell", "input", "swipe", str(x1), str(y1), str(x2), str(y2), str(duration_ms) if duration_ms else ""]

    def type_text(text, env, timeout_sec=10):
        return env.execute_adb_call(adb_pb2.AdbRequest(input_text=adb_pb2.AdbRequest.InputText(text=text)))

    def press_keyboard_generic(keycode, env, timeout_sec=10):
        return issue_generic_request(["shell", "input", "keyevent", keycode], env)

    pkg = types.ModuleType("android_world")
    env_pkg = types.ModuleType("android_world.env")
    ja = types.ModuleType("android_world.env.json_action")
    ja.JSONAction = JSONAction
    au = types.ModuleType("android_world.env.adb_utils")
    for fn in (issue_generic_request, generate_swipe_command, type_text, press_keyboard_generic):
        setattr(au, fn.__name__, fn)
    env_pkg.json_action, env_pkg.adb_utils = ja, au
    for name, mod in (("android_world", pkg), ("android_world.env", env_pkg),
                      ("android_world.env.json_action", ja), ("android_world.env.adb_utils", au)):
        monkeypatch.setitem(sys.modules, name, mod)
    return JSONAction


class PhoneAsyncEnv:
    """AndroidWorld's AsyncEnv surface the agent uses, over the harness's simulated phone."""

    def __init__(self, sandbox):
        self.sb = sandbox
        self.executed = []

    @property
    def controller(self):
        return self.sb.controller

    @property
    def logical_screen_size(self):
        return self.sb.logical_screen_size

    def reset(self, go_home=False):
        self.sb.reset(go_home)

    def get_state(self, wait_to_stabilize=False):
        return types.SimpleNamespace(pixels=np.asarray(self.sb.env.observe().image.convert("RGB")))

    def execute_action(self, action):
        self.executed.append(action)
        if action.action_type == "navigate_home":
            self.sb.shell("input keyevent KEYCODE_HOME")


def _reply(name_args):
    return "<tool_call>\n" + json.dumps({"name": "mobile_use", "arguments": name_args}) + "\n</tool_call>"


def test_step_runs_our_model_and_acts_through_android_world(android_world, tmp_path):
    from guiagent.harness.sandboxes.android import AndroidSandbox
    from guiagent.model.scripted import ScriptedModel

    sb = AndroidSandbox(tmp_path / "phone")
    try:
        sb.prepare("t")
        env = PhoneAsyncEnv(sb)
        model = ScriptedModel([_reply({"action": "type", "text": "hello"}),
                               _reply({"action": "swipe", "coordinate": [500, 1500], "coordinate2": [500, 500]}),
                               _reply({"action": "system_button", "button": "Home"}),
                               _reply({"action": "terminate", "status": "success"})])
        agent = AndroidWorldAgent(env, model, transition_pause=0)
        agent.reset(go_home=True)
        results = [agent.step("Do it.") for _ in range(4)]
        assert [r.done for r in results] == [False, False, False, True]
        log = sb.shell("simphone log")
        assert "input text hello" in log
        w, h = sb.logical_screen_size
        iw, ih = model.image_size(w, h)
        x1, y1 = round(500 * w / iw), round(1500 * h / ih)  # model-image -> device pixels through the Frame
        swipe = [ln for ln in log.splitlines() if ln.startswith("input swipe")][0].split()
        assert swipe[-1] == str(SWIPE_MS) and abs(int(swipe[2]) - x1) <= 1 and abs(int(swipe[3]) - y1) <= 1
        assert [a.action_type for a in env.executed] == ["navigate_home", "status"]
        assert env.executed[-1].goal_status == "complete"
        assert results[0].data["response"].startswith("<tool_call>")
        assert len(model.requests[-1]) >= 1 and len(agent.history) == 4
    finally:
        sb.close()
