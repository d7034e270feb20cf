"""Faults survived by a whole run: a model server that fails, a display that goes away, a phone that restarts.

The model side is a real OpenAI-compatible HTTP server on loopback that injects faults
(500, 429, a hang, a closed socket, a reply cut off by max_tokens) into chosen requests;
the env side uses a private Xvfb that is killed mid-run and a simulated phone that is
killed (and restarted) mid-run. Every ending must write a complete trajectory with the
reason, and no finished step may be lost.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from guiagent.agent.loop import Agent, Settle
from guiagent.agent.trajectory import load_trajectory
from guiagent.envs.replay import ReplayEnv
from PIL import Image

from tests.recordings import record_screens

ROOT = Path(__file__).resolve().parents[1]
W, H = 1372, 756
DEADLINE = 90.0  # seconds before a stuck process fails the test; a hang detector, not a speed check


def call(space: str = "computer_use", **args) -> str:
    return "<tool_call>\n" + json.dumps({"name": space, "arguments": args}, ensure_ascii=False) + "\n</tool_call>"


# ---------------------------------------------------------------------- a fault-injecting model server


class FaultyServer:
    """An OpenAI-compatible chat server on 127.0.0.1 that fails the step requests named in `faults`.

    Step requests (chat completions other than the 1-token preflight probe) are numbered
    from 1 in arrival order; `faults[n]` is what request n gets: "500", "429" (with
    ``Retry-After: 0``), "503", "hang" (no answer until the server stops), "close" (the
    socket is closed without an answer), "garbage" (a 200 that is not JSON) or "length"
    (the next reply cut in half, ``finish_reason: "length"``). Other requests get the next
    reply of `replies` (a failing request does not use one up). `default` is what requests
    get once the replies run out (a fault name, or None for the last reply again).
    """

    def __init__(self, replies: list[str], faults: dict[int, str] | None = None, default: str | None = None) -> None:
        self.replies = list(replies)
        self.faults = dict(faults or {})
        self.default = default
        self.requests: list[dict] = []  # bodies of step requests, in order
        self.served = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._arrived = threading.Condition(self._lock)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    return self._send(200, json.dumps({"data": [{"id": "tiny", "max_model_len": 1_000_000}]}).encode())
                self._send(404, b'{"detail": "Not Found"}')

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if body.get("max_tokens") == 1:  # the preflight probe before step 1
                    return self._answer("ok", "stop")
                with outer._lock:
                    outer.requests.append(body)
                    n = len(outer.requests)
                    outer._arrived.notify_all()
                    fault = outer.faults.get(n)
                    if fault is None and outer.served >= len(outer.replies):
                        fault = outer.default
                if fault == "hang":
                    outer._stop.wait(DEADLINE)
                    return None
                if fault == "close":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if fault in ("500", "503"):
                    return self._send(int(fault), b'{"error": {"message": "engine overloaded"}}')
                if fault == "429":
                    return self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": "0"})
                if fault == "garbage":
                    return self._send(200, b"<html>502 Bad Gateway</html>")
                with outer._lock:
                    text = outer.replies[min(outer.served, len(outer.replies) - 1)]
                    outer.served += 1
                if fault == "length":
                    return self._answer(text[: len(text) // 2], "length")
                return self._answer(text, "stop")

            def _answer(self, text: str, finish: str) -> None:
                data = {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 20}}
                self._send(200, json.dumps(data).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def wait_for_request(self, n: int, timeout: float = DEADLINE) -> bool:
        """True once step request `n` has arrived."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= n, timeout)

    def __enter__(self) -> FaultyServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> Path:
    return record_screens(tmp_path_factory.mktemp("rec") / "screens", ["red", "green", "blue", "white"], size=(W, H))


def guiagent(*args: str, env: dict | None = None, timeout: float = DEADLINE) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([sys.executable, "-m", "guiagent", "run", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**base, **(env or {})}, timeout=timeout, stdin=subprocess.DEVNULL)


def assert_complete(out: Path, steps: int, status: str):
    """The trajectory loads, has every finished step with its screenshot, and says how the run ended."""
    traj = load_trajectory(out)
    assert traj.status == status, (traj.status, traj.reason)
    assert [s.index for s in traj.steps] == list(range(1, steps + 1))
    for s in traj.steps:
        with Image.open(out / s.screenshot) as im:
            im.load()
    if status != "success":
        assert traj.reason and traj.ended_at
    return traj


# ---------------------------------------------------------------------- the model backend


def test_transient_500_429_and_a_closed_socket_are_retried_and_the_run_succeeds(screens, tmp_path):
    replies = [call(action="left_click", coordinate=[5, 5]), call(action="left_click", coordinate=[6, 6]),
               call(action="terminate", status="success")]
    with FaultyServer(replies, faults={1: "500", 2: "429", 4: "close", 5: "503"}) as server:
        p = guiagent("do it", "--env", f"replay:{screens}", "--model", f"openai:{server.url}",
                     "--out", str(tmp_path / "out"), "--quiet")
    assert p.returncode == 0, p.stdout + p.stderr
    assert len(server.requests) == 7  # 3 replies + 4 failed attempts, each retried
    traj = assert_complete(tmp_path / "out", 3, "success")
    assert [a.model_action for s in traj.steps[:2] for a in s.actions] == [
        {"action": "left_click", "coordinate": [5, 5]}, {"action": "left_click", "coordinate": [6, 6]}]


