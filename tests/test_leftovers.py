"""Nothing is left behind: desktop runs leave no files in the temp folder, and a SIGKILLed `guiagent bench`
takes its Xvfb, env process and apps with it (real Xvfb, real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from guiagent.envs.xvfb import xvfb_available

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not xvfb_available(), reason="needs Xvfb (apt install xvfb)")


def _children() -> dict[int, int]:
    """pid -> parent pid of every process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _descendants(pid: int) -> set[int]:
    parents = _children()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_desktop_runs_and_xvfb_servers_leave_nothing_in_the_temp_folder(tmp_path, xvfb):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(['<tool_call>{"name": "computer_use", "arguments": {"action": "terminate", '
                                  '"status": "success"}}</tool_call>']))
    env = {**os.environ, **xvfb.environ(), "TMPDIR": str(tmp), "XAUTHORITY": str(tmp_path / "missing")}
    for i in range(3):  # a missing Xauthority file is what made each run create one
        p = subprocess.run([sys.executable, "-m", "guiagent", "run", "x", "--env", "desktop", "--model",
                            f"scripted:{script}", "--out", str(tmp_path / f"run{i}"), "--quiet"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
    code = "from guiagent.envs.xvfb import start_xvfb\nfor _ in range(3):\n    start_xvfb(64, 64).stop()\n"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    assert sorted(os.listdir(tmp)) == []


def test_a_killed_bench_takes_its_xvfb_env_process_and_apps_with_it(tmp_path):
    # A model that never answers keeps the episode open while the test looks at the process tree.
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(["never used"]))
    slow = tmp_path / "slow.py"
    slow.write_text("import time, sys\nfrom guiagent.cli import main\n"
                    "import guiagent.model.scripted as s\n"
                    "s.ScriptedModel.generate = lambda self, *a, **k: time.sleep(600)\n"
                    "sys.exit(main(sys.argv[1:]))\n")
    bench = subprocess.Popen([sys.executable, str(slow), "bench", "desktop", "--model", f"scripted:{script}",
                              "--tasks", "form-signup", "--out", str(tmp_path / "out")], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, kids = time.monotonic() + 60, set()
        names: set[str] = set()
        while time.monotonic() < deadline:
            kids = _descendants(bench.pid)
            names = {Path(f"/proc/{k}/comm").read_text().strip() for k in kids if _alive(k)}
            if "Xvfb" in names and len(kids) >= 3:  # Xvfb, the env process and the form app
                break
            time.sleep(0.2)
        assert "Xvfb" in names and len(kids) >= 3, names
        os.kill(bench.pid, signal.SIGKILL)
        bench.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(k) for k in kids):
            time.sleep(0.1)
        assert not [k for k in kids if _alive(k)], {k: Path(f"/proc/{k}/cmdline").read_bytes() for k in kids
                                                    if _alive(k)}
    finally:
        if bench.poll() is None:
            os.killpg(bench.pid, signal.SIGKILL)
