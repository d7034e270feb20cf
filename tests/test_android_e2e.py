"""End to end: `guiagent run --env android:SERIAL` with scripted replies, checked through adb state."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from guiagent.agent.trajectory import load_trajectory
from guiagent.envs.simphone.server import SimPhone
from guiagent.model.image import PixelBudget
from guiagent.tools.frame import Frame, ScreenSpace

from tests.fixtures.android import center, dump, find_widget

SCREEN = (1080, 2400)
NOTE = "Dinner at 7 & bring \"wine\" 'n' cheese (2 kinds); $5 each\n\u665a\u996d caf\u00e9 \U0001f377 100%s"


def call(**args) -> str:
    return "<tool_call>\n" + json.dumps({"name": "mobile_use", "arguments": args}, ensure_ascii=False) + "\n</tool_call>"


def model_point(screen_point: tuple[int, int]) -> list[int]:
    """A screen pixel as the model would name it: in the resized image it is shown."""
    frame = Frame(image_width=SCREEN[0], image_height=SCREEN[1], screen=ScreenSpace(width=SCREEN[0], height=SCREEN[1]),
                  model_width=PixelBudget().model_size(*SCREEN)[0], model_height=PixelBudget().model_size(*SCREEN)[1])
    return list(frame.to_model(*screen_point))


def widget_points() -> dict[str, tuple[int, int]]:
    """Where the script taps, read from a simulated phone's widget tree (the layout is deterministic)."""
    sim = SimPhone(port=0)

    def sh(line: str) -> str:
        return sim.shell.run(line)[0].decode()

    sh("am start -n com.android.settings/.Settings")
    wifi = center(find_widget(dump(sh), resource_id="com.android.settings:id/switch_wifi"))
    sh("am start -n com.simphone.notes/.NotesActivity")
    fab = center(find_widget(dump(sh), content_desc="New note"))
    sh(f"input tap {fab[0]} {fab[1]}")
    save = center(find_widget(dump(sh), text="Save"))
    return {"wifi": wifi, "fab": fab, "save": save}


def guiagent() -> list[str]:
    exe = shutil.which("guiagent")
    return [exe] if exe else [sys.executable, "-m", "guiagent"]


