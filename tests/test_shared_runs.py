"""A run folder someone sends you is untrusted input: `guiagent view`, `guiagent replay` and `--env replay:DIR`.

Every case is a real recorded run (tests/data/desktop_run) with one hostile change, fed to the real
command line in a subprocess. A file the trajectory names outside its folder (absolute, ``../``, a
symlink, a FIFO, a device) or a value the schema must not accept ends the command with one line on
stderr and exit 2 — no traceback, no hang, nothing read from outside, nothing written through a
planted symlink. Oversized images are refused from their header, before decoding.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from guiagent.agent.trajectory import load_trajectory
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RUN = Path(__file__).parent / "data" / "desktop_run"
DEADLINE = 60.0
SECRET = "top-secret-host-file-4f1c"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([sys.executable, "-m", "guiagent", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=DEADLINE)


def copy_run(tmp_path: Path, name: str = "shared") -> Path:
    out = tmp_path / name
    shutil.copytree(RUN, out)
    return out


def edit(run: Path, change) -> None:
    data = json.loads((run / "trajectory.json").read_text(encoding="utf-8"))
    change(data)
    (run / "trajectory.json").write_text(json.dumps(data), encoding="utf-8")  # allow_nan: writes Infinity/NaN


def assert_refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr and len(err.splitlines()) == 1, proc.stderr
    for w in words:
        assert w in err, err


def view_and_replay(run: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    view = cli("view", str(run), "-o", str(tmp_path / "report.html"))
    replay = cli("replay", str(run), "--env", f"replay:{run}", "--out", str(tmp_path / "replayed"))
    return view, replay


# ---------------------------------------------------------------------- files outside the run folder


@pytest.fixture
def outside(tmp_path) -> Path:
    """A host file the hostile run tries to read (a PNG, so a reader that follows the name would succeed)."""
    secret = tmp_path / "host" / "secret.png"
    secret.parent.mkdir()
    im = Image.new("RGB", (1366, 768), "red")
    im.save(secret, pnginfo=_text_chunk(SECRET))
    return secret


def _text_chunk(text: str):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", text)
    return info


def _name_absolute(run: Path, outside: Path) -> str:
    return str(outside)


def _name_dotdot(run: Path, outside: Path) -> str:
    return os.path.relpath(outside, run)


def _name_symlink(run: Path, outside: Path) -> str:
    (run / "step_001.png").unlink()
    (run / "step_001.png").symlink_to(outside)
    return "step_001.png"


def _name_symlinked_folder(run: Path, outside: Path) -> str:
    (run / "shots").symlink_to(outside.parent, target_is_directory=True)
    return "shots/secret.png"


def _name_fifo(run: Path, outside: Path) -> str:
    (run / "step_001.png").unlink()
    os.mkfifo(run / "step_001.png")  # nobody ever writes: a reader that opens it blocks for ever
    return "step_001.png"


def _name_device(run: Path, outside: Path) -> str:
    return "/dev/zero"


def _name_folder(run: Path, outside: Path) -> str:
    (run / "adir").mkdir()
    return "adir"


ESCAPES = {"absolute": _name_absolute, "dotdot": _name_dotdot, "symlink": _name_symlink,
           "symlinked-folder": _name_symlinked_folder, "fifo": _name_fifo, "device": _name_device,
           "folder": _name_folder}


@pytest.mark.parametrize("how", list(ESCAPES))
def test_a_run_naming_a_file_outside_itself_is_refused_by_view_and_replay(how, tmp_path, outside):
    run = copy_run(tmp_path)
    name = ESCAPES[how](run, outside)
    edit(run, lambda d: d["steps"][0].update(screenshot=name))
    view, replay = view_and_replay(run, tmp_path)
    assert_refused(view, "step 1")
    assert_refused(replay)
    assert not (tmp_path / "report.html").exists()
    # nothing of the host file reached a report or a new run
    for f in tmp_path.rglob("*"):
        if f.is_file() and not f.is_symlink() and f != outside:
            assert SECRET.encode() not in f.read_bytes(), f


@pytest.mark.parametrize("how", ["symlink", "fifo"])
def test_trajectory_json_itself_must_be_a_regular_file_in_the_folder(how, tmp_path, outside):
    run = copy_run(tmp_path)
    real = tmp_path / "elsewhere.json"
    shutil.move(run / "trajectory.json", real)
    if how == "symlink":
        (run / "trajectory.json").symlink_to(real)
    else:
        os.mkfifo(run / "trajectory.json")
    view, replay = view_and_replay(run, tmp_path)
    assert_refused(view, "trajectory.json")
    assert_refused(replay, "trajectory.json")
    run_env = cli("run", "x", "--env", f"replay:{run}", "--model", "scripted:/nonexistent.json",
                  "--out", str(tmp_path / "o"))
    assert run_env.returncode == 2 and "Traceback" not in run_env.stderr


def test_view_does_not_write_through_a_planted_temp_symlink(tmp_path):
    run = copy_run(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (run / "report.html.tmp").symlink_to(victim)
    (run / "report.html").symlink_to(tmp_path / "victim2.txt")  # and a planted report.html link
    proc = cli("view", str(run))
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not (tmp_path / "victim2.txt").exists()
    report = run / "report.html"
    assert not report.is_symlink() and "<html" in report.read_text(encoding="utf-8")[:200].lower()
    assert [p.name for p in run.iterdir() if p.name.endswith(".tmp") and p.name != "report.html.tmp"] == []


# ---------------------------------------------------------------------- decompression bombs


def _bomb_run(tmp_path: Path, side: int = 13000) -> tuple[Path, int]:
    """The recorded run with every screenshot replaced by a side x side 1-bit PNG (a few KB each)."""
    run = copy_run(tmp_path, "bomb")
    bomb = Image.new("1", (side, side), 0)
    first = run / "step_001.png"
    bomb.save(first, optimize=True)
    for png in run.glob("step_*.png"):
        if png != first:
            shutil.copyfile(first, png)
    return run, sum(p.stat().st_size for p in run.glob("step_*.png"))


def _peak_rss_mib(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    # VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child forked from a large pytest process would
    # report the parent's size; the high-water mark of the exec'd process's own memory starts afresh.
    code = ("import runpy, sys\n"
            f"sys.argv = ['guiagent', *{list(args)!r}]\n"
            "try:\n    runpy.run_module('guiagent', run_name='__main__')\n"
            "finally:\n    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
            "    print('peak', hwm, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=DEADLINE * 3)
    peak = [line for line in proc.stderr.splitlines() if line.startswith("peak ")]
    assert peak, proc.stderr
    return proc, int(peak[-1].split()[1]) / 1024


def test_view_of_a_decompression_bomb_run_stays_small_and_says_why(tmp_path):
    run, size = _bomb_run(tmp_path)
    assert size < 200_000  # the whole run is a few KB on disk
    proc, peak = _peak_rss_mib("view", str(run))
    assert proc.returncode == 0, proc.stderr
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "13000x13000" in page and "cap" in page
    assert peak < 400, f"view used {peak:.0f} MiB"  # decoding them took several GiB


def test_replay_of_a_decompression_bomb_run_is_refused_before_decoding(tmp_path):
    run, _ = _bomb_run(tmp_path)
    proc = cli("replay", str(run), "--env", f"replay:{run}", "--out", str(tmp_path / "replayed"))
    assert_refused(proc, "13000x13000")


# ---------------------------------------------------------------------- odd values the schema refuses


def _set(path: str, value):
    def change(d):
        *parents, last = path.split(".")
        node = d
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return change


HOSTILE_VALUES = {
    "duration-infinity": ("steps.0.durations.infer", float("inf"), "durations"),
    "duration-nan": ("steps.0.durations.settle", float("nan"), "durations"),
    "duration-negative": ("steps.0.durations.capture", -5.0, "durations"),
    "model-timing-infinity": ("steps.0.model_timings", {"decode": float("inf")}, "model_timings"),
    "started-huge": ("steps.0.started_at", 1e300, "started_at"),
    "ended-huge": ("ended_at", 1e19, "ended_at"),
    "meta-started-huge": ("meta.started_at", 9e15, "started_at"),
    "timestamp-overflow-literal": ("steps.0.ended_at", 1e999, "ended_at"),
    "scroll-pixels-string": ("steps.0.actions.0.screen_action", {"action": "scroll", "pixels": "lots"}, "pixels"),
    "scroll-pixels-nan": ("steps.0.actions.0.model_action", {"action": "scroll", "pixels": float("nan")}, "pixels"),
    "wait-time-string": ("steps.0.actions.0.model_action", {"action": "wait", "time": "forever"}, "time"),
    "coordinate-string": ("steps.0.actions.0.screen_action.coordinate", "300,37", "coordinate"),
    "coordinate-short": ("steps.0.actions.0.screen_action.coordinate", [300], "coordinate"),
    "coordinate-strings": ("steps.0.actions.0.model_action.coordinate", ["a", "b"], "coordinate"),
    "coordinate-float-screen": ("steps.0.actions.0.screen_action.coordinate", [1.5, 2.5], "coordinate"),
    "coordinate-huge-screen": ("steps.0.actions.0.screen_action.coordinate", [10**30, 1], "coordinate"),
    "coordinate-bool": ("steps.0.actions.0.model_action.coordinate", [True, False], "coordinate"),
    "keys-not-list": ("steps.0.actions.0.screen_action", {"action": "key", "keys": 5}, "keys"),
    "no-action-name": ("steps.0.actions.0.model_action", {"coordinate": [1, 2]}, "model_action"),
    "history-bad": ("meta.history", "images:banana", "history"),
    "history-zero": ("meta.history", "images:0", "history"),
    "space-bad": ("meta.space", "toaster_use", "space"),
    "scale-infinity": ("steps.0.frame.screen.scale", float("inf"), "scale"),
    "model-size-strings": ("meta.model_size", ["w", "h"], "model_size"),
    "pixel-budget-negative": ("meta.min_pixels", -1, "min_pixels"),
    "index-zero": ("steps.0.index", 0, "index"),
    "pixel-budget-inverted": ("meta.min_pixels", 10**9, "min_pixels"),
    "huge-int": ("steps.0.usage.prompt_tokens", "HUGEINT", "trajectory.json"),
}


@pytest.mark.parametrize("case", list(HOSTILE_VALUES))
def test_an_odd_value_is_refused_at_load_with_the_field_named(case, tmp_path):
    path, value, field = HOSTILE_VALUES[case]
    run = copy_run(tmp_path)
    edit(run, _set(path, value))
    if value == "HUGEINT":  # an integer literal of 5000 digits (Python refuses to parse it by default)
        text = (run / "trajectory.json").read_text(encoding="utf-8").replace('"HUGEINT"', "9" * 5000)
        (run / "trajectory.json").write_text(text, encoding="utf-8")
    view, replay = view_and_replay(run, tmp_path)
    if case == "pixel-budget-inverted":  # a report can show it; re-running it cannot
        assert view.returncode == 0, view.stderr
    else:
        assert_refused(view, field)
    assert_refused(replay, field)


def test_deeply_nested_json_is_refused_not_a_recursion_traceback(tmp_path):
    run = copy_run(tmp_path)
    text = (run / "trajectory.json").read_text(encoding="utf-8")
    (run / "trajectory.json").write_text(text.replace('"extra": {}', '"extra": ' + "[" * 100_000 + "]" * 100_000),
                                         encoding="utf-8")
    view, replay = view_and_replay(run, tmp_path)
    assert_refused(view, "trajectory.json")
    assert_refused(replay, "trajectory.json")


def test_the_untouched_run_still_views_and_replays(tmp_path):
    run = copy_run(tmp_path)
    load_trajectory(run)
    view, replay = view_and_replay(run, tmp_path)
    assert view.returncode == 0, view.stderr
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "identical actions" in replay.stdout
