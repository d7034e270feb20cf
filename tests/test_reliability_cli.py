"""The kill switch, the policy file, confirmations and exit statuses of a real `guiagent run` process.

Each test starts ``python -m guiagent run ... --env replay:DIR --model scripted:FILE`` (a
recorded run's screens, scripted replies) and drives it like a user: signals, a policy file,
a terminal that answers y/N.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from guiagent.agent.trajectory import load_trajectory
from PIL import Image

from tests.recordings import record_screens

ROOT = Path(__file__).resolve().parents[1]
W, H = 1372, 756
DEADLINE = 60.0  # seconds to wait for a line or an exit; a hang fails the test, it is not a speed check


def call(action: str, **args) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": {"action": action, **args}}) + "\n</tool_call>"


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> Path:
    return record_screens(tmp_path_factory.mktemp("rec") / "screens", ["red", "green", "blue", "white"], size=(W, H))


def cli_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}


def run_args(screens: Path, tmp_path: Path, replies: list, *extra: str) -> list[str]:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(replies), encoding="utf-8")
    return [sys.executable, "-m", "guiagent", "run", "do the task", "--env", f"replay:{screens}",
            "--model", f"scripted:{script}", "--out", str(tmp_path / "out"), *extra]


def guiagent(screens, tmp_path, replies, *extra, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    return subprocess.run(run_args(screens, tmp_path, replies, *extra), stdin=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=cli_env(), timeout=DEADLINE)


class Live:
    """A `guiagent run --json` process whose stdout lines are read as they come."""

    def __init__(self, args: list[str], **popen) -> None:
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                     env=cli_env(), **popen)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for_step(self, index: int) -> dict:
        """Block until the process prints the end of step `index` (a JSON line)."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, f"exited early: {self.proc.stderr.read()}"
                continue
            event = json.loads(line)
            if event.get("event") == "step" and event["index"] == index:
                return event
        raise AssertionError(f"step {index} did not end within {DEADLINE:g} s")

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=DEADLINE)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def assert_complete(out: Path, steps: int, status: str):
    traj = load_trajectory(out)
    assert traj.status == status
    assert [s.index for s in traj.steps] == list(range(1, steps + 1))
    for s in traj.steps:
        assert (out / s.screenshot).is_file()
        with Image.open(out / s.screenshot) as im:
            im.load()  # a complete PNG, not a torn one
    return traj


# ---------------------------------------------------------------------- the kill switch


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_step_stops_after_the_current_action_and_exits_130(sig, screens, tmp_path):
    replies = [call("left_click", coordinate=[5, 5]), call("left_click", coordinate=[6, 6]), call("wait", time=30),
               call("left_click", coordinate=[7, 7]), call("terminate", status="success")]
    live = Live(run_args(screens, tmp_path, replies, "--json"))
    live.wait_for_step(2)
    time.sleep(0.5)  # step 3 is waiting 30 s now
    live.proc.send_signal(sig)
    assert live.wait() == 130
    traj = assert_complete(tmp_path / "out", 3, "interrupted")
    assert traj.reason == ("interrupted by the user" if sig == signal.SIGINT else "terminated")
    # the step in progress finished (its wait cut short; on a slow machine the signal may even land
    # before the wait began, and then the wait is not started) and nothing after it ran
    assert [a.model_action for a in traj.steps[2].actions] in ([{"action": "wait", "time": 30}], [])
    assert all(a.executed for s in traj.steps for a in s.actions)
    assert "stopping after the current action" in live.proc.stderr.read()


def test_second_ctrl_c_exits_at_once_and_leaves_a_loadable_trajectory(screens, tmp_path):
    # The model hangs (a loopback server that never answers step 3), so the first Ctrl+C cannot
    # end the run promptly; the second one must, without tearing the files already written.
    from tests.test_reliability_faults import FaultyServer

    with FaultyServer(replies=[call("left_click", coordinate=[5, 5]), call("left_click", coordinate=[6, 6])],
                      faults={3: "hang"}) as server:
        args = run_args(screens, tmp_path, [], "--json")
        args[args.index("--model") + 1] = f"openai:{server.url}"
        live = Live(args)
        live.wait_for_step(2)
        assert server.wait_for_request(3)
        live.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert live.proc.poll() is None  # the first Ctrl+C waits for the current (hung) request
        live.proc.send_signal(signal.SIGINT)
        assert live.wait() == 130
    traj = assert_complete(tmp_path / "out", 2, "running")  # never finished, never torn
    assert traj.steps[1].actions[0].executed


