"""The benchmark scripts run and print their tables (their numbers are measured by hand, not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fixtures.desktop import needs_xvfb

ROOT = Path(__file__).resolve().parents[1]


def bench(*args: str) -> str:
    p = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return p.stdout


def test_gpu_step_tiny_runs_on_the_cpu():
    out = bench("benchmarks/gpu_step.py", "--tiny", "--episodes", "2", "--repeats", "1")
    assert "tiny 1920x1080" in out and "step cookbook/hf" in out and "batched vs one after another" in out
    # the fast path hands the model the cookbook's very tensors, and greedy decoding then writes the same reply
    for screen in ("1920x1080", "1080x2400"):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"tiny {screen}: same input"))
        assert "identical input_ids, grid and pixel_values" in line and "identical reply" in line, line


def test_step_overhead_runs_on_its_own_xvfb():
    needs_xvfb()
    out = bench("benchmarks/step_overhead.py", "--steps", "5", "--peer-delay-steps", "1")
    assert "overhead (wall - infer - settle)" in out and "PNG compress_level=1" in out
    # like for like both ways, what a backend pays, and the peers' methods, all in the same run
    for line in ("no waits: ours", "with waits: ours", "resize + PNG + base64 (openai:)",
                 "demo, delay 2.0 s as shipped: total", "demo, delay 0: total", "pyautogui defaults: total",
                 "real loop overhead, recording off / on"):
        assert line in out, line


def test_offline_throughput_tiny_runs_on_the_cpu():
    out = bench("benchmarks/offline_throughput.py", "--tiny")
    assert "offline throughput: ScreenSpot, tiny checkpoint on the CPU" in out and "ratio 2 workers / 1:" in out


def test_record_cost_prints_flat_per_step_cost():
    out = bench("benchmarks/record_cost.py", "--lengths", "5,20", "--schema1-max", "20")
    assert "ratio schema 2, 20 steps / 5 steps:" in out and "bytes per step, schema 2:" in out


def test_memory_4k_tiny_runs_on_its_own_xvfb():
    needs_xvfb()
    out = bench("benchmarks/memory_4k.py", "--tiny")
    assert "RSS growth after the warm-up:" in out and "record_wait" in out
