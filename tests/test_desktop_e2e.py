"""End to end on a real X server: `guiagent run --env desktop --model scripted:…`, then `guiagent replay`.

The screen is 1366x768 (not a multiple of 28), so every model coordinate goes through a
real rescale; the Tk logger app reports where each event landed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from guiagent.agent.trajectory import load_trajectory
from guiagent.model.image import PixelBudget

ROOT = Path(__file__).resolve().parents[1]
RECORDED = Path(__file__).parent / "data" / "desktop_run"
W, H = 1366, 768
TEXT = "héllo wörld ✓ 你好 & $(echo hi)"


def expected(x: int, y: int, mw: int, mh: int) -> tuple[int, int]:
    """Nearest screen pixel of a model pixel, computed independently of Frame (integer arithmetic)."""
    return min((2 * x * W + mw) // (2 * mw), W - 1), min((2 * y * H + mh) // (2 * mh), H - 1)


def call(**args) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": args}, ensure_ascii=False) + "\n</tool_call>"


def script(mw: int, mh: int) -> tuple[list[str], dict]:
    """Replies in model coordinates, and the screen points they must land on."""
    entry = (round(300 * mw / W), round(36 * mh / H))  # inside the Entry (20..620, 20..52)
    pts = {"entry": entry, "right": (mw // 2, mh // 2), "double": (mw // 3, mh // 2),
           "drag_from": (mw // 4, mh * 3 // 4), "drag_to": (mw * 3 // 4, mh * 2 // 3), "scroll": (mw // 2, mh - 40),
           "edge": (mw, mh)}
    replies = [
        "Thought: click the text field first.\n" + call(action="left_click", coordinate=list(pts["entry"])),
        call(action="type", text=TEXT),
        call(action="right_click", coordinate=list(pts["right"])),
        call(action="double_click", coordinate=list(pts["double"])),
        call(action="mouse_move", coordinate=list(pts["drag_from"])),
        call(action="left_click_drag", coordinate=list(pts["drag_to"])),
        call(action="scroll", pixels=-300, coordinate=list(pts["scroll"])),
        call(action="middle_click", coordinate=list(pts["edge"])),
        call(action="terminate", status="success"),
    ]
    return replies, {k: expected(*v, mw, mh) for k, v in pts.items()}


def run_cli(xvfb, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "guiagent", *args], capture_output=True, text=True, cwd=ROOT,
                          env=xvfb.child_env(), timeout=180)


@pytest.mark.parametrize("dialect", ["qwen2.5-vl", "qwen3-vl"])
@pytest.mark.parametrize("max_pixels", [12845056, 500000])
def test_run_lands_every_action_on_the_expected_pixel(xvfb, tk_app, tmp_path, max_pixels, dialect):
    from guiagent.model.dialects import get

    image = get(dialect).image_size(W, H, PixelBudget(max_pixels=max_pixels))
    # Qwen2.5-VL answers in pixels of its image, Qwen3-VL on a 0..1000 grid whatever the image
    mw, mh = image if dialect == "qwen2.5-vl" else (1000, 1000)
    replies, want = script(mw, mh)
    (tmp_path / "replies.json").write_text(json.dumps(replies, ensure_ascii=False))
    out = tmp_path / "run"
    p = run_cli(xvfb, "run", "Fill the form", "--env", "desktop", "--model", f"scripted:{tmp_path / 'replies.json'}",
                "--max-pixels", str(max_pixels), "--out", str(out), "--dialect", dialect)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "success after 9 step(s)" in p.stdout

    ev = tk_app.sync()
    presses = [(e["x"], e["y"], e["button"]) for e in ev if e["type"] == "press"]
    assert presses[0] == (*want["entry"], 1)
    assert (*want["right"], 3) in presses
    assert presses.count((*want["double"], 1)) == 2
    assert any(e["type"] == "double" and (e["x"], e["y"]) == want["double"] for e in ev)
    assert (*want["drag_from"], 1) in presses
    drag_release = [e for e in ev if e["type"] == "release" and e["button"] == 1][-1]
    assert (drag_release["x"], drag_release["y"]) == want["drag_to"]
    assert any(e["type"] == "motion" for e in ev)
    wheels = [e for e in ev if e["type"] == "wheel"]
    assert len(wheels) == 3 and all(w["direction"] == "down" and (w["x"], w["y"]) == want["scroll"] for w in wheels)
    assert (W - 1, H - 1, 2) in presses  # the far edge maps to the last pixel
    assert tk_app.entry_text() == TEXT

    traj = load_trajectory(out)
    assert traj.status == "success" and len(traj.steps) == 9
    assert traj.meta.max_pixels == max_pixels and traj.steps[0].frame.model_size == tuple(image)
    assert traj.meta.dialect == dialect and traj.steps[0].frame.coord_size == (mw, mh)
    assert traj.steps[0].actions[0].screen_action == {"action": "left_click", "coordinate": list(want["entry"])}


def test_recorded_run_replays_to_the_same_actions(xvfb, tk_app, tmp_path):
    """tests/data/desktop_run was recorded with `guiagent run` on this Xvfb setup (see make_recording)."""
    recorded = load_trajectory(RECORDED)
    p = run_cli(xvfb, "replay", str(RECORDED), "--env", "desktop", "--out", str(tmp_path / "replayed"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "identical actions" in p.stdout
    replayed = load_trajectory(tmp_path / "replayed")
    assert [[a.screen_action for a in s.actions] for s in replayed.steps] == \
           [[a.screen_action for a in s.actions] for s in recorded.steps]
    typed = [a.model_action["text"] for s in recorded.steps for a in s.actions if a.model_action["action"] == "type"]
    assert tk_app.entry_text() == "".join(typed)


def make_recording(xvfb, tmp_path) -> None:  # pragma: no cover - run by hand to refresh tests/data/desktop_run
    """Record tests/data/desktop_run again: `python -c "..."` with an Xvfb + Tk app running."""
    mw, mh = PixelBudget(max_pixels=500000).model_size(W, H)
    replies, _ = script(mw, mh)
    (tmp_path / "replies.json").write_text(json.dumps(replies, ensure_ascii=False))
    shutil.rmtree(RECORDED, ignore_errors=True)
    run_cli(xvfb, "run", "Fill the form", "--env", "desktop", "--model", f"scripted:{tmp_path / 'replies.json'}",
            "--max-pixels", "500000", "--out", str(RECORDED))


def test_locate_prints_the_screen_point_and_executes_nothing(xvfb, tk_app, tmp_path):
    mw, mh = PixelBudget().model_size(W, H)
    (tmp_path / "r.json").write_text(json.dumps([call(action="left_click", coordinate=[mw // 2, mh // 4])]))
    p = run_cli(xvfb, "locate", "the Save button", "--env", "desktop", "--model", f"scripted:{tmp_path / 'r.json'}")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [str(v) for v in expected(mw // 2, mh // 4, mw, mh)]
    assert [e for e in tk_app.sync() if e["type"] == "press"] == []


def test_locate_without_a_coordinate_fails_cleanly(xvfb, tk_app, tmp_path):
    (tmp_path / "r.json").write_text(json.dumps([call(action="type", text="hello")]))
    p = run_cli(xvfb, "locate", "the Save button", "--env", "desktop", "--model", f"scripted:{tmp_path / 'r.json'}")
    assert p.returncode == 1
    assert "gave no coordinate" in p.stderr and "Traceback" not in p.stderr