def test_a_server_that_keeps_failing_ends_the_run_model_error_with_its_steps(screens, tmp_path):
    with FaultyServer([call(action="left_click", coordinate=[5, 5])], default="503") as server:
        p = guiagent("do it", "--env", f"replay:{screens}", "--model", f"openai:{server.url}",
                     "--out", str(tmp_path / "out"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    last = p.stdout.strip().splitlines()[-1]
    assert last.startswith("model_error after 1 step(s): ") and "server error 503 after 5 tries" in last
    traj = assert_complete(tmp_path / "out", 1, "model_error")
    assert "503" in traj.reason and len(server.requests) == 6  # step 1, then 5 tries of step 2


@pytest.mark.parametrize("fault", ["hang", "close", "garbage"])
def test_hung_closed_or_garbled_answers_end_model_error_cleanly(fault, screens, tmp_path):
    from guiagent.model.openai import OpenAIModel

    with FaultyServer([call(action="left_click", coordinate=[5, 5])], default=fault) as server:
        model = OpenAIModel(server.url, timeout=0.5, max_retries=1, backoff=0.01)
        agent = Agent(model, ReplayEnv(screens), out_dir=tmp_path / "out", settle=Settle(enabled=False))
        result = agent.run("do it")
    traj = assert_complete(tmp_path / "out", 1, "model_error")
    assert result.reason == traj.reason
    expected = {"hang": "no answer within 0.5 s", "close": "cannot reach the server after 2 tries",
                "garbage": "answer is not JSON"}[fault]
    assert expected in traj.reason


def test_a_failing_preflight_still_writes_a_trajectory(screens, tmp_path):
    from guiagent.model.openai import OpenAIModel

    with FaultyServer([]) as server:
        model = OpenAIModel(server.url, timeout=0.5, max_retries=0)
        server.httpd.shutdown()  # nothing answers any more, not even /v1/models
        server.httpd.server_close()
        result = Agent(model, ReplayEnv(screens), out_dir=tmp_path / "out").run("do it")
    assert result.status == "model_error"
    traj = assert_complete(tmp_path / "out", 0, "model_error")
    assert "cannot reach the server" in traj.reason


def test_reply_cut_off_by_max_tokens_from_the_server_is_fed_back(screens, tmp_path):
    # request 1 gets the first reply cut in half; the model then answers in full
    replies = [call(action="left_click", coordinate=[5, 5]), call(action="left_click", coordinate=[5, 5]),
               call(action="terminate", status="success")]
    with FaultyServer(replies, faults={1: "length"}) as server:
        p = guiagent("do it", "--env", f"replay:{screens}", "--model", f"openai:{server.url}",
                     "--out", str(tmp_path / "out"), "--max-new-tokens", "16", "--quiet")
        second = json.dumps(server.requests[1]["messages"][-1])
    assert p.returncode == 0, p.stdout + p.stderr
    traj = assert_complete(tmp_path / "out", 3, "success")
    assert "cut off" in traj.steps[0].error and traj.steps[0].actions == []
    assert "Your reply was cut off before the tool call was complete" in second
    assert server.requests[0]["max_tokens"] == 16


# ---------------------------------------------------------------------- the desktop kill switch


def test_fail_safe_corner_stops_a_desktop_run_before_the_action(tk_app, tmp_path):
    from guiagent.envs import make_env
    from guiagent.model.scripted import ScriptedModel

    env = make_env("desktop")
    try:
        assert env.failsafe  # on unless a test turns it off
        tk_app.move_pointer(0, 0)  # the user slams the mouse into a corner
        model = ScriptedModel([call(action="left_click", coordinate=[300, 300]),
                               call(action="terminate", status="success")])
        result = Agent(model, env, out_dir=tmp_path / "out", settle=Settle(enabled=False)).run("click")
    finally:
        env.close()
    assert result.status == "interrupted" and "fail-safe" in result.reason
    assert tk_app.events("press", "release") == []  # the click never happened
    traj = assert_complete(tmp_path / "out", 1, "interrupted")
    assert not traj.steps[0].actions[0].executed


# ---------------------------------------------------------------------- the display goes away


def test_a_failed_screenshot_is_retried_and_the_run_goes_on(tk_app, tmp_path):
    """The capture connection breaks between steps (the X server is fine): the env must capture again."""
    from guiagent.agent.callbacks import FunctionCallback
    from guiagent.envs.desktop import DesktopEnv
    from guiagent.model.scripted import ScriptedModel

    env = DesktopEnv(settle=False, failsafe=False)
    broken = []

    def break_capture(step) -> None:
        if step.index == 1:
            env._sct().close()  # the fault: this thread's mss connection is gone
            broken.append(step.index)

    model = ScriptedModel([call(action="left_click", coordinate=[300, 300]),
                           call(action="left_click", coordinate=[400, 300]), call(action="terminate", status="success")])
    agent = Agent(model, env, out_dir=tmp_path / "out", settle=Settle(enabled=False),
                  callbacks=[FunctionCallback(break_capture)])
    try:
        result = agent.run("click twice")
    finally:
        env.close()
    assert broken == [1]
    assert result.status == "success", result.reason
    assert_complete(tmp_path / "out", 3, "success")
    assert len([e for e in tk_app.events("press") if e["button"] == 1]) == 2


# ---------------------------------------------------------------------- the display goes away


def test_display_killed_mid_run_ends_display_lost_with_a_complete_trajectory(tmp_path):
    from guiagent.envs.xvfb import start_xvfb

    from tests.fixtures.desktop import needs_xvfb

    needs_xvfb()
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([call(action="left_click", coordinate=[100, 100]), call(action="wait", time=2),
                                  call(action="left_click", coordinate=[200, 200]),
                                  call(action="terminate", status="success")]))
    with start_xvfb(800, 600) as xvfb:
        proc = subprocess.Popen(
            [sys.executable, "-m", "guiagent", "run", "click twice", "--env", "desktop",
             "--model", f"scripted:{script}", "--out", str(tmp_path / "out"), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=xvfb.child_env(),
            stdin=subprocess.DEVNULL)
        try:
            first = json.loads(proc.stdout.readline())
            assert first["event"] == "step" and first["index"] == 1, first
            xvfb.process.kill()  # the X server dies while step 2 waits
            xvfb.process.wait(10)
            out, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    end = json.loads(out.strip().splitlines()[-1])
    assert end["event"] == "end" and end["status"] == "display_lost"
    assert f"display {xvfb.display!r}" in end["reason"] and "X server is gone" in end["reason"]
    traj = assert_complete(tmp_path / "out", 2, "display_lost")
    assert traj.steps[0].actions[0].executed and traj.steps[1].actions[0].executed  # no finished step lost


# ---------------------------------------------------------------------- the phone goes away


def _android_run(phone_serial: str, server_env: dict, replies: list[str], out: Path) -> subprocess.Popen:
    script = out.parent / "replies.json"
    script.write_text(json.dumps(replies, ensure_ascii=False))
    return subprocess.Popen(
        [sys.executable, "-m", "guiagent", "run", "go home and open the clock", "--env", f"android:{phone_serial}",
         "--model", f"scripted:{script}", "--out", str(out), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=server_env, stdin=subprocess.DEVNULL)


def _first_step(proc: subprocess.Popen) -> dict:
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    event = json.loads(line)
    assert event["event"] == "step" and event["index"] == 1, event
    return event


def test_phone_killed_and_restarted_mid_run_the_run_goes_on(adb_server, tmp_path):
    from tests.fixtures.android import spawn_simphone, start_simphone

    phone = start_simphone(adb_server)
    replies = [call("mobile_use", action="system_button", button="Home"), call("mobile_use", action="wait", time=2),
               call("mobile_use", action="open", text="Clock"), call("mobile_use", action="terminate", status="success")]
    try:
        proc = _android_run(phone.serial, adb_server.env, replies, tmp_path / "out")
        try:
            _first_step(proc)
            phone.kill()  # during step 2's wait; a fresh phone comes up on the same port
            phone.proc, _ = spawn_simphone(port=phone.port)
            out, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, out + err
        assert any("com.android.deskclock" in line for line in phone.log())  # the new phone got the action
    finally:
        phone.stop()
    traj = assert_complete(tmp_path / "out", 4, "success")
    assert all(a.executed for s in traj.steps for a in s.actions)


def test_phone_killed_for_good_ends_device_lost_with_the_steps_intact(adb_server, tmp_path):
    from tests.fixtures.android import start_simphone

    phone = start_simphone(adb_server)
    replies = [call("mobile_use", action="system_button", button="Home"), call("mobile_use", action="wait", time=1),
               call("mobile_use", action="open", text="Clock"), call("mobile_use", action="terminate", status="success")]
    try:
        proc = _android_run(phone.serial, adb_server.env, replies, tmp_path / "out")
        try:
            _first_step(proc)
            phone.kill()
            out, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
    finally:
        phone.stop()
    assert proc.returncode == 1, out + err
    assert "Traceback" not in err
    end = json.loads(out.strip().splitlines()[-1])
    assert end["status"] == "device_lost" and "was lost" in end["reason"]
    traj = assert_complete(tmp_path / "out", 2, "device_lost")
    assert traj.steps[0].actions[0].executed and traj.steps[1].actions[0].executed
    assert traj.reason == end["reason"]
