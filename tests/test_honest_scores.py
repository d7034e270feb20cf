"""Honest scores: a do-nothing agent on a mixed OSWorld-format suite (scored, skipped, errored, invalid and
infeasible tasks) gets the true rate, successes / every task selected, in summary.json, summary.md and
index.html; a task the harness cannot evaluate is skipped before its episode; the infeasible mapping is
stated and OSWorld's own can be chosen. Real Xvfb desktop sandboxes, a scripted model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from guiagent.harness.results import collect, group_reasons

from guiagent.cli.bench import main as bench

# The do-nothing agent of the issue: it gives up at once, which OSWorld reads as FAIL.
GIVE_UP = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "failure"}}\n</tool_call>'


def needs_xvfb() -> None:
    if not shutil.which("Xvfb"):
        pytest.skip("needs Xvfb (apt install xvfb)")


def _osworld(folder: Path, task_id: str, evaluator: dict, config: list | None = None) -> None:
    (folder / f"{task_id}.json").write_text(json.dumps({
        "id": task_id, "instruction": f"Do {task_id}.", "snapshot": "os", "config": config or [],
        "evaluator": evaluator}), encoding="utf-8")


def _mixed_suite(root: Path) -> Path:
    suite = root / "examples" / "os"
    suite.mkdir(parents=True)
    # scored: the file the agent should have written is missing (0); infeasible: FAIL wins it (1)
    _osworld(suite, "feasible", {"func": "compare_text_file",
                                 "result": {"type": "vm_file", "path": "/home/user/out.txt", "dest": "out.txt"},
                                 "expected": {"type": "cloud_file", "path": "gold.txt", "dest": "gold.txt"}})
    (suite / "gold.txt").write_text("hello\n", encoding="utf-8")
    _osworld(suite, "infeasible", {"func": "infeasible"})
    # skipped: the gold file's source is one the harness cannot fetch (ftp), known before the episode
    _osworld(suite, "gold-online", {"func": "compare_text_file",
                                    "result": {"type": "vm_file", "path": "/home/user/a.txt", "dest": "a.txt"},
                                    "expected": {"type": "cloud_file", "path": "ftp://example.com/a.txt",
                                                 "dest": "a_gold.txt"}})
    # errored: its setup's source file does not exist (an infrastructure error, retried once)
    _osworld(suite, "broken-setup", {"func": "infeasible"},
             [{"type": "download", "parameters": {"files": [{"url": "missing.txt", "path": "/home/user/m.txt"}]}}])
    # invalid: no evaluator
    (suite / "invalid.json").write_text(json.dumps({"id": "invalid", "instruction": "x"}), encoding="utf-8")
    return suite


def _run(tmp_path: Path, name: str, *extra: str) -> tuple[dict, Path]:
    suite = _mixed_suite(tmp_path / name)
    replies = tmp_path / f"{name}-replies.json"
    replies.write_text(json.dumps([GIVE_UP] * 10), encoding="utf-8")
    out = tmp_path / f"{name}-out"
    rc = bench([str(suite), "--model", f"scripted:{replies}", "--out", str(out), "--timeout", "120", *extra])
    assert rc == 1  # an errored and an invalid task
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), out


def test_a_do_nothing_agent_gets_the_true_rate_on_a_mixed_suite(tmp_path):
    needs_xvfb()
    s, out = _run(tmp_path, "ours")
    by_id = {r.id: r for r in collect(out)}
    assert {i: r.status for i, r in by_id.items()} == {
        "feasible": "scored", "infeasible": "scored", "gold-online": "skipped", "broken-setup": "error",
        "invalid": "invalid"}
    assert by_id["feasible"].score == 0.0 and by_id["infeasible"].score == 1.0
    # skipped before its episode: nothing of it ran, no trajectory was written
    assert "unsupported URL scheme 'ftp'" in by_id["gold-online"].reason
    assert not list(out.glob("*/gold-online/trajectory.json"))
    # the true rate: 1 success of 5 selected tasks; 1 of the 2 scored
    assert (s["total"], s["scored"], s["skipped"], s["errors"], s["invalid"], s["successes"]) == (5, 2, 1, 1, 1, 1)
    assert s["success_rate"] == pytest.approx(1 / 5) and s["scored_success_rate"] == pytest.approx(1 / 2)
    assert s["mean_score"] == pytest.approx(1 / 5)
    assert s["overall"]["success_rate"] == s["success_rate"] and s["overall"]["success"] == 1
    assert s["per_domain"]["os"]["total"] == 4 and s["per_domain"]["invalid"]["total"] == 1
    assert list(s["skip_reasons"].values()) == [1, 1] and list(s["error_reasons"].values()) == [1]
    assert s["infeasible"]["mapping"] == "guiagent" and s["infeasible"]["tasks"] == 2
    assert s["infeasible"]["successes"] == 1
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "Success rate 20.0% (1/5 tasks" in md and "50.0% of the 2 scored" in md
    assert "1 skipped, 1 errored, 1 invalid" in md
    # the grouped reasons
    assert "1 skipped/invalid: evaluator cloud_file: unsupported URL scheme 'ftp'" in md
    assert "1 errored: download source missing.txt not found (<path>)" in md
    assert "terminate(status=failure) -> FAIL" in md and "DONE for every terminate" in md
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Success rate 20.0% (1/5 tasks" in index and "1 skipped, 1 errored, 1 invalid" in index


def test_osworld_mapping_sends_done_for_every_terminate(tmp_path):
    needs_xvfb()
    s, out = _run(tmp_path, "osworld", "--infeasible-mapping", "osworld")
    by_id = {r.id: r for r in collect(out)}
    # DONE, not FAIL: the infeasible task is lost, and the feasible one is evaluated (its file is missing)
    assert by_id["infeasible"].score == 0.0 and by_id["infeasible"].detail["last_action_fail"] is False
    assert by_id["feasible"].score == 0.0 and by_id["feasible"].detail.get("metric") == "compare_text_file"
    assert s["successes"] == 0 and s["success_rate"] == 0.0 and s["total"] == 5
    assert s["infeasible"]["mapping"] == "osworld" and "every terminate -> DONE" in s["infeasible"]["rule"]
    assert json.loads((out / "args.json").read_text())["infeasible_mapping"] == "osworld"


def test_alike_reasons_group_together():
    groups = group_reasons([
        "setup step 1 type 'googledrive' is not supported on desktop",
        "setup step 3 type 'googledrive' is not supported on desktop",
        "download from the network is not supported here (https://a.example/x.xlsx); use a local path",
        "download from the network is not supported here (http://b.example/y?z=1); use a local path",
        "evaluator metric 'compare_table' is not supported",
        None,
    ])
    assert groups == {
        "download from the network is not supported here (<url>); use a local path": 2,
        "setup step N type 'googledrive' is not supported on desktop": 2,
        "evaluator metric 'compare_table' is not supported": 1,
        "no reason recorded": 1,
    }


def test_network_sources_are_known_at_load_time(tmp_path):
    from guiagent.harness.loader import load_suite

    suite = tmp_path / "examples" / "os"
    suite.mkdir(parents=True)
    _osworld(suite, "setup-online", {"func": "infeasible"},
             [{"type": "download", "parameters": {"files": [{"url": "https://example.com/f.xlsx",
                                                             "path": "/home/user/f.xlsx"}]}}])
    _osworld(suite, "postconfig-online", {
        "func": "compare_text_file", "result": {"type": "vm_file", "path": "/home/user/a.txt", "dest": "a.txt"},
        "expected": {"type": "rule", "rules": {}},
        "postconfig": [{"type": "download", "parameters": {"files": [{"url": "ftp://example.com/g.txt",
                                                                       "path": "/home/user/g.txt"}]}}]})
    _osworld(suite, "local", {"func": "infeasible"})
    tasks = {t.id: t for t in load_suite(str(suite)).tasks}
    # http(s) sources go through OSWorld's cache layout (harness.osworld_cache): loadable; ftp is not
    assert tasks["setup-online"].skip_reason is None
    assert tasks["postconfig-online"].skip_reason.startswith("postconfig step 1: unsupported URL scheme 'ftp'")
    assert tasks["local"].skip_reason is None
