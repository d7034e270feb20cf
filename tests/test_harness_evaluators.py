"""OSWorld's evaluator semantics: metrics, getters on a real desktop sandbox, conj, infeasible."""

from __future__ import annotations

from pathlib import Path

import pytest
from guiagent.agent.loop import Result
from guiagent.agent.trajectory import RunMeta, Trajectory
from guiagent.harness.evaluators import check_include_exclude, compare_text_file, evaluate, exact_match


class _Task:
    source = ""


def _result(status: str) -> Result:
    meta = RunMeta(instruction="x", env="desktop", model="m", space="computer_use", min_pixels=1, max_pixels=2,
                   max_steps=1)
    return Result(status=status, steps=1, reason=None, answer=None, out_dir=None, trajectory=Trajectory(meta=meta))


def _rule(value) -> dict:
    return {"type": "rule", "rules": value}


def test_exact_match_and_include_exclude():
    assert exact_match("1\n", {"expected": "1\n"}) == 1.0
    assert exact_match("1", {"expected": "1\n"}) == 0.0
    assert check_include_exclude("alpha beta", {"include": ["alpha"], "exclude": ["gamma"]}) == 1.0
    assert check_include_exclude("alpha gamma", {"include": ["alpha"], "exclude": ["gamma"]}) == 0.0
    assert check_include_exclude(None, {"include": []}) == 0.0


def test_compare_text_file_options(tmp_path):
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text("Hello  World\n\n")
    b.write_text("hello world")
    assert compare_text_file(str(a), str(b)) == 0.0
    assert compare_text_file(str(a), str(b), ignore_blanks=True) == 0.0
    assert compare_text_file(str(a), str(b), ignore_blanks=True, ignore_case=True) == 1.0
    assert compare_text_file(None, str(b)) == 0.0


def test_conj_and_stops_at_zero_or_takes_the_mean():
    spec = {"func": ["exact_match", "exact_match"], "result": [_rule("x"), _rule("y")],
            "expected": [_rule({"expected": "x"}), _rule({"expected": "nope"})]}
    # `rule` getters need no env; a None sandbox proves nothing else was touched
    assert evaluate(None, spec, _result("success"), _Task()).score == 0.0
    spec["expected"][1] = _rule({"expected": "y"})
    assert evaluate(None, spec, _result("success"), _Task()).score == 1.0


def test_conj_or_returns_one_at_the_first_one():
    spec = {"func": ["exact_match", "exact_match"], "conj": "or", "result": [_rule("x"), _rule("y")],
            "expected": [_rule({"expected": "no"}), _rule({"expected": "y"})]}
    out = evaluate(None, spec, _result("success"), _Task())
    assert out.score == 1.0
    assert [m["metric"] for m in out.detail["metrics"]] == ["exact_match", "exact_match"]


def test_infeasible_scores_one_only_after_fail():
    spec = {"func": "infeasible"}
    assert evaluate(None, spec, _result("failure"), _Task()).score == 1.0
    for status in ("success", "max_steps", "stalled"):
        assert evaluate(None, spec, _result(status), _Task()).score == 0.0


def test_fail_on_a_feasible_task_scores_zero_without_evaluating():
    spec = {"func": "exact_match", "result": _rule("x"), "expected": _rule({"expected": "x"})}
    assert evaluate(None, spec, _result("success"), _Task()).score == 1.0
    out = evaluate(None, spec, _result("failure"), _Task())
    assert out.score == 0.0 and "FAIL" in out.detail["reason"]


@pytest.fixture(scope="module")
def desktop_sandbox(tmp_path_factory):
    from guiagent.envs.xvfb import xvfb_available

    if not xvfb_available():
        pytest.skip("needs Xvfb (apt install xvfb)")
    from guiagent.harness.sandboxes.desktop import DesktopSandbox

    sb = DesktopSandbox(tmp_path_factory.mktemp("desktop-sandbox"))
    try:
        yield sb
    finally:
        sb.close()


def test_getters_and_setup_steps_on_a_real_desktop_sandbox(desktop_sandbox, tmp_path):
    from guiagent.harness.steps import run_steps

    sb = desktop_sandbox
    sb.prepare("getters")
    src = tmp_path / "data.txt"
    src.write_text("payload\n")
    task = _Task()
    task.source = str(tmp_path / "task.json")
    run_steps(sb, [
        {"type": "download", "parameters": {"files": [{"url": src.as_uri(), "path": "/home/user/in/data.txt"},
                                                      {"url": "data.txt", "path": "/home/user/rel.txt"}]}},
        {"type": "execute", "parameters": {"command": ["cp", "/home/user/in/data.txt", "/home/user/out.txt"]}},
        {"type": "command", "parameters": {"command": "echo $HOME > where.txt", "shell": True}},
    ], task, task.source)
    assert (sb.home / "in" / "data.txt").read_text() == "payload\n"  # /home/user maps to the task's home
    assert (sb.home / "rel.txt").read_text() == "payload\n"  # relative URLs are relative to the task file
    assert (sb.home / "where.txt").read_text().strip() == "/home/user"  # commands see OSWorld's home (bubblewrap)
    expected = tmp_path / "gold.txt"
    expected.write_text("payload")
    spec = {"func": ["compare_text_file", "check_include_exclude"],
            "result": [{"type": "vm_file", "path": "/home/user/out.txt", "dest": "out.txt"},
                       {"type": "vm_command_line", "command": ["ls", "/home/user"]}],
            "expected": [{"type": "cloud_file", "path": "gold.txt"}, _rule({"include": ["out.txt", "rel.txt"]})],
            "options": [{"ignore_blanks": True}, {}]}
    out = evaluate(sb, spec, _result("success"), task)
    assert out.score == 1.0, out.detail
    missing = {"func": "compare_text_file", "result": {"type": "vm_file", "path": "/home/user/none.txt", "dest": "n"},
               "expected": {"type": "cloud_file", "path": "gold.txt"}}
    out = evaluate(sb, missing, _result("success"), task)
    assert out.score == 0.0 and out.detail["result"] is None  # OSWorld's get_vm_file gives None for it


def test_an_unreachable_download_not_in_the_cache_is_an_infra_error(desktop_sandbox, tmp_path, monkeypatch):
    from guiagent.harness.base import InfraError
    from guiagent.harness.steps import run_steps

    monkeypatch.setenv("GUIAGENT_OSWORLD_CACHE", str(tmp_path / "cache"))
    sb = desktop_sandbox
    sb.prepare("net")
    task = _Task()
    task.name = "net"
    with pytest.raises(InfraError, match="not in the cache"):  # port 9 on loopback: nothing listens
        run_steps(sb, [{"type": "download", "parameters": {"files": [
            {"url": "http://127.0.0.1:9/NetIncome.xlsx", "path": "/home/user/NetIncome.xlsx"}]}}],
            task, str(tmp_path / "t.json"))
    assert not Path(sb.home / "NetIncome.xlsx").exists()