def test_sigint_twice_quickly_never_tears_the_trajectory(screens, tmp_path):
    replies = [call("left_click", coordinate=[i, i]) for i in range(1, 40)]
    live = Live(run_args(screens, tmp_path, replies, "--json", "--max-steps", "40"))
    # step 4 acts only once step 3 is on disk; the recorder may still be writing step 4's own files
    live.wait_for_step(4)
    live.proc.send_signal(signal.SIGINT)
    live.proc.send_signal(signal.SIGINT)
    assert live.wait() == 130
    traj = load_trajectory(tmp_path / "out")
    assert traj.status in ("running", "interrupted") and len(traj.steps) >= 3
    for s in traj.steps:
        assert (tmp_path / "out" / s.screenshot).is_file()


# ---------------------------------------------------------------------- exit statuses


@pytest.mark.parametrize(("last", "code", "status"), [
    (call("terminate", status="success"), 0, "success"),
    (call("terminate", status="failure"), 1, "failure"),
    ("no tool call here", 1, "parse_errors"),
])
def test_exit_status_follows_the_run_status(last, code, status, screens, tmp_path):
    replies = [call("left_click", coordinate=[5, 5])] + [last] * 3
    p = guiagent(screens, tmp_path, replies, "--quiet")
    assert p.returncode == code, p.stderr
    assert_complete(tmp_path / "out", 2 if code == 0 or status == "failure" else 4, status)


def test_quiet_prints_only_the_final_line(screens, tmp_path):
    replies = [call("left_click", coordinate=[5, 5]), call("terminate", status="success")]
    p = guiagent(screens, tmp_path, replies, "--quiet")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [f"success after 2 step(s): the agent reported success  trajectory: {tmp_path / 'out'}"]


