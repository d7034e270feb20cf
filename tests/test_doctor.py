"""`guiagent doctor` against real parts: Xvfb, no display at all, a private adb server with
simulated phones (one fine, one unauthorized, one without ADBKeyboard), an OpenAI-style
HTTP server on loopback, and the tiny Qwen2.5-VL checkpoint.

Exit-code policy under test (agent/doctor.py): 0 when nothing FAILs; a missing part FAILs
only when the --env/--model asked for needs it, a present-but-broken part always FAILs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from guiagent.agent.doctor import (
    CheckResult,
    Target,
    android_checks,
    check_display,
    exit_code,
    format_table,
    gpu_checks,
    model_checks,
)

from guiagent.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
ADB = shutil.which("adb")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {c.name: c for c in results}


def isolated_env(tmp: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """A child environment whose adb server and HF cache are private and empty (deterministic answers)."""
    env = dict(os.environ if base is None else base)
    env.update(ANDROID_ADB_SERVER_PORT=str(free_port()), HF_HOME=str(tmp / "hf"), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    return env


def doctor(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    code = "import sys; from guiagent.cli import main; sys.exit(main(['doctor', *sys.argv[1:]]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# --------------------------------------------------------------------------- the CLI, end to end


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory, xvfb) -> dict[str, tuple[int, str, str]]:
    """`guiagent doctor` in child processes, started together: without a display and on Xvfb."""
    tmp = tmp_path_factory.mktemp("doctor")
    bare = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE",
                                                             "XAUTHORITY")}
    runs = {
        "no display, desktop asked": doctor(["--env", "desktop"], isolated_env(tmp, bare)),
        "no display, nothing asked": doctor(["--json"], isolated_env(tmp, bare)),
        "xvfb, desktop asked": doctor(["--env", "desktop", "--json"], isolated_env(tmp, xvfb.child_env())),
    }
    out = {}
    for name, proc in runs.items():
        stdout, stderr = proc.communicate(timeout=300)
        out[name] = (proc.returncode, stdout, stderr)
    return out


def test_no_display_fails_when_the_desktop_is_asked_for(cli_runs) -> None:
    rc, out, err = cli_runs["no display, desktop asked"]
    assert rc == 1, err
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if line.split()[:2] == ["FAIL", "display"])
    assert "no display server: DISPLAY is not set" in lines[i]
    assert "fix: run headless under Xvfb: xvfb-run -s '-screen 0 1920x1080x24' guiagent run" in lines[i + 1]
    # the table is aligned: each fix starts in the detail column, the same for every row
    fixes = [i for i, line in enumerate(lines) if line.lstrip().startswith("fix: ")]
    column = {lines[i].index("fix: ") for i in fixes}
    assert len(column) == 1 and len(fixes) >= 2
    (col,) = column
    assert all(lines[i - 1][col - 2:col] == "  " and lines[i - 1][col] != " " for i in fixes)
    assert lines[-1].endswith("— exit code 1")


def test_no_display_only_warns_when_nothing_is_asked(cli_runs) -> None:
    rc, out, err = cli_runs["no display, nothing asked"]
    data = json.loads(out)
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["display"]["status"] == "WARN" and "xvfb-run" in checks["display"]["fix"]
    # nothing is attached in this isolated setup, and nothing of that is asked for: warnings only
    assert checks["adb server"]["status"] == "WARN" and "adb start-server" in checks["adb server"]["fix"]
    assert checks["model files"]["status"] == "WARN" and "hf download Qwen/Qwen2.5-VL-7B-Instruct" in \
        checks["model files"]["fix"]
    assert rc == data["exit_code"] == 0, err


def test_xvfb_desktop_checks_pass(cli_runs, xvfb) -> None:
    rc, out, err = cli_runs["xvfb, desktop asked"]
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["display"]["status"] == "OK" and f"X11 {xvfb.display}" in checks["display"]["detail"]
    assert "XTEST present" in checks["display"]["detail"]
    assert checks["screen capture"]["status"] == "OK" and "1 monitor: 1366x768+0+0" in checks["screen capture"]["detail"]
    assert checks["input"]["status"] == "OK" and "on a 1366x768 screen" in checks["input"]["detail"]
    assert checks["HiDPI scale"] == {"group": "Desktop", "name": "HiDPI scale", "status": "OK", "fix": None,
                                     "detail": "1 (captured 1366x768 px for 1366x768 logical points)"}
    assert checks["xdotool"]["status"] == ("OK" if shutil.which("xdotool") else "WARN")
    assert rc == 0, out + err


@pytest.mark.parametrize("argv, message", [
    (["--env", "windows"], "unknown env 'windows'"),
    (["--env", "desktop:x"], "the monitor in desktop:N must be a number"),
    (["--model", "gpt4"], "unknown model spec 'gpt4'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_usage_is_one_line_exit_2(argv, message, capsys) -> None:
    assert cli_main(["doctor", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("guiagent doctor: error: ") and message in err


# --------------------------------------------------------------------------- display, in process


def test_display_policy_without_a_display(monkeypatch) -> None:
    for k in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(k, raising=False)
    assert check_display(Target())[0].status == "WARN"
    result, usable = check_display(Target(env="desktop"))
    assert (result.status, usable) == ("FAIL", False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    result, _ = check_display(Target(env="desktop"))
    assert result.status == "FAIL" and "Wayland session" in result.detail and "Xorg" in result.fix


def test_a_dead_display_fails_even_when_not_asked(monkeypatch, tmp_path) -> None:
    xauth = tmp_path / "xauth"
    xauth.touch()
    monkeypatch.setenv("XAUTHORITY", str(xauth))
    monkeypatch.setenv("DISPLAY", ":4093")  # no server behind it
    result, usable = check_display(Target())
    assert (result.status, usable) == ("FAIL", False)
    assert result.detail.startswith("DISPLAY=:4093 cannot be opened")


# --------------------------------------------------------------------------- adb and simulated phones


@pytest.fixture(scope="module")
def adb_port() -> Iterator[int]:
    """A private adb server (Debian's adb) on a free port, killed afterwards."""
    if ADB is None:
        pytest.skip("needs adb (apt install adb)")
    port = free_port()
    subprocess.run([ADB, "-P", str(port), "start-server"], check=True, capture_output=True, timeout=60)
    try:
        yield port
    finally:
        subprocess.run([ADB, "-P", str(port), "kill-server"], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def phones(adb_port) -> Iterator[dict[str, str]]:
    """Three simulated phones attached to the private adb server; name -> serial."""
    from guiagent.envs.simphone.server import SimPhone

    sims = {"ok": SimPhone(), "unauthorized": SimPhone(unauthorized=True), "no-ime": SimPhone(adb_keyboard=False)}
    for sim in sims.values():
        sim.start()
    try:
        for sim in sims.values():
            subprocess.run([ADB, "-P", str(adb_port), "connect", sim.serial], capture_output=True, timeout=60)
        subprocess.run([ADB, "-P", str(adb_port), "wait-for-any-device"], capture_output=True, timeout=60)
        yield {name: sim.serial for name, sim in sims.items()}
    finally:
        for sim in sims.values():
            subprocess.run([ADB, "-P", str(adb_port), "disconnect", sim.serial], capture_output=True, timeout=60)
            sim.stop()


def test_attached_phone_passes(phones, adb_port, monkeypatch) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_port))
    results = android_checks(Target(env="android", serial=phones["ok"]))
    checks = by_name(results)
    assert checks["adb server"].status == "OK" and checks["adb server"].detail.endswith(f" on 127.0.0.1:{adb_port}")
    assert checks["device"].detail == f"{phones['ok']}: online"
    assert checks["screen size"].detail == f"{phones['ok']}: 1080x2400"
    assert checks["input method"].status == "OK" and "ADBKeyboard enabled" in checks["input method"].detail
    assert exit_code(results) == 0


