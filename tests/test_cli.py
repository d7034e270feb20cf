"""The CLI contract: commands, exit codes, and one-line errors for bad input (no tracebacks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def guiagent(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([sys.executable, "-m", "guiagent", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env={**base, **(env or {})}, timeout=120)


def one_line_error(p: subprocess.CompletedProcess) -> str:
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


def test_parse_prints_screen_coordinates_as_json():
    reply = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [935, 406]}}\n</tool_call>'
    p = guiagent("parse", "--env", "android", "--screen", "1080x2400", stdin=reply)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == [{"action": "click", "coordinate": [925, 405]}]


def test_parse_uses_the_pixel_budget():
    reply = '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [658, 364]}}'
    p = guiagent("parse", "--env", "desktop", "--screen", "1920x1080", "--max-pixels", "1003520", stdin=reply)
    # 1920x1080 at max 1003520 -> 1316x728; 658*1920/1316 = 960, 364*1080/728 = 540
    assert json.loads(p.stdout) == [{"action": "left_click", "coordinate": [960, 540]}]


def test_parse_failure_exits_1_with_a_clear_message():
    p = guiagent("parse", "--env", "desktop", "--screen", "1920x1080", stdin="I clicked it.")
    assert p.returncode == 1
    assert "No tool call found" in one_line_error(p)


def test_parse_out_of_screen_exits_1():
    p = guiagent("parse", "--env", "desktop", "--screen", "1920x1080",
                 stdin='{"action": "left_click", "coordinate": [5000, 1]}')
    assert p.returncode == 1
    assert "outside the screen" in one_line_error(p)


@pytest.mark.parametrize(("args", "message"), [
    (["prompt", "x", "--env", "desktop", "--screen", "1920by1080"], "--screen must look like 1920x1080"),
    (["prompt", "x", "--env", "toaster", "--screen", "10x10"], "unknown env 'toaster'"),
    (["prompt", "x", "--env", "desktop", "--screen", "100x100", "--min-pixels", "9000", "--max-pixels", "4000"],
     "must not exceed"),
    (["run", "x", "--env", "desktop", "--model", "scripted:/nonexistent/replies.json"], "not found"),
    (["run", "x", "--env", "desktop", "--model", "gpt:4"], "unknown model spec"),
    (["run", "x", "--env", "desktop", "--history", "all"], "history policy"),
    (["run", "x"], "--env"),
    (["replay", "/nonexistent/run", "--env", "desktop"], "not found"),
])
def test_bad_usage_is_one_line_and_exit_2(args, message):
    p = guiagent(*args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert message in one_line_error(p)


def test_bad_scripted_file_names_the_file(tmp_path):
    bad = tmp_path / "replies.json"
    bad.write_text('{"not": "a list"}')
    p = guiagent("run", "x", "--env", "desktop", "--model", f"scripted:{bad}")
    assert p.returncode == 2
    assert str(bad) in one_line_error(p)


def test_run_without_display_is_a_one_line_error(tmp_path):
    replies = tmp_path / "r.json"
    replies.write_text('["I am done."]')  # a valid script: the display is what is missing
    p = guiagent("run", "x", "--env", "desktop", "--model", f"scripted:{replies}", "--out", str(tmp_path / "o"))
    assert p.returncode == 2
    assert "DISPLAY" in one_line_error(p)


def test_help_needs_no_heavy_imports():
    code = ("import sys; from guiagent.cli import main; main(['--help']) if False else None; "
            "from guiagent import cli; cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'transformers', 'pyautogui', 'mss', 'adbutils', 'selenium') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_unusable_out_dir_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("x")
    replies = tmp_path / "r.json"
    replies.write_text("[]")
    p = guiagent("run", "x", "--env", f"replay:{ROOT / 'tests/data/desktop_run'}", "--model", f"scripted:{replies}",
                 "--out", str(tmp_path / "file" / "out"))
    assert p.returncode == 2
    assert "cannot create the run directory" in one_line_error(p)
