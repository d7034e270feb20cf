"""The runner end to end with real envs: 2-worker oracle runs, the results layout, resume after
Ctrl+C, bad task files, unsupported OSWorld steps, infrastructure errors, and a real (tiny) model."""

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
from guiagent.agent.trajectory import load_trajectory
from guiagent.harness.results import collect

from guiagent.cli.bench import main as bench

ROOT = Path(__file__).resolve().parents[1]
MINIWOB_SUITE = ROOT / "harness" / "suites" / "miniwob" / "tasks.yaml"


def needs_browser() -> None:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("needs Debian's chromium and chromium-driver (apt install chromium chromium-driver)")


def needs_xvfb() -> None:
    if not shutil.which("Xvfb"):
        pytest.skip("needs Xvfb (apt install xvfb)")


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _check_osworld_layout(folder: Path, steps: int) -> None:
    """result.txt, traj.jsonl, step_N_<ts>.png (screen after step N), our trajectory.json."""
    assert (folder / "result.txt").read_text() == "1.0\n"
    traj = load_trajectory(folder).model_dump(mode="json")
    assert len(traj["steps"]) == steps and traj["status"] in ("success", "failure")
    lines = [json.loads(x) for x in (folder / "traj.jsonl").read_text().splitlines()]
    assert [x["step_num"] for x in lines] == list(range(1, steps + 1))
    assert lines[-1]["done"] is True and not any(x["done"] for x in lines[:-1])
    for line in lines:
        assert set(line) == {"step_num", "action_timestamp", "action", "response", "reward", "done", "info",
                             "screenshot_file"}
        assert (folder / line["screenshot_file"]).is_file()
        assert line["screenshot_file"].startswith(f"step_{line['step_num']}_")
    # the screen after step 1 is what step 2 observed (a hard link, not a copy)
    if steps > 1:
        assert os.path.samefile(folder / lines[0]["screenshot_file"], folder / "step_002.png")


def test_two_worker_oracle_run_on_miniwob(tmp_path, capsys):
    needs_browser()
    out = tmp_path / "run"
    rc = bench(["miniwob", "--model", "oracle", "--workers", "2", "--instances", "1", "--out", str(out),
                "--tasks", "click-test,enter-text,click-checkboxes,scroll-text-2,click-dialog-2"])
    assert rc == 0
    s = _summary(out)
    assert s["overall"]["scored"] == 5 and s["overall"]["success"] == 5, s["tasks"]
    assert s["workers"] == 2 and s["mean_steps"] >= 2
    assert set(s["per_domain"]) == {"click", "text", "checkbox", "scroll", "dialog"}
    printed = capsys.readouterr().out
    assert "miniwob: success 100.0% (5/5)" in printed
    rec = json.loads((out / "text" / "enter-text_0" / "result.json").read_text())
    assert rec["detail"]["raw_reward"] == 1 and rec["agent"]["status"] == "success"
    assert rec["instruction"].startswith("Enter \"") and rec["step_latency"] > 0
    _check_osworld_layout(out / "text" / "enter-text_0", rec["steps"])
    assert "| text | 1 | 1 | 1 | 100.0% |" in (out / "summary.md").read_text()


@pytest.fixture
def adb_port(adb_server, monkeypatch):
    """The session's private adb server, for the phones the harness starts itself."""
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    return adb_server.port


def test_two_worker_oracle_run_on_simphone(tmp_path, adb_port):
    out = tmp_path / "run"
    rc = bench(["simphone", "--model", "oracle", "--workers", "2", "--instances", "1", "--out", str(out),
                "--tasks", "SystemWifiToggle,ContactsAddContact,NotesDeleteNote,ContactsPhoneNumberQA"])
    assert rc == 0
    s = _summary(out)
    assert s["overall"]["success"] == 4, s["tasks"]
    qa = json.loads((out / "information_retrieval" / "ContactsPhoneNumberQA_0" / "result.json").read_text())
    assert qa["agent"]["status"] == "success" and qa["agent"]["answer"].startswith("+1 555-01")
    assert qa["detail"]["is_successful"] == 1.0
    _check_osworld_layout(out / "contacts" / "ContactsAddContact_0",
                          json.loads((out / "contacts" / "ContactsAddContact_0" / "result.json").read_text())["steps"])