def test_unauthorized_phone_fails_with_the_fix(phones, adb_port, monkeypatch) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_port))
    results = android_checks(Target(env="android", serial=phones["unauthorized"]))
    device = by_name(results)["device"]
    assert device.status == "FAIL" and device.detail == f"{phones['unauthorized']}: state 'unauthorized'"
    assert "Allow USB debugging" in device.fix
    assert exit_code(results) == 1


def test_phone_without_adbkeyboard_warns(phones, adb_port, monkeypatch) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_port))
    results = android_checks(Target(env="android", serial=phones["no-ime"]))
    ime = by_name(results)["input method"]
    assert ime.status == "WARN" and "only ASCII text can be typed" in ime.detail
    assert ime.fix.endswith("shell ime enable com.android.adbkeyboard/.AdbIME")
    assert exit_code(results) == 0


def test_several_phones_and_a_missing_serial(phones, adb_port, monkeypatch) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_port))
    results = android_checks(Target(env="android"))
    assert [c.status for c in results if c.name == "devices"] == ["WARN"]  # two online: say which to pick
    assert sorted(c.detail.split(":")[-1].strip() for c in results if c.name == "device") == \
        sorted(["online", "online", "state 'unauthorized'"])
    missing = android_checks(Target(env="android", serial="127.0.0.1:9"))
    assert [c.status for c in missing] == ["OK", "FAIL"] and "127.0.0.1:9 is not attached" in missing[1].detail


