"""One action per reply, and the guard on replay, on a real X server with the Tk logger app.

A reply that repeats the same `left_click` (as one in the computer_use cookbook does) lands once, in
`--calls first` (default) and in `--calls all`; the skipped call is recorded as such and the model's history
lists only the call that ran. `guiagent replay` of a shared trajectory that claims a denied chord ran presses
nothing: the built-in deny list and `--policy` apply, and the difference is reported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from guiagent.agent.prompts import user_text
from guiagent.agent.trajectory import load_trajectory
from guiagent.model.image import PixelBudget

ROOT = Path(__file__).resolve().parents[1]
W, H = 1366, 768
MW, MH = PixelBudget().model_size(W, H)


def call(**args) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": args}) + "\n</tool_call>"


def model_point(x: int, y: int) -> list[int]:
    return [round(x * MW / W), round(y * MH / H)]


def guiagent(xvfb, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "guiagent", *args], capture_output=True, text=True, cwd=ROOT,
                          env=xvfb.child_env(), timeout=180)


def run(xvfb, tmp_path: Path, replies: list[str], *extra: str) -> subprocess.CompletedProcess:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(replies))
    return guiagent(xvfb, "run", "click it", "--env", "desktop", "--model", f"scripted:{script}",
                    "--out", str(tmp_path / "out"), *extra)


def presses(tk_app) -> list[tuple[int, int]]:
    return [(e["x"], e["y"]) for e in tk_app.events("press")]


@pytest.mark.parametrize("mode", [None, "first", "all"])
def test_a_reply_repeating_its_click_clicks_once(xvfb, tk_app, tmp_path, mode):
    # the cookbook's reply shape: the same call twice in one answer
    click = call(action="left_click", coordinate=model_point(700, 400))
    replies = [f"{click}\n{click}", call(action="terminate", status="success")]
    p = run(xvfb, tmp_path, replies, *(["--calls", mode] if mode else []))
    assert p.returncode == 0, p.stdout + p.stderr
    assert presses(tk_app) == [(700, 400)]
    traj = load_trajectory(tmp_path / "out")
    assert traj.meta.calls == (mode or "first")
    ran, skipped = traj.steps[0].actions
    assert ran.executed and ran.decision == "allow"
    assert not skipped.executed and skipped.decision.startswith("skipped: ")
    why = "only the first tool call" if mode != "all" else "repeats the previous tool call"
    assert why in skipped.decision
    # the model is told that one click ran: its history at step 2 lists one step
    assert user_text(traj, 2).count('"action": "left_click"') == 1
    assert f"[{skipped.decision}]" in p.stdout  # the progress line shows the skipped call


def test_calls_all_runs_distinct_calls_in_order_and_first_runs_one(xvfb, tk_app, tmp_path):
    two = call(action="left_click", coordinate=model_point(300, 300)) + call(action="left_click",
                                                                           coordinate=model_point(900, 500))
    replies = [two, call(action="terminate", status="success")]
    assert run(xvfb, tmp_path, replies, "--calls", "all").returncode == 0
    assert presses(tk_app) == [(300, 300), (900, 500)]
    assert run(xvfb, tmp_path, replies).returncode == 0
    assert presses(tk_app) == [(300, 300)]


def test_replay_of_a_trajectory_claiming_a_denied_chord_presses_nothing(xvfb, tk_app, tmp_path):
    replies = [call(action="left_click", coordinate=model_point(200, 600)),
               call(action="key", keys=["ctrl", "alt", "delete"]), call(action="key", keys=["super", "l"]),
               call(action="key", keys=["ctrl", "q"]), call(action="terminate", status="success")]
    p = run(xvfb, tmp_path, replies, "--dry-run")
    assert p.returncode == 0, p.stdout + p.stderr
    recorded = tmp_path / "out"
    steps = [json.loads(line) for line in (recorded / "steps.jsonl").read_text().splitlines()]
    assert [s["actions"][0]["decision"].split(":")[0] for s in steps[:4]] == ["dry-run", "deny", "deny", "dry-run"]
    # a shared trajectory is untrusted: make it claim every action ran
    for s in steps:
        for a in s["actions"]:
            a["executed"], a["decision"] = True, "allow"
    (recorded / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    policy = tmp_path / "policy.toml"
    policy.write_text('deny_keys = ["ctrl+q"]\n')
    tk_app.sync()

    p = guiagent(xvfb, "replay", str(recorded), "--env", "desktop", "--policy", str(policy),
                 "--out", str(tmp_path / "replayed"))
    assert p.returncode == 1, p.stdout + p.stderr  # the replay differs from what the file claims
    assert "3 difference(s)" in p.stdout
    events = tk_app.events("press", "key")
    assert [(e["x"], e["y"]) for e in events if e["type"] == "press"] == [(200, 600)]
    assert [e for e in events if e["type"] == "key"] == []
    replayed = load_trajectory(tmp_path / "replayed")
    assert [s.actions[0].decision.split(":")[0] for s in replayed.steps[:4]] == ["allow", "deny", "deny", "deny"]

    # --dry-run on replay: decides the same, executes nothing
    p = guiagent(xvfb, "replay", str(recorded), "--env", "desktop", "--dry-run", "--out", str(tmp_path / "dry"))
    assert tk_app.events("press", "key") == []
    dry = load_trajectory(tmp_path / "dry")
    assert dry.meta.dry_run and not any(a.executed for s in dry.steps for a in s.actions
                                        if a.model_action["action"] != "terminate")
    assert [s.actions[0].decision.split(":")[0] for s in dry.steps[:4]] == ["dry-run", "deny", "deny", "dry-run"]
