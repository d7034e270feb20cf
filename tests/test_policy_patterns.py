"""No policy regex can hang the loop, a bad one is a one-line policy error, and a second Ctrl+C always exits.

Runs the real `python -m guiagent run` on a recorded run's screens (``--env replay:DIR``) with
scripted replies, as tests/test_reliability_cli.py does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from guiagent.agent.guard import PATTERN_TIMEOUT, Guard, Policy, compile_pattern
from guiagent.agent.trajectory import load_trajectory
from guiagent.tools.actions import MobileType, Type

from tests.test_reliability_cli import ROOT, call, cli_env, guiagent, run_args, screens  # noqa: F401

# Patterns that backtrack exponentially in the `regex` engine on a run of "a" and a mismatch at the end
# (the issue's "(a+)+$" is exponential in `re`; `regex` answers it at once, and it is kept as a case).
SLOW = ["(a|aa)+$", "(a|aa)+b", "^(a|a?)+(a|aa)+$"]
TEXT = "a" * 41 + "!"


@pytest.mark.parametrize("pattern", [*SLOW, "(a+)+$"])
def test_a_backtracking_pattern_is_decided_within_its_time_bound(pattern):
    guard = Guard(Policy(confirm_text=[pattern]))
    for action in (Type(action="type", text=TEXT), MobileType(action="type", text=TEXT)):
        t = time.monotonic()
        decision = guard.check(action)
        took = time.monotonic() - t
        assert took < 8 * PATTERN_TIMEOUT + 1, f"{pattern} took {took:.1f} s"
        if pattern in SLOW:  # undecided counts as a match: the action needs a confirmation
            assert decision.verdict == "confirm" and "did not finish within" in decision.reason
        else:
            assert decision.verdict == "allow"  # decided: no match on a text ending in "!"


def test_a_fast_pattern_still_decides_as_before():
    guard = Guard(Policy(confirm_text=["(?i)password", "rm -rf"]))
    assert guard.check(Type(action="type", text="my PASSWORD")).verdict == "confirm"
    assert guard.check(Type(action="type", text="hello")).verdict == "allow"
    assert "did not finish" not in guard.check(Type(action="type", text="rm -rf /")).reason


def test_the_issue_case_through_the_cli_ends_promptly_and_asks(screens, tmp_path):  # noqa: F811
    policy = tmp_path / "policy.toml"
    policy.write_text('confirm_text = ["(a+)+$", "(a|aa)+$"]\n')
    replies = [call("type", text=TEXT), call("type", text="a" * 41), call("terminate", status="success")]
    t = time.monotonic()
    p = guiagent(screens, tmp_path, replies, "--policy", str(policy))  # hung for ever before
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - t < 30
    steps = load_trajectory(tmp_path / "out").steps
    first, second = steps[0].actions[0], steps[1].actions[0]
    assert first.decision.startswith("confirm-no") and "did not finish within" in first.decision
    assert second.decision.startswith("confirm-no") and not second.executed  # "a"*41 matches (a+)+$


@pytest.mark.parametrize(("pattern", "message"), [
    ("a{99999999999}", "repeat counts unroll"),  # OverflowError in `re`
    ("a{100000000}", "repeat counts unroll"),  # exhausts memory while `regex` compiles it
    ("(a{1000}){1000}", "repeat counts unroll"),  # seconds to compile
    ("(unclosed", "bad regex"),
    ("a{5,2}", "bad regex"),
    ("x" * 30000, "characters long"),
])
def test_an_invalid_pattern_is_a_one_line_policy_error_naming_file_and_field(pattern, message, screens,  # noqa: F811
                                                                              tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(f"confirm_text = ['ok', '{pattern}']\n")
    t = time.monotonic()
    p = guiagent(screens, tmp_path, [call("terminate", status="success")], "--policy", str(policy))
    assert time.monotonic() - t < 20
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert str(policy) in lines[0] and "field confirm_text" in lines[0] and "item 1" in lines[0]
    assert message in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_compile_pattern_accepts_ordinary_counts():
    assert compile_pattern(r"\d{4}-\d{2}-\d{2}").search("on 2026-12-02")
    assert compile_pattern("[{]{3}").search("{{{")


# ---------------------------------------------------------------------- the second Ctrl+C


def test_second_ctrl_c_exits_while_the_run_waits_for_an_unanswered_confirmation(screens, tmp_path):  # noqa: F811
    import pty
    import select

    policy = tmp_path / "policy.toml"
    policy.write_text('confirm_text = ["(?i)password"]\n')
    replies = [call("left_click", coordinate=[5, 5]), call("type", text="my password"),
               call("terminate", status="success")]
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(run_args(screens, tmp_path, replies, "--policy", str(policy)), stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, env=cli_env())
        os.close(slave)
        out, deadline = b"", time.monotonic() + 60
        while b"[y/N]" not in out and time.monotonic() < deadline and proc.poll() is None:
            if select.select([proc.stdout], [], [], 0.2)[0]:
                out += os.read(proc.stdout.fileno(), 65536)
        assert b"[y/N]" in out, out
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None  # the first one waits for the current action (the question)
        t = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
        assert time.monotonic() - t < 5
    finally:
        os.close(master)
    traj = load_trajectory(tmp_path / "out")  # never torn
    assert traj.steps[0].actions[0].executed


WATCHDOG = textwrap.dedent("""
    import os, signal, sys, threading
    from guiagent.cli.common import Signals

    r, w = os.pipe()
    with Signals(lambda reason: print("first:", reason, flush=True)):
        # The kernel delivers a process signal to any thread that does not block it. With the main
        # thread blocking SIGINT (as native libraries' threads often leave it), the interpreter's
        # handler runs on another thread and the main thread, inside a read that nothing ends, never
        # returns to Python: only the watchdog can act on the second signal.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        threading.Thread(target=lambda: threading.Event().wait(), daemon=True).start()
        print("ready", flush=True)
        os.read(r, 1)
    print("not reached", flush=True)
""")


def test_second_signal_exits_even_when_the_main_thread_never_returns_to_python(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WATCHDOG], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env=cli_env())
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "not reached" not in proc.stdout.read()