def test_no_adb_server_is_reported_and_not_started(monkeypatch) -> None:
    port = free_port()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    (warn,) = android_checks(Target())
    (fail,) = android_checks(Target(env="android"))
    assert (warn.status, fail.status) == ("WARN", "FAIL")
    assert f"no adb server on 127.0.0.1:{port} (connection refused)" == fail.detail
    assert fail.fix.startswith("adb start-server")
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # still nothing listens: the doctor did not start a server


# --------------------------------------------------------------------------- model endpoints and files


class _Models(BaseHTTPRequestHandler):
    models: list[dict] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/v1/models":
            self.send_error(404)
            return
        body = json.dumps({"object": "list", "data": self.server.models}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def models_server() -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on loopback answering /v1/models with `server.models`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    server.models = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_openai_endpoint_lists_models_and_context(models_server) -> None:
    models_server.models = [{"id": "Qwen/Qwen2.5-VL-7B-Instruct", "object": "model", "max_model_len": 32768}]
    url = f"http://127.0.0.1:{models_server.server_port}/v1"
    checks = by_name(model_checks(Target(model=f"openai:{url}")))
    assert checks["endpoint"].status == "OK"
    assert checks["endpoint"].detail == f"openai:{url} serves 1 model: Qwen/Qwen2.5-VL-7B-Instruct"
    # 1920x1080 at the default budget is 1932x1092 = 2691 image tokens
    assert checks["context"].status == "OK"
    assert "max_model_len 32768, about 12 1920x1080 screenshots (2691 tokens each" in checks["context"].detail


def test_openai_small_context_and_several_models(models_server) -> None:
    models_server.models = [{"id": "a", "max_model_len": 2048}, {"id": "b"}]
    results = model_checks(Target(model=f"openai:127.0.0.1:{models_server.server_port}"))  # /v1 is added
    statuses = [(c.name, c.status) for c in results]
    assert statuses == [("endpoint", "OK"), ("context", "FAIL"), ("context", "OK"), ("served model", "WARN")]
    assert "--max-model-len" in results[1].fix and results[2].detail == "b: max_model_len not reported"


def test_openai_endpoint_down_or_wrong_fails(models_server) -> None:
    (down,) = model_checks(Target(model=f"openai:http://127.0.0.1:{free_port()}/v1"))
    assert down.status == "FAIL" and "vllm serve" in down.fix
    (wrong,) = model_checks(Target(model=f"openai:http://127.0.0.1:{models_server.server_port}/api"))
    assert wrong.status == "FAIL" and "404" in wrong.detail


def test_hf_checkpoint_present_and_loadable(tiny_checkpoint) -> None:
    results = model_checks(Target(model=f"hf:{tiny_checkpoint}"))
    checks = by_name(results)
    assert checks["model files"].status == "OK" and "tokenizer and weights present" in checks["model files"].detail
    assert checks["model config"].status == "OK" and checks["model config"].detail.startswith("qwen2_5_vl: ")
    assert exit_code(results) == 0


def test_hf_checkpoint_with_missing_files_fails(tiny_checkpoint, tmp_path) -> None:
    broken = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, broken)
    (broken / "preprocessor_config.json").unlink()
    (broken / "model.safetensors").rename(broken / "model-00001-of-00002.safetensors")
    (broken / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    (files,) = model_checks(Target(model=f"hf:{broken}"))
    assert files.status == "FAIL"
    assert files.detail.endswith("lacks: preprocessor_config.json; 1 of 2 weight shards "
                                 "(model-00002-of-00002.safetensors…)")


def test_hf_hub_id_not_downloaded(monkeypatch) -> None:
    (asked,) = model_checks(Target(model="hf:guiagent-tests/not-downloaded-7B"))
    assert asked.status == "FAIL" and "is not downloaded" in asked.detail
    assert asked.fix.startswith("hf download guiagent-tests/not-downloaded-7B")
    (folder,) = model_checks(Target(model="hf:/nonexistent/checkpoint"))
    assert folder.status == "FAIL" and folder.detail == "hf:/nonexistent/checkpoint: no such folder"


def test_scripted_and_replay_models_report_their_reply_counts(tmp_path) -> None:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(["a", "b", {"text": "c", "finish_reason": "length"}]))
    (scripted,) = model_checks(Target(model=f"scripted:{script}"))
    assert scripted.status == "OK" and scripted.detail == f"scripted:{script}: 3 scripted replies"
    run = tmp_path / "run"
    run.mkdir()
    (run / "trajectory.json").write_text(json.dumps({"steps": [{"raw_text": "x"}, {"raw_text": None}]}))
    (replay,) = model_checks(Target(model=f"replay:{run}"))
    assert replay.status == "OK" and replay.detail == f"replay:{run}: 1 scripted replies"
    (missing,) = model_checks(Target(model=f"scripted:{tmp_path / 'none.json'}"))
    assert missing.status == "FAIL"


