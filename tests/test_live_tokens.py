"""`guiagent run`'s live line in a real terminal (tmux) and in a file, against a loopback openai: server that
streams its reply slowly: tokens while the model thinks, the plain step line when it acts."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from guiagent.tools.sysdeps import install_hint, part

from tests.test_openai_backend import ChatServer

ROOT = Path(__file__).resolve().parents[1]
REPLAY = ROOT / "tests" / "data" / "desktop_run"
STEP_LINE = re.compile(r"^step   1  left_click \(\d+, \d+\)  \(\d+\.\d\ds\)$", re.M)
THINKING = re.compile(r"step   1  model thinking… (\d+\.\d)s  (\d+) tokens?")
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # every control character but the newline


@pytest.fixture
def slow_server():
    server = ChatServer()
    server.sse, server.chunk_delay = True, 0.08  # ~50 chunks: about 4 s of thinking
    yield server
    server.close()


def _run_args(server: ChatServer, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "guiagent", "run", "Click OK", "--env", f"replay:{REPLAY}",
            "--model", f"openai:{server.url}", "--max-steps", "1", "--out", str(out), *extra]


class Tmux:
    """A tmux server of our own (its own socket) running one command in a 160x12 pane."""

    def __init__(self, socket: Path, command: list[str], raw_log: Path | None = None) -> None:
        """`raw_log`: every byte the command writes to the terminal goes there too (tmux pipe-pane)."""
        if shutil.which("tmux") is None:
            pytest.fail(f"tmux is not installed: {install_hint([part('tmux')])}")
        self.base = ["tmux", "-S", str(socket)]
        # The command waits for "go" so pipe-pane is attached before its first byte; the pane outlives the
        # command (sleep), so its last screen can be read; EXIT= says it ended.
        shell = f"tmux -S {shlex.quote(str(socket))} wait-for go; cd {shlex.quote(str(ROOT))} && " \
                f"{shlex.join(command)}; echo EXIT=$?; sleep 60"
        subprocess.run([*self.base, "-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "12", shell],
                       check=True, timeout=30, env={**os.environ, "TERM": "xterm-256color"})
        if raw_log is not None:
            subprocess.run([*self.base, "pipe-pane", "-o", f"cat >> {shlex.quote(str(raw_log))}"], check=True,
                           timeout=30)
        subprocess.run([*self.base, "wait-for", "-S", "go"], check=True, timeout=30)

    def screen(self) -> str:
        return subprocess.run([*self.base, "capture-pane", "-p"], check=True, capture_output=True, text=True,
                              timeout=30).stdout

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if pattern.search(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{pattern.pattern!r} never showed; the pane:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=30)


def test_a_terminal_shows_tokens_while_the_model_thinks_then_the_step_line(slow_server, tmp_path):
    term = Tmux(tmp_path / "tmux.sock", _run_args(slow_server, tmp_path / "run"))
    try:
        seen = [THINKING.search(term.wait_for(THINKING, timeout=60))]
        while len(seen) < 3:  # the count climbs while the stream runs
            m = THINKING.search(term.wait_for(THINKING, timeout=60))
            if m and int(m[2]) > int(seen[-1][2]):
                seen.append(m)
        final = term.wait_for(re.compile(r"^EXIT=\d+$", re.M), timeout=60)
    finally:
        term.close()
    counts = [int(m[2]) for m in seen]
    assert counts == sorted(counts) and 0 < counts[0] < counts[-1] < len(slow_server.pieces())
    (chat,) = [c for c in slow_server.chats() if c["body"].get("max_tokens") != 1]  # the step, not the probe
    assert chat["body"]["stream"] is True
    assert STEP_LINE.search(final), final  # the status line was replaced by the step's line
    assert "model thinking" not in final  # (the pane also shows the trajectory's path, named after this test)
    assert "EXIT=1" in final  # one step, no terminate: the step limit


def test_output_to_a_file_has_no_control_characters_and_asks_for_no_stream(slow_server, tmp_path):
    log = tmp_path / "out.txt"
    with log.open("w") as f:
        p = subprocess.run(_run_args(slow_server, tmp_path / "run"), stdout=f, stderr=subprocess.PIPE, text=True,
                           cwd=ROOT, timeout=120)
    assert p.returncode == 1, p.stderr
    text = log.read_text(encoding="utf-8")
    assert not CONTROL.search(text), repr(text)
    lines = text.splitlines()
    assert STEP_LINE.match(lines[0]) and lines[1].startswith("max_steps after 1 step(s)") and len(lines) == 2
    # nobody sees a live line, so the backend is not asked to stream
    assert all("stream" not in c["body"] for c in slow_server.chats())


@pytest.mark.parametrize("flag", ["--json", "--quiet"])
def test_json_and_quiet_draw_no_live_line_on_a_terminal(slow_server, tmp_path, flag):
    slow_server.chunk_delay = 0.02
    raw = tmp_path / "pane.raw"
    term = Tmux(tmp_path / "tmux.sock", _run_args(slow_server, tmp_path / "run", flag), raw_log=raw)
    try:
        term.wait_for(re.compile(r"^EXIT=\d+$", re.M), timeout=60)
    finally:
        term.close()
    written = raw.read_bytes().decode("utf-8")
    text, _, tail = written.replace("\r\n", "\n").partition("EXIT=")  # the terminal turns \n into \r\n
    assert tail.startswith("1")
    assert not CONTROL.search(text), repr(text)  # no status line drawn, none erased
    lines = text.splitlines()
    if flag == "--json":
        events = [json.loads(line) for line in lines]
        assert [e["event"] for e in events] == ["step", "end"] and events[1]["status"] == "max_steps"
    else:
        assert len(lines) == 1 and lines[0].startswith("max_steps after 1 step(s)")
    assert all("stream" not in c["body"] for c in slow_server.chats())  # nobody watches tokens: no stream