def test_desktop_oracle_run_and_a_model_that_gives_wrong_endings(tmp_path):
    needs_xvfb()
    out = tmp_path / "oracle"
    tasks = "form-signup,editor-append-line,os-infeasible-spreadsheet"
    assert bench(["desktop", "--model", "oracle", "--tasks", tasks, "--out", str(out)]) == 0
    s = _summary(out)
    assert s["overall"]["success"] == 3, s["tasks"]
    # one HTML report per task, and an index linking each of them
    index = (out / "index.html").read_text(encoding="utf-8")
    for task_id in tasks.split(","):
        report = next(out.glob(f"*/{task_id}/report.html"))
        assert f'href="{report.relative_to(out).as_posix()}"' in index
    # A scripted model: "done" at once on the infeasible task, FAIL on a feasible one -> both score 0.
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "failure"}}\n</tool_call>',
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>',
    ]))
    out2 = tmp_path / "scripted"
    assert bench(["desktop", "--model", f"scripted:{script}", "--tasks", "form-newsletter,os-infeasible-spreadsheet",
                  "--out", str(out2)]) == 0
    by_id = {t["id"]: t for t in _summary(out2)["tasks"]}
    assert by_id["form-newsletter"]["score"] == 0.0 and by_id["form-newsletter"]["agent"] == "failure"
    assert by_id["os-infeasible-spreadsheet"]["score"] == 0.0
    assert by_id["os-infeasible-spreadsheet"]["agent"] == "success"


def test_bad_files_and_unsupported_osworld_steps_do_not_stop_the_run(tmp_path):
    needs_browser()
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "good.yaml").write_text(
        "id: good\nenv: miniwob\ntags: [click]\ninstances: 1\n"
        "setup: [{type: miniwob, parameters: {task: click-test}}]\nevaluator: {func: miniwob_reward}\n")
    (suite / "bad.yaml").write_text("id: bad\nenv: miniwob\nevaluator: {func: miniwob_reward}\nmax_steps: -3\n")
    (suite / "needs-drive.json").write_text(json.dumps({
        "id": "needs-drive", "instruction": "Upload it.", "snapshot": "multi_apps",
        "config": [{"type": "googledrive", "parameters": {"settings_file": "x.json", "operation": ["delete"]}}],
        "evaluator": {"func": "infeasible"}}))
    out = tmp_path / "out"
    assert bench([str(suite), "--model", "oracle", "--out", str(out)]) == 1  # 1: an invalid file was reported
    by_id = {r.id: r for r in collect(out)}
    assert by_id["good_0"].status == "scored" and by_id["good_0"].success
    assert by_id["bad"].status == "invalid"
    assert by_id["bad"].reason == f"{suite / 'bad.yaml'}: field max_steps: Input should be greater than or equal to 1"
    assert by_id["needs-drive"].status == "skipped"
    assert by_id["needs-drive"].reason == "setup step 1 type 'googledrive' is not supported on desktop"
    o = _summary(out)["overall"]
    assert (o["scored"], o["success"], o["invalid"], o["skipped"]) == (1, 1, 1, 1)