def test_gpu_checks_match_this_machine() -> None:
    import torch

    checks = by_name(gpu_checks(Target()))
    assert checks["torch"].detail == f"torch {torch.__version__}"
    if torch.cuda.is_available():
        assert checks["CUDA"].status == "OK" and "GPU" in checks["CUDA"].detail
        assert checks["GPU 0 memory"].status == "OK"
    else:
        assert checks["CUDA"].status == "WARN" and "--model openai:" in checks["CUDA"].fix
        # a remote model does not need a local GPU
        assert by_name(gpu_checks(Target(model="openai:http://h:8000/v1")))["CUDA"].status == "OK"


def test_text_table_aligns_and_puts_the_fix_under_the_detail() -> None:
    results = [CheckResult(group="Desktop", name="display", status="FAIL", detail="no display", fix="use Xvfb"),
               CheckResult(group="Desktop", name="HiDPI scale", status="OK", detail="1"),
               CheckResult(group="GPU", name="CUDA", status="WARN", detail="none", fix="install CUDA")]
    lines = format_table(results).splitlines()
    assert lines[1:] == [
        "", "Desktop",
        "  FAIL  display      no display",
        "                     fix: use Xvfb",
        "  OK    HiDPI scale  1",
        "", "GPU",
        "  WARN  CUDA         none",
        "                     fix: install CUDA",
        "", "1 FAIL · 1 WARN · 1 OK — exit code 1",
    ]


@pytest.mark.parametrize("free_gb, suggestion", [(12, "hf:Qwen/Qwen2.5-VL-3B-Instruct (about 9 GB)"),
                                                 (3, "none of the published checkpoints fits")])
def test_a_gpu_with_too_little_memory_names_the_need_a_model_that_fits_and_openai(monkeypatch, free_gb, suggestion):
    """No GPU can exist on this machine: torch.cuda answers as a 12 GB (or 3 GB) card would; the check is ours."""
    import torch
    from guiagent.model.hf import probe_gpu

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "NVIDIA GeForce RTX 3060")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (free_gb * 10**9, 12 * 10**9))
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    results = {c.name: c for c in probe_gpu("hf:Qwen/Qwen2.5-VL-7B-Instruct", local=True, required=True)}
    low = results["GPU memory"]
    # the catalogue's figure, the same one `guiagent models` and the not-downloaded message give
    assert low.status == "WARN" and "needs about 21 GB of GPU memory" in low.detail
    assert f"{free_gb:.1f} GB are free on 1 GPU" in low.detail
    assert low.fix is not None and suggestion in low.fix and "--model openai:" in low.fix
    assert results["GPU 0 memory"].detail == f"{free_gb:.1f} of 12.0 GB free"
    enough = {c.name: c for c in probe_gpu("hf:Qwen/Qwen2.5-VL-3B-Instruct", local=True, required=True)}
    assert ("GPU memory" in enough) == (free_gb < 9)  # the 3B fits in 12 GB, not in 3
