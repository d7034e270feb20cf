"""The local OSWorld subset behaves as OSWorld's SetupController, getters and VM server do (real Xvfb,
real bubblewrap, a real HTTP server on loopback)."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from pathlib import Path

import pytest
from guiagent.agent.loop import Result
from guiagent.agent.trajectory import RunMeta, Trajectory
from guiagent.harness.evaluators import compare_text_file, evaluate, get_vm_command_line
from guiagent.harness.osworld import OSWorldTask
from guiagent.harness.osworld_cache import download_cache_name
from guiagent.harness.steps import run_steps, substitute


def _result(status: str) -> Result:
    meta = RunMeta(instruction="x", env="desktop", model="m", space="computer_use", min_pixels=1, max_pixels=2,
                   max_steps=1)
    return Result(status=status, steps=1, reason=None, answer=None, out_dir=None, trajectory=Trajectory(meta=meta))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    from guiagent.envs.xvfb import xvfb_available
    from guiagent.harness.isolation import bwrap_path

    if not xvfb_available():
        pytest.skip("needs Xvfb (apt install xvfb)")
    if bwrap_path() is None:
        pytest.skip("needs bubblewrap (apt install bubblewrap)")
    from guiagent.harness.sandboxes.desktop import DesktopSandbox

    sb = DesktopSandbox(tmp_path_factory.mktemp("osworld-sb"), screen=(1280, 720))
    try:
        yield sb
    finally:
        sb.close()


@pytest.fixture
def server(tmp_path):
    """A real HTTP server on loopback serving tmp_path/www; counts the requests it answered."""
    www = tmp_path / "www"
    www.mkdir()
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(www), **k)

        def log_message(self, *_a):
            hits.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", www, hits, httpd
    httpd.shutdown()
    httpd.server_close()


def _task(tmp_path: Path, data: dict) -> OSWorldTask:
    folder = tmp_path / "evaluation_examples" / "examples" / "os"
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{data['id']}.json"
    file.write_text(json.dumps(data))
    return OSWorldTask(data, str(file), "os")


def test_placeholders_are_substituted_as_osworld_does():
    assert substitute("{SCREEN_WIDTH}x{SCREEN_HEIGHT} {SCREEN_WIDTH_HALF},{SCREEN_HEIGHT_HALF} {CLIENT_PASSWORD}",
                      (1920, 1080)) == "1920x1080 960,540 password"
    assert substitute(["echo", "{SCREEN_HEIGHT_HALF}"], (1281, 721)) == ["echo", "360"]


def test_execute_substitutes_the_sandbox_screen_and_password(sandbox, tmp_path):
    sandbox.prepare("ph")
    task = _task(tmp_path, {"id": "ph", "instruction": "x", "evaluator": {"func": "infeasible"}})
    run_steps(sandbox, [{"type": "execute", "parameters": {
        "command": "echo {SCREEN_WIDTH}x{SCREEN_HEIGHT} {SCREEN_WIDTH_HALF} {CLIENT_PASSWORD}", "shell": True,
        "stdout": "out.txt"}}], task, task.source)
    assert (sandbox.scratch / "out.txt").read_text() == "1280x720 640 password\n"


def test_http_download_fills_osworld_cache_layout_and_a_filled_cache_runs_offline(sandbox, tmp_path, server,
                                                                                  monkeypatch):
    base, www, hits, httpd = server
    monkeypatch.delenv("GUIAGENT_OSWORLD_CACHE", raising=False)
    (www / "data.xlsx").write_bytes(b"spreadsheet bytes")
    url = f"{base}/data.xlsx"
    task = _task(tmp_path, {"id": "dl-1", "instruction": "x", "evaluator": {"func": "infeasible"}})
    step = [{"type": "download", "parameters": {"files": [{"url": url, "path": "/home/user/Desktop/d.xlsx"}]}}]
    sandbox.prepare("dl-1")
    run_steps(sandbox, step, task, task.source)
    assert (sandbox.home / "Desktop" / "d.xlsx").read_bytes() == b"spreadsheet bytes"
    cached = tmp_path / "cache" / "dl-1" / f"{uuid.uuid5(uuid.NAMESPACE_URL, url)}_d.xlsx"  # OSWorld's name
    assert cached.read_bytes() == b"spreadsheet bytes" and download_cache_name(url, "/x/d.xlsx") == cached.name
    assert hits == ["/data.xlsx"]
    httpd.shutdown()  # offline now: the cache alone serves the next run
    sandbox.prepare("dl-1")
    run_steps(sandbox, step, task, task.source)
    assert (sandbox.home / "Desktop" / "d.xlsx").read_bytes() == b"spreadsheet bytes" and hits == ["/data.xlsx"]


def test_cloud_file_over_http_uses_the_cache_with_multi_and_gives(sandbox, tmp_path, server, monkeypatch):
    base, www, hits, _ = server
    monkeypatch.setenv("GUIAGENT_OSWORLD_CACHE", str(tmp_path / "mycache"))
    (www / "a.txt").write_text("gold a")
    (www / "b.txt").write_text("gold b")
    (tmp_path / "mycache" / "cf").mkdir(parents=True)
    (tmp_path / "mycache" / "cf" / "pre.txt").write_text("prefilled")  # present: never fetched
    task = _task(tmp_path, {"id": "cf", "instruction": "x", "evaluator": {"func": "infeasible"}})
    sandbox.prepare("cf")
    (sandbox.home / "r.txt").write_text("gold b")
    spec = {"func": "compare_text_file", "result": {"type": "vm_file", "path": "/home/user/r.txt", "dest": "r.txt"},
            "expected": {"type": "cloud_file", "multi": True, "gives": [1],
                         "path": [f"{base}/a.txt", f"{base}/b.txt", f"{base}/missing.txt"],
                         "dest": ["a.txt", "b.txt", "pre.txt"]}}
    out = evaluate(sandbox, spec, _result("success"), task)
    assert out.score == 1.0, out.detail
    assert out.detail["expected"] == str(tmp_path / "mycache" / "cf" / "b.txt")
    assert sorted(hits) == ["/a.txt", "/b.txt"]  # every file is fetched into the cache, only gives returned


def test_vm_file_multi_gives_returns_the_given_files_and_none_for_missing(sandbox, tmp_path):
    from guiagent.harness.evaluators import get_vm_file

    sandbox.prepare("vf")
    (sandbox.home / "a.txt").write_text("a")
    task = _task(tmp_path, {"id": "vf", "instruction": "x", "evaluator": {"func": "infeasible"}})
    cfg = {"type": "vm_file", "multi": True, "gives": [0, 2], "path": ["/home/user/a.txt", "~/b.txt", "$HOME/none"],
           "dest": ["a1.txt", "b1.txt", "n1.txt"]}
    assert get_vm_file(sandbox, cfg, task) == [str(sandbox.scratch / "a1.txt"), None]
    assert get_vm_file(sandbox, {"path": "/home/user/none", "dest": "x"}, task) is None


def test_a_failed_command_without_output_gives_empty_string(sandbox, tmp_path):
    sandbox.prepare("cmd")
    task = _task(tmp_path, {"id": "cmd", "instruction": "x", "evaluator": {"func": "infeasible"}})
    assert get_vm_command_line(sandbox, {"command": "exit 3", "shell": True}, task) == ""
    assert get_vm_command_line(sandbox, {"command": "echo hi; exit 1", "shell": True}, task) == "hi\n"


def test_tilde_arguments_and_home_are_expanded_as_the_vm_server_does(sandbox, tmp_path):
    sandbox.prepare("tilde")
    (sandbox.home / "a.txt").write_text("A")
    task = _task(tmp_path, {"id": "tilde", "instruction": "x", "evaluator": {"func": "infeasible"}})
    run_steps(sandbox, [{"type": "execute", "parameters": {"command": ["cp", "~/a.txt", "~/b.txt"]}},
                        {"type": "execute", "parameters": {"command": "cp $HOME/a.txt ~/c.txt", "shell": True}}],
              task, task.source)
    assert (sandbox.home / "b.txt").read_text() == "A" and (sandbox.home / "c.txt").read_text() == "A"


def test_launch_and_window_failures_are_logged_and_the_task_continues(sandbox, tmp_path, caplog):
    sandbox.prepare("lw")
    task = _task(tmp_path, {"id": "lw", "instruction": "x", "evaluator": {"func": "infeasible"}})
    with caplog.at_level("WARNING"):
        run_steps(sandbox, [{"type": "launch", "parameters": {"command": ["/no/such/program"]}},
                            {"type": "activate_window", "parameters": {"window_name": "No Such Window"}},
                            {"type": "close_window", "parameters": {"window_name": "No Such Window"}},
                            {"type": "execute", "parameters": {"command": "echo done > ~/after", "shell": True}}],
                  task, task.source)
    assert (sandbox.home / "after").read_text() == "done\n"
    text = caplog.text
    # a program missing inside the sandbox fails there, after the launch: the steps after it still ran
    assert "activate_window 'No Such Window' failed" in text and "close_window 'No Such Window' failed" in text


def test_postconfig_runs_before_scoring_an_infeasible_task(sandbox, tmp_path):
    sandbox.prepare("inf")
    spec = {"func": "infeasible",
            "postconfig": [{"type": "execute", "parameters": {"command": "echo ran > ~/post", "shell": True}}]}
    task = _task(tmp_path, {"id": "inf", "instruction": "x", "evaluator": spec})
    assert evaluate(sandbox, spec, _result("failure"), task).score == 1.0
    assert (sandbox.home / "post").read_text() == "ran\n"


def test_files_with_different_invalid_utf8_are_not_equal(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(b"x\xff")
    b.write_bytes(b"x\xfe")
    c.write_bytes(b"x\xff")
    assert compare_text_file(str(a), str(b)) == 0.0
    assert compare_text_file(str(a), str(c)) == 1.0


def _index_tasks() -> dict[str, list[dict]]:
    """Task JSON in OSWorld's shape, one per feature this subset has or lacks (not OSWorld's own files)."""
    vm = {"type": "vm_file", "path": "/home/user/r.xlsx", "dest": "r.xlsx"}
    gold = {"type": "cloud_file", "path": "https://example.invalid/gold.xlsx", "dest": "gold.xlsx"}
    dl = {"type": "download", "parameters": {"files": [{"url": "https://example.invalid/a.xlsx",
                                                        "path": "/home/user/a.xlsx"}]}}
    ex = {"type": "execute", "parameters": {"command": ["python", "-c", "print({SCREEN_WIDTH_HALF})"]}}
    table = {"func": "compare_table", "result": vm, "expected": gold,
             "options": {"rules": [{"type": "sheet_data", "sheet_idx0": 0, "sheet_idx1": "EI0"}]}}
    return {
        "libreoffice_calc": [
            {"config": [dl], "evaluator": table},
            {"config": [dl], "evaluator": {**table, "options": {"rules": [{"type": "style"}]}}},
        ],
        "libreoffice_writer": [{"config": [dl], "evaluator": {"func": "compare_docx_files", "expected": gold,
                                                              "result": {**vm, "path": "/home/user/a.docx"}}}],
        "libreoffice_impress": [{"config": [dl], "evaluator": {"func": "compare_pptx_files", "result": vm,
                                                               "expected": gold}}],
        "os": [
            {"config": [ex], "evaluator": {"func": "check_direct_json_object", "result": {
                "type": "vm_command_line", "command": "echo {}", "shell": True},
                "expected": {"type": "rule", "rules": {"expected": {}}}}},
            {"config": [], "evaluator": {"func": "infeasible"}},
            {"config": [{"type": "googledrive", "parameters": {}}], "evaluator": {"func": "infeasible"}},
        ],
        "vs_code": [{"config": [ex], "evaluator": {"func": "check_json_settings", "result": vm,
                                                  "expected": {"type": "rule", "rules": {"expected": {"a": 1}}}}}],
        "chrome": [{"config": [], "evaluator": {"func": "is_expected_tabs", "result": {"type": "open_tabs_info"},
                                                "expected": {"type": "rule", "rules": {}}}}],
        "broken": [{"config": "not a list", "evaluator": {"func": "infeasible"}}],
    }


def test_loadable_and_runnable_counts_over_a_test_all_index(tmp_path):
    """The README's counts: an OSWorld-shaped test_all.json index of the task JSON above."""
    from guiagent.harness.base import InvalidTask
    from guiagent.harness.loader import load_suite

    root = tmp_path / "evaluation_examples"
    index: dict[str, list[str]] = {}
    for domain, items in _index_tasks().items():
        for i, item in enumerate(items):
            tid = f"{domain}-{i}"
            index.setdefault(domain, []).append(tid)
            folder = root / "examples" / domain
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{tid}.json").write_text(json.dumps({"id": tid, "instruction": "Do it.", **item}))
    (root / "test_all.json").write_text(json.dumps(index))
    tasks = load_suite(str(root / "test_all.json")).tasks
    loadable = [t for t in tasks if not isinstance(t, InvalidTask)]
    runnable = {t.id for t in loadable if t.skip_reason is None}
    reasons = {t.id: t.skip_reason for t in loadable if t.skip_reason}
    assert (len(tasks), len(loadable), len(runnable)) == (10, 9, 6), reasons
    assert runnable == {"libreoffice_calc-0", "libreoffice_writer-0", "libreoffice_impress-0", "os-0", "os-1",
                        "vs_code-0"}
    assert "compare_table rule 'style'" in reasons["libreoffice_calc-1"]
    assert "is_expected_tabs" in reasons["chrome-0"] and "googledrive" in reasons["os-2"]