def test_guiagent_run_on_the_simulated_phone(phone, tmp_path):
    points = widget_points()
    script = [
        call(action="open", text="Settings"),
        call(action="click", coordinate=model_point(points["wifi"])),
        call(action="system_button", button="Home"),
        call(action="open", text="Notes"),
        call(action="click", coordinate=model_point(points["fab"])),
        call(action="type", text=NOTE),
        call(action="click", coordinate=model_point(points["save"])),
        call(action="terminate", status="success"),
    ]
    (tmp_path / "script.json").write_text(json.dumps(script), encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.run(
        guiagent() + ["run", "Turn on Wi-Fi, then save a note", "--env", f"android:{phone.serial}",
                      "--model", f"scripted:{tmp_path / 'script.json'}", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300, env=phone.server.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    assert phone.shell("settings get global wifi_on") == "1"
    rows = phone.shell("content query --uri content://com.simphone.notes/notes --where '_id=3' --projection text")
    assert rows == f"Row: 0 text={NOTE}"
    traj = load_trajectory(out).model_dump(mode="json")
    assert traj["status"] == "success" and len(traj["steps"]) == 8
    assert traj["meta"]["env_info"]["model"] == "SimPhone"


def test_guiagent_run_with_a_missing_phone_is_a_one_line_usage_error(adb_server, tmp_path):
    (tmp_path / "script.json").write_text(json.dumps([call(action="terminate", status="success")]))
    proc = subprocess.run(
        guiagent() + ["run", "x", "--env", "android:R58M000000", "--model", f"scripted:{tmp_path / 'script.json'}",
                      "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120, env=adb_server.env)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "device R58M000000 is not attached" in proc.stderr


def test_a_phone_lost_mid_run_ends_the_run_cleanly_with_its_steps(adb_server, tmp_path):
    """The loop gets EnvError(device_lost); the steps already taken stay in the trajectory."""
    from guiagent.agent.callbacks import FunctionCallback
    from guiagent.agent.loop import Agent
    from guiagent.envs.android import AndroidEnv
    from guiagent.model.scripted import ScriptedModel

    from tests.fixtures.android import start_simphone

    sim = start_simphone(adb_server)
    try:
        env = AndroidEnv(sim.serial, adb_port=adb_server.port, reconnect_tries=2, reconnect_delay=0.1)
        model = ScriptedModel([call(action="system_button", button="Home"), call(action="open", text="Clock"),
                               call(action="terminate", status="success")])
        # The phone dies right after the first step is recorded.
        agent = Agent(model, env, out_dir=tmp_path / "run", callbacks=[FunctionCallback(lambda step: sim.kill())])
        result = agent.run("go home, then open the clock")
    finally:
        sim.stop()
    assert result.status == "device_lost"
    traj = load_trajectory(tmp_path / "run").model_dump(mode="json")
    assert traj["status"] == "device_lost" and "was lost" in traj["reason"]
    assert len(traj["steps"]) >= 1 and traj["steps"][0]["actions"][0]["executed"] is True


@pytest.fixture(autouse=True)
def _no_stray_runs_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run without --out would write runs/ here, not in the repo


def grid_point(screen_point: tuple[int, int]) -> list[int]:
    """A screen pixel as Qwen3-VL names it: on the 0..1000 grid (nearest grid value, integer arithmetic)."""
    return [(2 * v * 1000 + size) // (2 * size) for v, size in zip(screen_point, SCREEN, strict=True)]


def grid_to_screen(point: list[int]) -> list[int]:
    """Where a grid point must land, computed independently of Frame: nearest pixel, 1000 -> the last one."""
    return [min((2 * g * size + 1000) // 2000, size - 1) for g, size in zip(point, SCREEN, strict=True)]


@pytest.mark.parametrize("max_pixels", [12845056, 400000])
def test_qwen3_vl_run_on_the_simulated_phone_lands_on_the_grid_pixels(phone, tmp_path, max_pixels):
    # The Qwen3-VL mobile tool has no `open`: the apps are started through adb, the rest is the model's.
    points = widget_points()
    taps = {name: grid_point(points[name]) for name in ("wifi", "fab", "save")}
    phone.shell("am start -n com.android.settings/.Settings")
    script = [
        "Thought: Wi-Fi is off.\nAction: \"Turn on Wi-Fi.\"\n" + call(action="click", coordinate=taps["wifi"]),
        call(action="system_button", button="Home"),
        call(action="swipe", coordinate=[500, 800], coordinate2=[500, 200]),
        call(action="answer", text="done"),
    ]
    (tmp_path / "script.json").write_text(json.dumps(script), encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.run(
        guiagent() + ["run", "Turn on Wi-Fi", "--env", f"android:{phone.serial}", "--dialect", "qwen3-vl",
                      "--max-pixels", str(max_pixels), "--model", f"scripted:{tmp_path / 'script.json'}",
                      "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300, env=phone.server.env)
    assert phone.shell("settings get global wifi_on") == "1", proc.stdout + proc.stderr
    traj = json.loads(load_trajectory(out).model_dump_json())  # either layout: steps may live in steps.jsonl
    assert traj["meta"]["dialect"] == "qwen3-vl"
    frame = traj["steps"][0]["frame"]
    assert (frame["coord_width"], frame["coord_height"]) == (1000, 1000)
    assert (frame["model_width"] % 32, frame["model_height"] % 32) == (0, 0)
    acts = [s["actions"][0]["screen_action"] for s in traj["steps"]]
    assert acts[0] == {"action": "click", "coordinate": grid_to_screen(taps["wifi"])}
    assert acts[2] == {"action": "swipe", "coordinate": grid_to_screen([500, 800]),
                       "coordinate2": grid_to_screen([500, 200])}

    phone.shell("am start -n com.simphone.notes/.NotesActivity")
    script = [call(action="click", coordinate=taps["fab"]), call(action="type", text=NOTE),
              call(action="click", coordinate=taps["save"]), call(action="long_press", coordinate=[1000, 1000], time=1),
              call(action="terminate", status="success")]
    (tmp_path / "script.json").write_text(json.dumps(script), encoding="utf-8")
    proc = subprocess.run(
        guiagent() + ["run", "Save a note", "--env", f"android:{phone.serial}", "--dialect", "qwen3-vl",
                      "--max-pixels", str(max_pixels), "--model", f"scripted:{tmp_path / 'script.json'}",
                      "--out", str(out / "notes"), "--quiet"],
        capture_output=True, text=True, timeout=300, env=phone.server.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = phone.shell("content query --uri content://com.simphone.notes/notes --projection text")
    assert f"text={NOTE}" in rows
    traj = json.loads(load_trajectory(out / "notes").model_dump_json())
    # the grid's far corner is the screen's last pixel
    assert traj["steps"][3]["actions"][0]["screen_action"]["coordinate"] == [SCREEN[0] - 1, SCREEN[1] - 1]
