"""One run per out folder: a second `guiagent run` on a folder in use fails at once (one line naming the folder
and the other run's pid, exit 2) and leaves the first run's files alone; `bench --resume` on a folder a
bench is using is refused the same way. Real processes, real flock."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from guiagent.agent.runlock import LOCK_FILE, RunFolderInUse, lock_run_folder
from guiagent.agent.trajectory import load_trajectory

from tests.recordings import record_screens

ROOT = Path(__file__).resolve().parents[1]
WAIT = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 30}}\n</tool_call>'
CLICK = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [9, 9]}}\n</tool_call>'


def env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}


def held_by(out: Path, proc: subprocess.Popen, deadline: float = 60.0) -> None:
    """Wait until `proc` holds the folder's lock (its pid is in the lock file)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        try:
            if (out / LOCK_FILE).read_text().strip() == str(proc.pid):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("the first run never took the folder")


def test_a_second_run_on_a_folder_in_use_fails_at_once(tmp_path):
    screens = record_screens(tmp_path / "screens", ["red", "green", "blue"])
    out = tmp_path / "out"
    first_script, second_script = tmp_path / "a.json", tmp_path / "b.json"
    first_script.write_text(json.dumps([CLICK, WAIT]))
    second_script.write_text(json.dumps([CLICK] * 3))
    base = [sys.executable, "-m", "guiagent", "run", "x", "--env", f"replay:{screens}", "--out", str(out)]
    first = subprocess.Popen([*base, "--model", f"scripted:{first_script}"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env())
    try:
        held_by(out, first)
        t = time.monotonic()
        second = subprocess.run([*base, "--model", f"scripted:{second_script}"], capture_output=True, text=True,
                                cwd=ROOT, env=env(), timeout=60)
        took = time.monotonic() - t
        assert second.returncode == 2, second.stdout + second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and str(out) in lines[0] and f"pid {first.pid}" in lines[0], lines
        assert second.stdout == "" and took < 30
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 130, err
    traj = load_trajectory(out)  # the first run's trajectory, whole, with only its own steps
    assert traj.status == "interrupted" and traj.meta.model == f"scripted:{first_script}"
    named = [s.screenshot for s in traj.steps] + ([traj.final.screenshot] if traj.final else [])
    assert sorted(p.name for p in out.iterdir()) == sorted(["trajectory.json", "steps.jsonl", *named])
    # the folder is free again once the run has ended
    with lock_run_folder(out):
        pass


def test_the_lock_is_per_folder_and_per_thread(tmp_path):
    import threading

    out = tmp_path / "out"
    with lock_run_folder(out), lock_run_folder(out):  # the same thread may take it again (CLI, then run)
        errors = []
        th = threading.Thread(target=lambda: errors.append(_try(out)))
        th.start()
        th.join()
        assert errors and f"pid {os.getpid()}" in errors[0]
        with lock_run_folder(tmp_path / "other"):
            pass
    assert not (out / LOCK_FILE).exists()


def _try(out: Path) -> str:
    try:
        with lock_run_folder(out):
            return ""
    except RunFolderInUse as exc:
        return str(exc)


def test_bench_resume_on_a_folder_a_bench_is_using_is_refused(tmp_path):
    if not shutil.which("Xvfb"):
        pytest.skip("needs Xvfb (apt install xvfb)")
    out = tmp_path / "bench"
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([WAIT] * 5))
    base = [sys.executable, "-m", "guiagent", "bench", "desktop", "--tasks", "form-signup", "--out", str(out)]
    first = subprocess.Popen([*base, "--model", f"scripted:{script}"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env())
    try:
        held_by(out, first)
        while not list(out.glob("*/*/trajectory.json")):  # the task is running
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        second = subprocess.run([*base, "--model", f"scripted:{script}", "--resume"], capture_output=True,
                                text=True, cwd=ROOT, env=env(), timeout=60)
        assert second.returncode == 2, second.stdout + second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and str(out) in lines[0] and f"pid {first.pid}" in lines[0], lines
        # the running task's folder was not wiped by the refused resume
        assert list(out.glob("*/form-signup/trajectory.json"))
    finally:
        first.send_signal(signal.SIGINT)
        try:
            first.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            first.kill()
