"""Task files are untrusted input: a hostile task cannot create, modify or read a file outside its home.

Real parts: the desktop sandbox on Xvfb, real bubblewrap, `guiagent bench` on task files written here. Each
hostile task is either skipped before it runs (a path that leads out of its folders) or runs its commands
in bubblewrap, where the host is not there to write or read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from guiagent.harness import isolation

from guiagent.cli.bench import main as bench

TERMINATE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'
SECRET = "s3cr3t-8d1f0c"


def needs_sandbox() -> None:
    from guiagent.envs.xvfb import xvfb_available

    if not xvfb_available():
        pytest.skip("needs Xvfb (apt install xvfb)")
    if isolation.bwrap_path() is None:
        pytest.skip(f"needs bubblewrap ({isolation.BWRAP_INSTALL_HINT})")


def _task(task_id: str, config: list, result: dict, expected: dict | None = None) -> dict:
    evaluator: dict = {"func": "check_include_exclude", "result": result,
                       "expected": expected or {"type": "rule", "rules": {"include": ["x"]}}}
    if expected is not None:
        evaluator["func"] = "compare_text_file"
    return {"id": task_id, "instruction": "do nothing", "config": config, "evaluator": evaluator}


def _run(tmp_path: Path, tasks: list[dict], *extra: str) -> dict:
    suite = tmp_path / "suite"
    suite.mkdir(parents=True, exist_ok=True)
    for t in tasks:
        (suite / f"{t['id']}.json").write_text(json.dumps(t))
    (suite / "fixture.txt").write_text("fixture\n")
    (suite / "hi.txt").write_text("hi\n")
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([TERMINATE] * 20))
    out = tmp_path / "out"
    bench([str(suite), "--model", f"scripted:{script}", "--out", str(out), *extra])
    return {t["id"]: t for t in json.loads((out / "summary.json").read_text())["tasks"]}


def _everything_written(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file() and p.suffix != ".png")


def test_paths_that_lead_out_of_the_task_folders_are_skipped_before_anything_runs(tmp_path):
    needs_sandbox()
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text(SECRET)
    ls = {"type": "vm_command_line", "command": "ls", "shell": True}
    hostile = [
        _task("dl-dotdot", [{"type": "download", "parameters": {"files": [
            {"url": "fixture.txt", "path": f"/home/user/../../{outside}/made.txt"}]}}], ls),
        _task("dl-absolute", [{"type": "download", "parameters": {"files": [
            {"url": "fixture.txt", "path": str(outside / "made.txt")}]}}], ls),
        _task("dl-tilde", [{"type": "download", "parameters": {"files": [
            {"url": "fixture.txt", "path": "~/../../made.txt"}]}}], ls),
        _task("dl-source", [{"type": "download", "parameters": {"files": [
            {"url": secret.as_uri(), "path": "/home/user/stolen.txt"}]}}], ls),
        _task("dl-relative-source", [{"type": "download", "parameters": {"files": [
            {"url": "../outside/secret.txt", "path": "/home/user/stolen.txt"}]}}], ls),
        _task("vmfile-dest", [], {"type": "vm_file", "path": "/home/user/a.txt", "dest": "../../made.txt"},
              {"type": "cloud_file", "path": "fixture.txt"}),
        _task("vmfile-host", [], {"type": "vm_file", "path": str(secret), "dest": "s.txt"},
              {"type": "cloud_file", "path": "fixture.txt"}),
        _task("cloud-host", [], {"type": "vm_file", "path": "/home/user/a.txt", "dest": "a.txt"},
              {"type": "cloud_file", "path": str(secret)}),
        _task("execute-stdout", [{"type": "execute", "parameters": {"command": "true", "shell": True,
                                                                    "stdout": "../../../made.txt"}}], ls),
        _task("username", [{"type": "open", "parameters": {"path": "/home/username/x.txt"}}], ls),
    ]
    tasks = _run(tmp_path, hostile)
    for t in hostile:
        assert tasks[t["id"]]["status"] == "skipped", tasks[t["id"]]
        assert "outside" in tasks[t["id"]]["reason"], tasks[t["id"]]
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert SECRET not in _everything_written(tmp_path / "out")


def test_commands_run_in_bubblewrap_and_cannot_touch_the_host(tmp_path):
    needs_sandbox()
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text(SECRET)
    victim = outside / "victim.txt"
    victim.write_text("unchanged\n")
    home_secret = Path.home() / f".guiagent-test-secret-{tmp_path.name}"
    home_secret.write_text(SECRET)
    attacks = (f"echo pwned > {outside}/made.txt; echo pwned >> {victim}; rm -f {victim}; "
               f"cp {secret} /home/user/stolen.txt; cat {home_secret} >> /home/user/stolen.txt; "
               f"sudo touch {outside}/sudo.txt; ln -s {secret} /home/user/link.txt; "
               f"echo $OPENAI_API_KEY > /home/user/env.txt; echo inside > /home/user/proof.txt")
    try:
        tasks = _run(tmp_path, [
            _task("commands", [{"type": "execute", "parameters": {"command": attacks, "shell": True}}],
                  {"type": "vm_command_line", "command": f"cat {secret} {home_secret}; cat /home/user/proof.txt",
                   "shell": True}),
            _task("symlink-out", [{"type": "execute", "parameters": {"command": f"ln -s {secret} /home/user/l.txt",
                                                                     "shell": True}}],
                  {"type": "vm_file", "path": "/home/user/l.txt", "dest": "l.txt"},
                  {"type": "cloud_file", "path": "fixture.txt"}),
        ])
    finally:
        home_secret.unlink()
    # the command ran (inside), its getter too, and nothing outside changed or was read
    assert tasks["commands"]["status"] == "scored", tasks["commands"]
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt", "victim.txt"]
    assert victim.read_text() == "unchanged\n"
    written = _everything_written(tmp_path / "out")
    assert "inside" in written  # the getter's output reached the results
    assert SECRET not in written
    # a symlink the task plants in its home is not followed out of it; found only at evaluation, after the
    # episode, it is an error (a failure in the success rate), never a skip that would leave the task uncounted
    assert tasks["symlink-out"]["status"] == "error" and "outside" in tasks["symlink-out"]["reason"]
    assert tasks["symlink-out"]["reason"].startswith("could not be evaluated after the episode")


def test_without_bubblewrap_command_tasks_are_skipped_unless_unsafe_host(tmp_path, monkeypatch):
    needs_sandbox()
    no_bwrap = tmp_path / "bin"
    no_bwrap.mkdir()
    for tool in ("Xvfb", "xdotool", "sh"):
        (no_bwrap / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(no_bwrap))
    isolation.bwrap_path.cache_clear()
    try:
        task = _task("host-command", [{"type": "execute", "parameters": {"command": "echo hi > made.txt",
                                                                         "shell": True}}],
                     {"type": "vm_file", "path": "/home/user/made.txt", "dest": "made.txt"},
                     {"type": "cloud_file", "path": "hi.txt"})
        skipped = _run(tmp_path / "a", [task])["host-command"]
        assert skipped["status"] == "skipped" and "bubblewrap is not installed" in skipped["reason"]
        assert "--unsafe-host" in skipped["reason"]
        ran = _run(tmp_path / "b", [task], "--unsafe-host")["host-command"]
        assert ran["status"] == "scored" and ran["score"] == 1.0, ran  # it ran, on the host: made.txt says hi
    finally:
        isolation.bwrap_path.cache_clear()
