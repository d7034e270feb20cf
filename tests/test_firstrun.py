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
    assert took < 60, f"took {took:.0f} s: no hub retries"
    assert not (tmp_path / "runs").exists(), "a failed start leaves no empty run folder"


def test_the_env_is_checked_before_the_model_loads(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    full = {**env, "HF_HUB_CACHE": str(tmp_path / "empty-cache"), "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-m", "guiagent", "run", "hello", "--env", "desktop"], cwd=tmp_path,
                       env=full, capture_output=True, text=True, timeout=120)
    line = _one_line(p)
    assert "no display" in line and "not downloaded" not in line
    assert not (tmp_path / "runs").exists()


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
