"""A newcomer's first run: weights not downloaded, a folder that is not a checkpoint, system packages named.

Real parts: the CLI as a subprocess, an empty HF cache, HF_HUB_OFFLINE, the session's Xvfb."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from guiagent.model.catalog import CHECKPOINTS, known
from guiagent.tools.sysdeps import apt_packages

ROOT = Path(__file__).resolve().parents[1]
MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"


def _cli(args: list[str], cwd: Path, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    full = {**os.environ, "HF_HUB_CACHE": str(cwd / "empty-cache"), "HF_HUB_OFFLINE": "1", **env}
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "guiagent", *args], cwd=cwd, env=full, capture_output=True, text=True,
                       timeout=120)
    return p, time.monotonic() - t0


def _one_line(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def _assert_not_downloaded(line: str) -> None:
    assert f"hf:{MODEL} is not downloaded" in line
    assert "16.6 GB download" in line and "GB of GPU memory" in line
    assert f"`hf download {MODEL}`" in line
    assert "CUDA GPU" in line and "--model openai:" in line


@pytest.mark.parametrize("command", [
    ["run", "Open the text editor and type hello", "--env", "desktop"],
    ["locate", "the Save button", "--env", "desktop"],
    ["bench", "desktop", "--model", f"hf:{MODEL}", "--tasks", "form-signup"],
])
def test_a_model_not_downloaded_is_one_message_that_says_how_to_get_it(tmp_path, xvfb, command):
    p, took = _cli(command, tmp_path)
    _assert_not_downloaded(_one_line(p))
    assert took < 90, f"took {took:.0f} s: no hub retries"
    assert not (tmp_path / "runs").exists(), "a failed start leaves no empty run folder"


def test_the_env_is_checked_before_the_weights_load(tmp_path, tiny_checkpoint):
    """A complete checkpoint and no display: the display is reported, before the weights load."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    full = {**env, "HF_HUB_CACHE": str(tmp_path / "empty-cache"), "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-m", "guiagent", "run", "hello", "--env", "desktop", "--model",
                        f"hf:{tiny_checkpoint}"], cwd=tmp_path, env=full, capture_output=True, text=True, timeout=120)
    line = _one_line(p)
    assert "no display" in line
    assert not (tmp_path / "runs").exists()
    # weights that are not there are reported first: checking the files takes no time
    p = subprocess.run([sys.executable, "-m", "guiagent", "run", "hello", "--env", "desktop"], cwd=tmp_path,
                       env=full, capture_output=True, text=True, timeout=120)
    _assert_not_downloaded(_one_line(p))


def test_a_folder_that_is_not_a_checkpoint_names_what_it_lacks(tmp_path, xvfb):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    p, _ = _cli(["run", "hello", "--env", "desktop", "--model", f"hf:{folder}"], tmp_path)
    line = _one_line(p)
    assert "is not a complete Qwen2.5-VL checkpoint" in line
    for what in ("preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "weights (*.safetensors)"):
        assert what in line, line


def test_doctor_reports_the_same_facts_before_a_run(tmp_path):
    p, _ = _cli(["doctor", "--model", f"hf:{MODEL}"], tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert "not downloaded" in out and f"hf download {MODEL}" in out and "16.6 GB" in out, out


def test_the_catalogue_knows_every_published_size_and_its_awq_variant():
    sizes = {(c.params_b, c.quantized) for c in CHECKPOINTS}
    assert sizes == {(b, q) for b in (3, 7, 32, 72) for q in (False, True)}
    assert known(MODEL.lower()) is not None and known("someone/else") is None
    # bigger checkpoints need more memory; AWQ less than bf16
    for q in (False, True):
        mem = [c.memory_gb for c in sorted((c for c in CHECKPOINTS if c.quantized == q), key=lambda c: c.params_b)]
        assert mem == sorted(mem)
    for c in CHECKPOINTS:
        if c.quantized:
            assert c.memory_gb < known(c.hub_id.removesuffix("-AWQ")).memory_gb


def _apt_words(text: str) -> list[str]:
    m = re.search(r"apt-get install (?:-y -q --no-install-recommends \\\n\s*)?([a-z0-9. \-]+)", text)
    assert m, "an apt-get install line"
    return m.group(1).split()


def test_the_readme_and_ci_install_every_system_package():
    assert _apt_words((ROOT / "README.md").read_text()) == apt_packages()
    ci = (ROOT / ".ci" / "run").read_text()
    assert [w for w in _apt_words(ci) if not w.startswith("-")] == apt_packages()


def test_models_lists_the_catalogue_and_what_is_in_the_cache(tmp_path):
    cache = tmp_path / "hub"
    repo = cache / "models--Qwen--Qwen2.5-VL-3B-Instruct"
    sha = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    (repo / "snapshots" / sha).mkdir(parents=True)
    (repo / "snapshots" / sha / "config.json").write_text("{}")
    p, _ = _cli(["models"], tmp_path, HF_HUB_CACHE=str(cache))
    assert p.returncode == 0, p.stderr
    rows = {line.split()[0]: line.split() for line in p.stdout.splitlines()[1:] if line.startswith("Qwen/")}
    assert set(rows) == {c.hub_id for c in CHECKPOINTS}
    assert rows["Qwen/Qwen2.5-VL-3B-Instruct"][-1] == "yes"
    assert {r[-1] for hub_id, r in rows.items() if hub_id != "Qwen/Qwen2.5-VL-3B-Instruct"} == {"no"}
    assert rows[MODEL][1:4] == ["7B", "16.6", "GB"] and "3136-12845056" in rows[MODEL]
    assert f"cache: {cache}" in p.stdout


def test_doctor_checks_tkinter_with_the_interpreter_that_runs_guiagent():
    from guiagent.envs.desktop import probe

    (tk,) = [c for c in probe() if c.name == "tkinter"]
    assert tk.status == "OK" and sys.executable in tk.detail


def test_doctor_names_python3_tk_when_tkinter_cannot_import(tmp_path):
    # a Python whose tkinter is absent: a path entry that shadows _tkinter with a failing module finder
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\nclass _NoTk:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name == '_tkinter':\n            raise ImportError('no _tkinter')\n        return None\n"
        "sys.meta_path.insert(0, _NoTk())\n")
    code = "from guiagent.envs.desktop import check_tkinter; r = check_tkinter(); print(r.status, '|', r.fix)"
    p = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(tmp_path)},
                       capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "WARN | sudo apt-get install python3-tk", p.stdout + p.stderr


