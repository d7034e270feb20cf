"""A run that cannot record stops acting: a real full tmpfs, a read-only bind mount, a folder deleted
mid-run, through the Python API and a real `guiagent run` process. The run ends ``record_error`` before its
next action, with a one-line reason naming the folder and the OS error, and the folder keeps exactly the
steps that were completely written (their screenshots, then the JSON naming them)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from guiagent.agent.callbacks import Callback
from guiagent.agent.loop import Agent, Settle
from guiagent.agent.trajectory import load_trajectory
from guiagent.envs.replay import ReplayEnv
from guiagent.model.scripted import ScriptedModel
from PIL import Image

from tests.recordings import record_images, record_screens

ROOT = Path(__file__).resolve().parents[1]
FAST = Settle(interval=0.001, min_wait=0.0, max_wait=0.05)
STEPS = 30
CLICK = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 10]}}\n</tool_call>'


def mount(*args: str) -> None:
    p = subprocess.run(["mount", *args], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"needs `mount` as root (tmpfs and bind mounts): {p.stderr.strip() or p.returncode}")


def delete_folder(path: Path) -> None:
    """Delete `path` as `rm -rf` would, while the run's writer thread may still be adding a file to it (one
    `rmtree` then fails with 'Directory not empty'); a run that recreated the folder would keep this from ending."""
    deadline = time.monotonic() + 10
    while path.exists():
        assert time.monotonic() < deadline, f"{path} keeps coming back"
        shutil.rmtree(path, ignore_errors=True)


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path):
    """A real 2 MiB tmpfs."""
    d = tmp_path / "tmpfs"
    d.mkdir()
    mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d))
    yield d
    unmount(d)


@pytest.fixture
def readonly(tmp_path):
    """A folder behind a read-only bind mount (root ignores file modes, not a read-only mount)."""
    d = tmp_path / "ro"
    d.mkdir()
    mount("--bind", str(d), str(d))
    try:
        mount("-o", "remount,bind,ro", str(d))
    except BaseException:
        unmount(d)
        raise
    yield d
    unmount(d)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> Path:
    """Distinct 320x240 screens of noise: each PNG takes about its raw size (230 KB), so 2 MiB fill in ~8 steps,
    while the preflight (3 steps of half the raw size) passes."""
    rnd = random.Random(7)
    images = [Image.frombytes("RGB", (320, 240), rnd.randbytes(320 * 240 * 3)) for _ in range(STEPS + 1)]
    return record_images(tmp_path_factory.mktemp("rec") / "noisy", images)


def consistent(out: Path, *extra: str) -> list[str]:
    """The folder holds trajectory.json, steps.jsonl and exactly the screenshots it names, each a whole PNG; no temp file."""
    traj = load_trajectory(out)
    names = [s.screenshot for s in traj.steps]
    steps_file = ["steps.jsonl"] if traj.steps else []
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "trajectory.json", *steps_file, *extra])
    for name in names:
        with Image.open(out / name) as im:
            im.load()
    return names


def agent(env, out, **kw) -> Agent:
    return Agent(ScriptedModel([CLICK] * STEPS), env, out_dir=out, settle=FAST, max_steps=STEPS, **kw)


def test_a_full_disk_ends_the_run_record_error_before_the_next_action(noisy, tmpfs):
    env = ReplayEnv(noisy)
    out = tmpfs / "run"
    result = agent(env, out).run("x")
    assert result.status == "record_error"
    assert result.reason.startswith(f"cannot write {out}/step_") and "No space left on device" in result.reason
    names = consistent(out)
    n = len(names)
    assert 2 <= n < STEPS - 1 and result.steps == n
    traj = load_trajectory(out)
    assert traj.status == "record_error" and traj.reason == result.reason
    # the step whose files failed had acted; nothing acted after it
    assert len(env.executed) == n + 1


def test_no_room_for_a_few_steps_is_refused_before_step_1(tmpfs, tmp_path):
    screens = record_screens(tmp_path / "screens", ["red", "green"])  # 1366x768: 3 steps need ~5 MB
    env = ReplayEnv(screens)
    result = agent(env, tmpfs / "run").run("x")
    assert result.status == "record_error" and result.steps == 0 and env.executed == []
    assert f"{tmpfs / 'run'}: not enough free space to record the run" in result.reason
    assert load_trajectory(tmpfs / "run").status == "record_error"


def test_a_read_only_folder_runs_nothing(noisy, readonly):
    env = ReplayEnv(noisy)
    result = agent(env, readonly).run("x")
    assert result.status == "record_error" and result.steps == 0 and env.executed == []
    assert str(readonly) in result.reason and "Read-only file system" in result.reason
    assert list(readonly.iterdir()) == []


class After(Callback):
    """Once step `n` is on disk, do `fn` (what a user or a full disk does to the folder mid-run)."""

    def __init__(self, n: int, out: Path, fn) -> None:
        self.n, self.out, self.fn = n, out, fn

    def on_step_end(self, step) -> None:
        if step.index == self.n:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if len(load_trajectory(self.out).steps) == self.n:
                        break
                except (OSError, ValueError):
                    pass
                time.sleep(0.01)
            self.fn()


def test_a_folder_deleted_mid_run_stops_the_run(noisy, tmp_path):
    env = ReplayEnv(noisy)
    out = tmp_path / "run"
    a = agent(env, out)
    a.callbacks.append(After(2, out, lambda: delete_folder(out)))
    result = a.run("x")
    assert result.status == "record_error" and "No such file or directory" in result.reason
    assert str(out) in result.reason
    assert result.steps == 2 and len(result.trajectory.steps) == 2
    assert len(env.executed) == 3  # step 3 acted, its files could not be written, step 4 did not act


def test_a_folder_remounted_read_only_mid_run_stops_the_run(noisy, tmp_path):
    # A read-only bind mount laid over the folder mid-run: every later open by name fails with EROFS, as after
    # the kernel's errors=remount-ro. (`mount -o remount,ro` of the file system itself is refused with EBUSY
    # while the recorder holds steps.jsonl open for appending, as it does for the whole run.)
    d = tmp_path / "fs"
    d.mkdir()

    def read_only() -> None:
        mount("--bind", str(d), str(d))
        mount("-o", "remount,bind,ro", str(d))

    try:
        env = ReplayEnv(noisy)
        out = d / "run"
        a = agent(env, out)
        a.callbacks.append(After(2, out, read_only))
        result = a.run("x")
        assert result.status == "record_error" and "Read-only file system" in result.reason
        assert len(env.executed) == 3
        names = consistent(out, ".guiagent.lock")  # a read-only folder keeps the (unlocked) lock file
        assert len(names) == 2
        assert load_trajectory(out).status == "running"  # the ending could not be written; the 2 steps are whole
    finally:
        unmount(d)


# ---------------------------------------------------------------------- the real command line


def cli(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([sys.executable, "-m", "guiagent", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120, **kw)


def run_args(screens: Path, tmp_path: Path, out: Path, *extra: str) -> list[str]:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([CLICK] * STEPS))
    return ["run", "x", "--env", f"replay:{screens}", "--model", f"scripted:{script}", "--out", str(out),
            "--max-steps", str(STEPS), *extra]


def test_cli_full_disk_exits_1_with_one_line_and_a_consistent_folder(noisy, tmpfs, tmp_path):
    out = tmpfs / "run"
    p = cli(run_args(noisy, tmp_path, out))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    last = p.stdout.strip().splitlines()[-1]
    assert last.startswith("record_error after ") and f"cannot write {out}/step_" in last
    assert "No space left on device" in last
    names = consistent(out)
    assert last.startswith(f"record_error after {len(names)} step(s)")


def test_cli_read_only_folder_is_a_one_line_error_exit_2(noisy, readonly, tmp_path):
    p = cli(run_args(noisy, tmp_path, readonly))
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and str(readonly) in lines[0] and "Read-only file system" in lines[0]
    assert p.stdout == ""


def test_cli_folder_deleted_mid_run(noisy, tmp_path):
    out = tmp_path / "run"
    script = tmp_path / "replies.json"
    wait = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 3}}\n</tool_call>'
    script.write_text(json.dumps([CLICK, wait] + [CLICK] * 10))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.Popen([sys.executable, "-m", "guiagent", "run", "x", "--env", f"replay:{noisy}", "--model",
                             f"scripted:{script}", "--out", str(out), "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    first = proc.stdout.readline()  # the end of step 1; step 2 is waiting 3 s
    assert json.loads(first)["index"] == 1, first + proc.stderr.read()
    delete_folder(out)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr
    end = json.loads(stdout.strip().splitlines()[-1])
    assert end["event"] == "end" and end["status"] == "record_error"
    assert str(out) in end["reason"] and "No such file or directory" in end["reason"]
    assert end["steps"] <= 2


def test_every_status_has_a_tone_in_the_report():
    from typing import get_args

    from guiagent.agent.report import STATUS_TONE
    from guiagent.agent.trajectory import Status

    assert set(get_args(Status)) <= set(STATUS_TONE) and STATUS_TONE["record_error"] == "bad"
