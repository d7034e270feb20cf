"""Credentials never reach a file or the terminal, and URL userinfo is HTTP basic auth.

A real loopback server (tests/test_openai_backend.py's ChatServer) checks what arrives; the real
command line (`run`, `view`, `bench`) produces every file; then every produced file, file name and
both output streams are searched for the secret, in its plain, URL-encoded and base64 forms.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from guiagent.agent.trajectory import load_trajectory
from guiagent.model.openai import OpenAIModel

from tests.recordings import record_screens
from tests.test_openai_backend import ChatServer

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "S3cret-p@ss:word"  # an @ and a : inside, as a password may have
USER = "alice"
API_KEY = "sk-test-9f8e7d6c5b4a"
TERMINATE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n'
W, H = 1372, 756


def forms(secret: str) -> list[str]:
    return [secret, urllib.parse.quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]


def assert_nowhere(secret: str, folder: Path, *outputs: str) -> None:
    leaks = []
    for f in folder.rglob("*"):
        for form in forms(secret):
            if form in f.name:
                leaks.append(f"file name {f}")
            if f.is_file() and form.encode() in f.read_bytes():
                leaks.append(f"{f} holds {form!r}")
    for i, out in enumerate(outputs):
        for form in forms(secret):
            if form in out:
                leaks.append(f"output {i} holds {form!r}: {out[:300]}")
    assert not leaks, "\n".join(leaks)


@pytest.fixture
def server():
    s = ChatServer()
    s.reply = TERMINATE
    yield s
    s.close()


@pytest.fixture
def screens(tmp_path) -> Path:
    return record_screens(tmp_path / "screens", ["white", "white"], size=(W, H))


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if k not in ("DISPLAY", "WAYLAND_DISPLAY", "OPENAI_API_KEY", "DASHSCOPE_API_KEY")}
    return subprocess.run([sys.executable, "-m", "guiagent", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**base, **(env or {})}, timeout=120)


def userinfo_url(server: ChatServer) -> str:
    host = server.url.removeprefix("http://")
    return f"http://{USER}:{urllib.parse.quote(PASSWORD, safe='')}@{host}"


def test_userinfo_is_sent_as_basic_auth_and_recorded_nowhere(server, screens, tmp_path):
    out = tmp_path / "out"
    spec = f"openai:{userinfo_url(server)}"
    run = cli("run", "do it", "--env", f"replay:{screens}", "--model", spec, "--out", str(out))
    assert run.returncode == 0, run.stdout + run.stderr  # urllib used to look up "alice:...@127.0.0.1" as a host
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert server.requests and all(r["headers"].get("Authorization") == expected for r in server.requests)
    assert all(r["headers"].get("Host", "").startswith("127.0.0.1:") for r in server.requests)
    meta = json.loads((out / "trajectory.json").read_text())["meta"]
    assert meta["model"] == f"openai:http://***@{server.url.removeprefix('http://')}"
    view = cli("view", str(out))
    assert view.returncode == 0, view.stderr
    assert "***@" in (out / "report.html").read_text(encoding="utf-8")
    assert_nowhere(PASSWORD, tmp_path, run.stdout, run.stderr, view.stdout, view.stderr)
    assert_nowhere(expected.split()[1], tmp_path, run.stdout, run.stderr)  # the header's token


def test_a_server_that_echoes_the_key_in_a_401_is_redacted_before_it_is_printed(server, screens, tmp_path):
    # our key is refused and the error body quotes it back, as some servers do
    server.script = [(401, {"error": {"message": f"Incorrect API key provided: {API_KEY}; header 'Bearer {API_KEY}'"}})]
    out = tmp_path / "out"
    run = cli("run", "do it", "--env", f"replay:{screens}", "--model", f"openai:{server.url}", "--out", str(out),
              env={"OPENAI_API_KEY": API_KEY})
    assert run.returncode in (1, 2), run.stdout + run.stderr
    assert server.chats()[0]["headers"]["Authorization"] == f"Bearer {API_KEY}"  # it was sent, to the server only
    assert "Incorrect API key provided: ***" in run.stdout + run.stderr
    if out.exists():
        cli("view", str(out))
    assert_nowhere(API_KEY, tmp_path, run.stdout, run.stderr)


def test_a_reply_that_echoes_the_credentials_is_recorded_redacted(server, screens, tmp_path):
    server.reply = (f"I was sent {PASSWORD} and {API_KEY}.\n" + TERMINATE)
    out = tmp_path / "out"
    run = cli("run", "do it", "--env", f"replay:{screens}", "--model", f"openai:{userinfo_url(server)}",
              "--out", str(out), "--json", env={"OPENAI_API_KEY": API_KEY})
    assert run.returncode == 0, run.stdout + run.stderr
    raw = load_trajectory(out).steps[0].raw_text or ""
    assert raw.startswith("I was sent *** and")
    assert_nowhere(PASSWORD, tmp_path, run.stdout, run.stderr)


def test_a_bad_spec_with_credentials_is_a_one_line_error_without_them(tmp_path):
    p = cli("run", "x", "--env", "desktop", "--model", f"openai:ftp://{USER}:{PASSWORD}@host/v1",
            "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "***@host" in p.stderr
    assert_nowhere(PASSWORD, tmp_path, p.stdout, p.stderr)


def test_bench_results_and_progress_never_hold_the_credentials(server, adb_server, tmp_path):
    out = tmp_path / "bench"
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_server.port), "OPENAI_API_KEY": API_KEY}
    server.reply = TERMINATE.replace("computer_use", "mobile_use")
    p = cli("bench", "simphone", "--model", f"openai:{userinfo_url(server)}", "--tasks", "SystemWifiToggle",
            "--instances", "1", "--max-steps", "2", "--out", str(out), env=env)
    assert (out / "summary.json").is_file(), p.stdout + p.stderr
    assert server.chats(), "the bench talked to the server"
    summary = (out / "summary.json").read_text()
    assert "***@" in summary
    assert_nowhere(PASSWORD, tmp_path, p.stdout, p.stderr)
    assert_nowhere(API_KEY, tmp_path, p.stdout, p.stderr)


def test_redact_masks_userinfo_and_every_form_of_a_secret():
    from guiagent.model.redact import redact

    assert redact("openai:http://u:p@host:8000/v1") == "openai:http://***@host:8000/v1"
    assert redact("see https://tok@h/x and http://a:b@c") == "see https://***@h/x and http://***@c"
    assert redact("user@example.com mailto") == "user@example.com mailto"  # not a URL: left alone
    key = "sk-abcdef"
    assert redact(f"k={key} q={urllib.parse.quote(key)} b={base64.b64encode(key.encode()).decode()}", [key]) == \
        "k=*** q=*** b=***"
    model = OpenAIModel(f"http://{USER}:{urllib.parse.quote(PASSWORD, safe='')}@127.0.0.1:9/v1")
    assert model.base_url == "http://127.0.0.1:9/v1" and model.spec == "openai:http://***@127.0.0.1:9/v1"
    assert model._password == PASSWORD