def test_dry_run_says_so_on_every_line(tmp_path, xvfb):
    script = tmp_path / "replies.json"
    def call(arguments: dict) -> str:
        return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + "\n</tool_call>"

    script.write_text(json.dumps([call({"action": "left_click", "coordinate": [10, 10]}),
                                  call({"action": "terminate", "status": "success"})]))
    p, _ = _cli(["run", "hi", "--env", "desktop", "--model", f"scripted:{script}", "--dry-run", "--out", "o"], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("dry run: ") for line in lines), p.stdout


@pytest.mark.parametrize("spec", ["scripted:EMPTY", "openai:http://127.0.0.1:9/v1"])
def test_an_empty_script_or_an_unreachable_server_is_a_configuration_error(tmp_path, xvfb, spec):
    (tmp_path / "EMPTY").write_text("[]")
    p, _ = _cli(["run", "hi", "--env", "desktop", "--model", spec.replace("EMPTY", str(tmp_path / "EMPTY")),
                 "--out", "o"], tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "no replies" in p.stderr or "cannot reach the server" in p.stdout, p.stdout + p.stderr


def test_the_package_has_a_version_and_typed_errors():
    from guiagent.model.base import ModelError, ParseError

    import guiagent

    assert guiagent.__version__ == __import__("importlib.metadata").metadata.version("guiagent")
    assert guiagent.ModelError is ModelError and guiagent.ParseError is ParseError
    with pytest.raises(ValueError, match="unknown model spec"):
        guiagent.load_model("nonsense")


def test_locate_on_a_phone_offers_and_parses_the_phones_own_tool(android_env):
    from guiagent.model.scripted import ScriptedModel

    from guiagent import Agent

    reply = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [100, 200]}}\n</tool_call>'
    model = ScriptedModel([reply])
    x, y = Agent(model, android_env).locate("the Wi-Fi switch")
    system = json.dumps([m.model_dump(mode="json", exclude={"content"}) | {"text": str(m.content)[:20000]}
                         for m in model.requests[0]])
    assert "mobile_use" in system and "computer_use" not in system
    shot = android_env.observe()
    frame_w, frame_h = model.image_size(shot.image.width, shot.image.height)
    assert (x, y) == (round(100 * shot.image.width / frame_w), round(200 * shot.image.height / frame_h))


def test_a_terminal_sees_a_live_status_line_while_the_model_thinks_and_a_pipe_sees_none():
    """A real pseudo-terminal: the status line (elapsed time) is drawn, then erased for the step's line."""
    import io
    import pty
    import select

    from guiagent.agent.progress import Progress
    from guiagent.agent.trajectory import StepRecord
    from guiagent.model.base import Completion

    master, slave = pty.openpty()
    term = os.fdopen(slave, "w", encoding="utf-8", buffering=1)
    piped = io.StringIO()
    try:
        shown = Progress(stream=term)
        plain = Progress(stream=piped)
        assert shown.live and not plain.live
        assert shown.wants_tokens and not plain.wants_tokens  # only a live line makes the model stream
        for p in (shown, plain):
            p.on_step_start(1)
        time.sleep(0.4)
        for p in (shown, plain):
            p.on_tokens(1, 7)
        time.sleep(0.4)
        for p in (shown, plain):
            p.on_completion(1, Completion(text="x"))
            p.on_step_end(StepRecord(index=1, started_at=time.time(), feedback=[]))
        out = b""
        while select.select([master], [], [], 0.2)[0]:
            out += os.read(master, 65536)
    finally:
        term.close()
        os.close(master)
    text = out.decode()
    assert re.search(r"\r\x1b\[2Kstep   1  model thinking… 0\.[5-9]s", text), repr(text)
    assert re.search(r"\r\x1b\[2Kstep   1  model thinking… 0\.[5-9]s  7 tokens", text), repr(text)
    assert text.rstrip().endswith("\r\x1b[2Kstep   1  no action  (0.00s)"), repr(text)
    assert piped.getvalue() == "step   1  no action  (0.00s)\n"  # a file gets no control characters
