"""Memory and phases of a long recorded run at 4K: the loop's memory stays bounded, the disk's pace shows as record_wait.

Runs the real loop (agent.loop.Agent + ScriptedModel, recording on) for --steps clicks on
a private Xvfb at 3840x2160 (envs.xvfb.start_xvfb) with the Tk logger painting a mark
at every click, so every screenshot differs. Samples the process's resident memory
(/proc/self/status VmRSS) after every step and prints: RSS after the warm-up steps, at
the end, the growth between them (goal <= 200 MB), the peak (VmHWM), the bytes the run
wrote, and each phase's median / p95 per step, ``record_wait`` included (the time the
loop waited for the previous step's PNG and line to be on disk).

Usage: python benchmarks/memory_4k.py [--steps 500] [--width 3840 --height 2160] [--history text|images:K]
       python benchmarks/memory_4k.py --tiny   (20 steps at 640x480: a smoke run)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from guiagent.envs.xvfb import start_xvfb, xvfb_available  # noqa: E402

from benchmarks.step_overhead import replies, start_app  # noqa: E402

GOAL_MB = 200.0
WARMUP = 10


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--width", type=int, default=3840)
    ap.add_argument("--height", type=int, default=2160)
    ap.add_argument("--history", default="text", help="the run's history policy: text or images:K")
    ap.add_argument("--tiny", action="store_true", help="a smoke run: 20 steps at 640x480")
    args = ap.parse_args()
    if args.tiny:
        args.steps, args.width, args.height = 20, 640, 480
    if not xvfb_available():
        print("needs Xvfb (apt install xvfb)", file=sys.stderr)
        return 2
    server = start_xvfb(args.width, args.height)
    os.environ.update(server.environ())
    os.environ.pop("WAYLAND_DISPLAY", None)
    os.environ.pop("XDG_SESSION_TYPE", None)
    tmp = Path(tempfile.mkdtemp(prefix="guiagent-mem-"))
    log = tmp / "events.jsonl"
    log.touch()
    app = start_app(server, log)
    try:
        from guiagent.agent.callbacks import FunctionCallback
        from guiagent.agent.loop import Agent, Settle
        from guiagent.envs.desktop import DesktopEnv
        from guiagent.model.scripted import ScriptedModel

        env = DesktopEnv(settle=False, failsafe=False)
        shot = env.observe()
        mw, mh = ScriptedModel([]).image_size(shot.image.width, shot.image.height)
        model = ScriptedModel(replies(args.steps, mw, mh))
        samples: list[float] = []
        agent = Agent(model, env, max_steps=args.steps + 5, out_dir=tmp / "run", history=args.history,
                      settle=Settle(enabled=False), callbacks=[FunctionCallback(lambda step: samples.append(rss_mb()))])
        print(f"display {server.display} {args.width}x{args.height}, {args.steps} steps, history {args.history}, "
              f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        start_rss = rss_mb()
        t0 = time.perf_counter()
        result = agent.run("Click every button.")
        wall = time.perf_counter() - t0
        end_rss = rss_mb()
        steps = result.trajectory.steps
        if result.status != "success":
            print(f"the scripted run ended with {result.status}: {result.reason}", file=sys.stderr)
            return 1
        warm = samples[min(WARMUP, len(samples)) - 1]
        growth = end_rss - warm
        written = sum(p.stat().st_size for p in (tmp / "run").iterdir())
        print(f"RSS before the run {start_rss:,.0f} MB, after step {min(WARMUP, len(samples))} {warm:,.0f} MB, "
              f"at the end {end_rss:,.0f} MB, peak {rss_mb('VmHWM'):,.0f} MB")
        marks = sorted({min(WARMUP, len(samples)), *(len(samples) * q // 4 for q in (1, 2, 3, 4))} - {0})
        print("RSS by step (a leak grows steadily; the allocator's working set levels off): "
              + ", ".join(f"{i}: {samples[i - 1]:,.0f}" for i in marks) + " MB")
        print(f"RSS growth after the warm-up: {growth:+,.0f} MB over {len(steps) - WARMUP} steps "
              f"(goal <= {GOAL_MB:.0f} MB) {'OK' if growth <= GOAL_MB else 'OVER'}")
        print(f"wall {wall:.1f} s, {wall / len(steps) * 1000:.0f} ms per step; {written / 2**20:,.1f} MiB written "
              f"({(tmp / 'run' / 'steps.jsonl').stat().st_size / len(steps):,.0f} B of steps.jsonl per step)")
        print(f"\n  {'phase':<14} {'median ms':>9} {'p95 ms':>9}")
        phases: dict[str, list[float]] = {}
        for st in steps:
            for k, v in st.durations.items():
                phases.setdefault(k, []).append(v)
            phases.setdefault("step wall", []).append(st.ended_at - st.started_at)
        for k, v in phases.items():
            print(f"  {k:<14} {statistics.median(v) * 1000:>9.1f} {pct(v, 0.95) * 1000:>9.1f}")
    finally:
        app.kill()
        app.wait()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