def test_token_budget_from_the_policy_file(screens, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("max_tokens = 1000\n")
    used = {"text": call("left_click", coordinate=[5, 5]), "usage": {"prompt_tokens": 700, "completion_tokens": 20}}
    p = guiagent(screens, tmp_path, [used] * 5, "--policy", str(policy), "--quiet")
    assert p.returncode == 1
    traj = assert_complete(tmp_path / "out", 2, "budget")
    assert traj.reason == "token budget of 1000 spent"


# ---------------------------------------------------------------------- the policy file


@pytest.mark.parametrize(("text", "message"), [
    ("max_tokens = [", "not valid TOML"),
    ("max_tokens = -5", "field max_tokens"),
    ("max_seconds = 'soon'", "field max_seconds"),
    ('deny_keys = "ctrl+alt+delete"', "field deny_keys"),
    ('deny_key = ["ctrl+alt+delete"]', "field deny_key: Extra inputs are not permitted"),
    ('confirm_text = ["(unclosed"]', "field confirm_text"),
    ("max_steps = 0", "field max_steps"),
])
def test_bad_policy_file_is_one_line_naming_file_and_field_exit_2(text, message, screens, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(text + "\n")
    p = guiagent(screens, tmp_path, [call("terminate", status="success")], "--policy", str(policy))
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr
    assert str(policy) in lines[0] and message in lines[0]
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_missing_policy_file(screens, tmp_path):
    p = guiagent(screens, tmp_path, [call("terminate", status="success")], "--policy", str(tmp_path / "nope.toml"))
    assert p.returncode == 2 and "nope.toml: policy file not found" in p.stderr.strip()


def test_denied_chords_and_apps_from_the_policy_file(screens, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('deny_keys = ["ctrl+q"]\n')
    replies = [call("key", keys=["Control", "Q"]), call("key", keys=["ctrl", "c"]), call("terminate", status="success")]
    p = guiagent(screens, tmp_path, replies, "--policy", str(policy))
    assert p.returncode == 0, p.stderr
    steps = load_trajectory(tmp_path / "out").steps
    assert steps[0].actions[0].decision == "deny: the key chord ctrl+q is not allowed"
    assert not steps[0].actions[0].executed and steps[1].actions[0].executed
    assert "[deny: the key chord ctrl+q is not allowed]" in p.stdout


# ---------------------------------------------------------------------- confirmations


CONFIRM_POLICY = 'confirm_text = ["(?i)password"]\n'


def run_on_a_terminal(args: list[str], answer: str | None) -> tuple[int, str]:
    """Run with stdin on a pseudo-terminal; answer the y/N question when it appears."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(args, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                                env=cli_env())
        os.close(slave)
        out = b""
        deadline = time.monotonic() + DEADLINE
        answered = False
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                out += os.read(proc.stdout.fileno(), 65536)
            if answer is None and b"[y/N]" in out:
                break  # asked although nobody should be
            if answer is not None and not answered and b"[y/N]" in out:
                os.write(master, answer.encode() + b"\n")
                answered = True
        if proc.poll() is None:  # still waiting (e.g. on a question nobody answers): a failure, not a hang
            proc.kill()
        out += proc.stdout.read()
        return proc.wait(timeout=DEADLINE), out.decode()
    finally:
        os.close(master)


@pytest.mark.parametrize(("answer", "decision"), [("y", "confirm-yes"), ("yes", "confirm-yes"), ("", "confirm-no"),
                                                  ("n", "confirm-no")])
def test_interactive_confirmation_asks_on_the_terminal(answer, decision, screens, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(CONFIRM_POLICY)
    replies = [call("type", text="my password"), call("terminate", status="success")]
    code, out = run_on_a_terminal(run_args(screens, tmp_path, replies, "--policy", str(policy)), answer)
    assert code == 0, out
    assert "The agent wants to type the text 'my password'. Allow? [y/N]" in out
    rec = load_trajectory(tmp_path / "out").steps[0].actions[0]
    assert rec.decision.startswith(decision) and rec.executed == (decision == "confirm-yes")


def test_non_interactive_runs_deny_without_asking(screens, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(CONFIRM_POLICY)
    replies = [call("type", text="my password"), call("terminate", status="success")]
    p = guiagent(screens, tmp_path, replies, "--policy", str(policy))
    assert p.returncode == 0 and "[y/N]" not in p.stdout + p.stderr
    rec = load_trajectory(tmp_path / "out").steps[0].actions[0]
    assert rec.decision.startswith("confirm-no") and not rec.executed


def test_yes_flag_confirms(screens, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(CONFIRM_POLICY)
    replies = [call("type", text="my password"), call("terminate", status="success")]
    p = guiagent(screens, tmp_path, replies, "--policy", str(policy), "--yes")
    assert p.returncode == 0
    assert load_trajectory(tmp_path / "out").steps[0].actions[0].decision == "confirm-yes"


@pytest.mark.parametrize(("terminal", "answer", "first"), [
    (True, "n", "confirm-no: type the text"), (True, "y", "dry-run (confirm-yes)"),
    (False, None, "confirm-no: type the text")])
def test_dry_run_takes_the_decision_a_live_run_takes(screens, tmp_path, terminal, answer, first):
    """A dry run asks on a terminal and refuses without one, as a live run does (it used to allow every
    confirmation as "would confirm"), denies the denied chord, and executes nothing."""
    policy = tmp_path / "policy.toml"
    policy.write_text(CONFIRM_POLICY)
    replies = [call("type", text="my password"), call("key", keys=["ctrl", "alt", "delete"]),
               call("left_click", coordinate=[5, 5]), call("terminate", status="success")]
    args = run_args(screens, tmp_path, replies, "--policy", str(policy), "--dry-run")
    if terminal:
        code, out = run_on_a_terminal(args, answer)
        assert "The agent wants to type the text 'my password'. Allow? [y/N]" in out
    else:
        p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT, env=cli_env(),
                           timeout=DEADLINE)
        code, out = p.returncode, p.stdout + p.stderr
        assert "[y/N]" not in out
    assert code == 0, out
    traj = load_trajectory(tmp_path / "out")
    assert traj.meta.dry_run
    decisions = [s.actions[0].decision for s in traj.steps[:3]]
    assert decisions[0].startswith(first)
    assert decisions[1].startswith("deny: the key chord")
    assert decisions[2] == "dry-run"
    assert not any(a.executed for s in traj.steps[:3] for a in s.actions)
    assert traj.steps[2].actions[0].screen_action == {"action": "left_click", "coordinate": [5, 5]}