def test_an_env_that_cannot_start_is_retried_once_then_an_error(tmp_path, monkeypatch):
    needs_browser()
    monkeypatch.setenv("MINIWOB_CHROME_BINARY", str(tmp_path / "no-such-chromium"))
    monkeypatch.setenv("MINIWOB_CHROMEDRIVER", shutil.which("chromedriver"))
    out = tmp_path / "out"
    assert bench(["miniwob", "--model", "oracle", "--tasks", "click-test", "--instances", "1",
                  "--out", str(out)]) == 1
    [rec] = collect(out)
    assert rec.status == "error" and rec.attempts == 2 and rec.score is None
    assert "chromium did not start" in rec.reason
    o = _summary(out)["overall"]
    assert o["errors"] == 1 and o["scored"] == 0  # recorded as an error, not as an agent failure,
    assert o["success_rate"] == 0.0 and o["scored_success_rate"] is None  # but it counts as one in the rate


def test_ctrl_c_stops_cleanly_and_resume_continues(tmp_path):
    needs_browser()
    out = tmp_path / "out"
    tasks = "click-test,click-test-2,focus-text,click-link"
    cmd = [sys.executable, "-m", "guiagent", "bench", "miniwob", "--model", "oracle", "--instances", "1",
           "--tasks", tasks, "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/*/result.json")):  # wait until one task has finished
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr
    first = {r.id: r for r in collect(out)}
    done_before = {i: r for i, r in first.items() if r.status == "scored"}
    assert done_before and len(done_before) < 4
    assert all(r.status in ("scored", "interrupted") for r in first.values())
    assert _summary(out)["interrupted"] is True

    assert bench(["miniwob", "--model", "oracle", "--instances", "1", "--tasks", tasks, "--out", str(out),
                  "--resume"]) == 0
    after = {r.id: r for r in collect(out)}
    assert len(after) == 4 and all(r.status == "scored" and r.success for r in after.values())
    for i, r in done_before.items():  # finished tasks were kept, not run again
        assert after[i].started_at == r.started_at


def test_resume_refuses_another_model_and_a_fresh_run_refuses_a_used_folder(tmp_path):
    from guiagent.cli.common import UsageError

    out = tmp_path / "out"
    out.mkdir()
    (out / "args.json").write_text(json.dumps({"model": "hf:/some/model"}))
    (out / "x" / "t").mkdir(parents=True)
    (out / "x" / "t" / "result.json").write_text(json.dumps({"task": {"id": "t"}, "status": "scored"}))
    with pytest.raises(UsageError, match="already holds a run; pass --resume"):
        bench(["desktop", "--model", "oracle", "--tasks", "os-infeasible-spreadsheet", "--out", str(out)])
    with pytest.raises(UsageError, match="was run with --model hf:/some/model"):
        bench(["desktop", "--model", "oracle", "--tasks", "os-infeasible-spreadsheet", "--out", str(out), "--resume"])


def test_a_real_model_run_completes_with_its_score(tmp_path, tiny_checkpoint):
    needs_browser()
    out = tmp_path / "tiny"
    rc = bench(["miniwob", "--model", f"hf:{tiny_checkpoint}", "--tasks", "click-test", "--instances", "1",
                "--max-steps", "2", "--max-new-tokens", "24", "--out", str(out)])
    assert rc == 0
    s = _summary(out)
    assert s["overall"]["errors"] == 0 and s["overall"]["scored"] == 1
    assert s["mean_tokens"] > 0  # a real backend reports its token usage
    [rec] = collect(out)
    assert rec.steps >= 1 and rec.score is not None


def test_a_task_past_its_timeout_is_stopped_and_scored(tmp_path):
    needs_xvfb()
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(
        ['<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 30}}\n</tool_call>']))
    out = tmp_path / "out"
    # one reply only: had the wait not been cut short, the next step would exhaust the script (an error)
    assert bench(["desktop", "--model", f"scripted:{script}", "--tasks", "os-infeasible-spreadsheet",
                  "--timeout", "1", "--out", str(out)]) == 0
    [rec] = collect(out)
    assert rec.status == "scored" and rec.timed_out and rec.score == 0.0
    assert rec.agent["status"] == "interrupted" and rec.agent["reason"] == "task timeout"
    assert rec.reason == "timed out after 1 s"
