"""One installed namespace: the wheel holds only `guiagent/…`, user files named model.py, tools/ … do not
shadow it, and a non-editable install runs a real benchmark from an empty folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from guiagent.agent.trajectory import load_trajectory

ROOT = Path(__file__).resolve().parents[1]
ROLE_FOLDERS = ("agent", "envs", "tools", "model", "harness")


def _tracked_tree(dest: Path) -> Path:
    """A copy of the committed and working files git knows (no .venv, build outputs or egg-info)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = _tracked_tree(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("wheel")
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                        str(src)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    (found,) = out.glob("guiagent-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed (not editable) into its own folder, to put first on PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                        str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return target


def test_the_wheel_installs_nothing_but_guiagent(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"guiagent"}
    for folder in ROLE_FOLDERS:
        assert f"guiagent/{folder}/__init__.py" in names
    # package data: report templates, suite definitions, example task files and their expected outputs
    for data in ("guiagent/agent/report.html.jinja", "guiagent/harness/suites/simphone/suite.yaml",
                 "guiagent/harness/suites/miniwob/tasks.yaml",
                 "guiagent/harness/suites/desktop/examples/form/form-signup.json",
                 "guiagent/harness/suites/desktop/examples/os/expected/todo.txt"):
        assert data in names
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "guiagent = guiagent.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def _shadowing_folder(path: Path) -> Path:
    """A user's project folder whose own files carry the role names."""
    for name in ("model.py", "agent.py", "envs.py", "harness.py"):
        (path / name).write_text("raise SystemExit('the user file was imported instead of guiagent')\n")
    (path / "tools").mkdir()
    (path / "tools" / "__init__.py").write_text("raise SystemExit('the user package was imported')\n")
    return path


def test_user_files_named_like_the_role_folders_do_not_shadow_guiagent(tmp_path):
    folder = _shadowing_folder(tmp_path)
    code = "from guiagent import Agent, load_model, make_env; import guiagent.model.hf; print('ok')"
    p = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr
    exe = shutil.which("guiagent", path=str(Path(sys.executable).parent))
    assert exe, "the guiagent console script is installed beside this interpreter"
    p = subprocess.run([exe, "--help"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "usage: guiagent" in p.stdout, p.stderr
    p = subprocess.run([sys.executable, "-m", "guiagent", "--help"], cwd=folder, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and "usage: guiagent" in p.stdout, p.stderr


def test_a_wheel_install_runs_a_simphone_benchmark_from_an_empty_folder(installed, tmp_path, adb_server):
    work = _shadowing_folder(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(installed), "ANDROID_ADB_SERVER_PORT": str(adb_server.port)}
    where = subprocess.run([sys.executable, "-c", "import guiagent.harness.suites as s; print(s.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(installed)), where  # the wheel's copy, not the checkout
    p = subprocess.run([sys.executable, "-m", "guiagent", "bench", "simphone", "--model", "oracle", "--tasks",
                        "SystemWifiToggle", "--instances", "1", "--out", "out"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    summary = json.loads((work / "out" / "summary.json").read_text())
    assert summary["overall"]["success"] == 1, summary
    assert list((work / "out").rglob("report.html")), "the per-task report was rendered from the shipped templates"


def test_a_wheel_install_runs_the_demo_from_an_empty_folder_without_a_display(installed, tmp_path, adb_server):
    """`guiagent demo`: two real episodes (simulated phone through adb, Tk editor on its own Xvfb), no weights."""
    from PIL import Image, ImageChops

    work = _shadowing_folder(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY")}
    env.update(PYTHONPATH=str(installed), ANDROID_ADB_SERVER_PORT=str(adb_server.port), HF_HUB_OFFLINE="1")
    p = subprocess.run([sys.executable, "-m", "guiagent", "demo"], cwd=work, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    (out,) = (work / "runs").glob("demo-*")
    assert "\r" not in p.stdout and "\x1b" not in p.stdout  # piped: plain lines, no status-line redraws
    lines = p.stdout.splitlines()
    # the per-step lines of a normal run, for both episodes
    assert any(line.startswith("step   1  click (") for line in lines), p.stdout
    assert any(line.startswith("step   2  type \"Hello, world!\"") for line in lines), p.stdout
    assert f"both reports: runs/{out.name}/index.html" in lines, p.stdout
    for folder in (out / "settings" / "SystemWifiToggle_0", out / "text_editor" / "editor-write-greeting"):
        assert f"  report:     runs/{out.name}/{folder.relative_to(out)}/report.html" in lines, p.stdout
        traj = json.loads(load_trajectory(folder).model_dump_json())
        assert traj["status"] == "success"
        html = (folder / "report.html").read_text()
        # self-contained: every step's screenshot is inside
        assert html.count('src="data:image/') >= len(traj["steps"]), html[:300]
        # the bench's verdict heads the report
        assert "<dt>Score</dt><dd>1 (success)</dd>" in html and "<dt>Evaluator</dt>" in html
        # the executed actions changed the screen: the screen after the last action differs from the first
        first = Image.open(folder / "step_001.png").convert("RGB")
        final = Image.open(folder / "final.png").convert("RGB")
        assert ImageChops.difference(first, final).getbbox() is not None
    index = (out / "index.html").read_text()
    # times as times, flags as words: no epoch floats, no False
    assert re.search(r"<dd>\d{10}\.\d+</dd>", index) is None and "<dd>False</dd>" not in index, index
    assert re.search(r"<dt>started_at</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</dd>", index), index
    record = json.loads((out / "text_editor" / "editor-write-greeting" / "result.json").read_text())
    assert record["score"] == 1.0  # the evaluator read the saved file


def test_the_demo_names_the_missing_system_packages_in_one_line(tmp_path):
    """Without Xvfb and adb on PATH: exit 2, one line with the apt command, no traceback, no run folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("xdotool", "bwrap"):  # everything else the demo needs is there
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"needs {name}")
        (bin_dir / name).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    p = subprocess.run([sys.executable, "-m", "guiagent", "demo"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.strip() == ("guiagent demo: error: the demo needs Xvfb, adb, which are not installed: "
                                "sudo apt-get install xvfb adb"), p.stderr
    assert not (tmp_path / "runs").exists()
