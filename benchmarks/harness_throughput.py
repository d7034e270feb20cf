"""Harness throughput: oracle episodes per minute with 1 and 2 workers on the same tasks.

Both runs go through the real runner (`harness.runner.Runner`): each worker starts its
own env (headless Chromium for miniwob, a simulated phone for simphone, Xvfb + a
desktop env process for desktop), runs the oracle model through the full agent loop
(prompt, parser, Frame, env, evaluator, trajectory + OSWorld export) and writes the
results. The 1-worker run is the baseline, measured in the same invocation on the same
task instances; the ratio is 2-worker throughput / 1-worker throughput.

The wall time includes starting each worker's env (that is what a user waits for);
the "steady" column leaves each worker's one-off env start out.

    python benchmarks/harness_throughput.py [--suites miniwob,simphone,desktop] [--instances 2] [--workers 1,2]

"load" is the 1-minute load average after each run: other work on the machine takes
cores from the workers, so compare ratios measured at a similar load.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class _Quiet:
    """A progress sink: the benchmark prints its own table."""

    def __init__(self) -> None:
        self.records = []

    def started(self, task_id: str) -> None: ...

    def finished(self, record) -> None:
        self.records.append(record)

    def log(self, message: str) -> None: ...

    def close(self) -> None: ...


def run_once(suite: str, instances: int, workers: int, tasks: list[str] | None, out: Path) -> dict:
    from guiagent.harness.loader import load_suite
    from guiagent.harness.oracle import OracleModel
    from guiagent.harness.runner import Runner, RunOptions

    loaded = load_suite(suite, instances=instances)
    chosen = loaded.select(tasks) if tasks else loaded.tasks
    progress = _Quiet()
    runner = Runner(chosen, OracleModel(), RunOptions(out=out, model_spec="oracle", suite=suite, workers=workers),
                    progress=progress)
    t0 = time.perf_counter()
    summary = runner.run()
    wall = time.perf_counter() - t0
    recs = [r for r in progress.records if r.status == "scored"]
    # each worker's first task paid for starting its env; the largest of those is the one-off cost
    starts = sorted((r.phases.get("env", 0.0) for r in recs), reverse=True)[:workers]
    steady = wall - (max(starts) if starts else 0.0)
    return {"workers": workers, "episodes": len(recs), "success": sum(1 for r in recs if r.success),
            "wall": wall, "steady": steady, "env_start": max(starts) if starts else 0.0,
            "per_min": 60 * len(recs) / wall, "steady_per_min": 60 * len(recs) / steady,
            "step_latency": summary["mean_step_latency_s"], "errors": summary["overall"]["errors"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--suites", default="miniwob,simphone,desktop", help="suites to measure, one table row pair each")
    p.add_argument("--instances", type=int, default=2, help="seeded instances per templated task (default 2)")
    p.add_argument("--workers", default="1,2", help="worker counts to compare; the first is the baseline")
    p.add_argument("--tasks", help="comma-separated task names (default: each whole suite)")
    args = p.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    tasks = args.tasks.split(",") if args.tasks else None
    suites = args.suites.split(",")

    print(f"harness throughput: oracle model, {os.cpu_count()} CPUs; each suite runs the same task instances "
          f"with {' and '.join(map(str, counts))} worker(s)")
    print(f"{'suite':>8} {'workers':>7} {'episodes':>8} {'success':>7} {'wall s':>7} {'ep/min':>7} "
          f"{'steady ep/min':>13} {'env start s':>11} {'step s':>7} {'ratio':>6} {'steady ratio':>12} {'load':>5}")
    ratios = {}
    for suite in suites:
        # warm-up: a cold machine's first Chromium start and imports are not the harness's cost
        with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
            from guiagent.harness.loader import load_suite

            first = load_suite(suite, instances=1).tasks[0].name
            run_once(suite, 1, 1, [first], Path(tmp) / "out")
        rows = []
        for n in counts:
            with tempfile.TemporaryDirectory(prefix=f"bench-w{n}-") as tmp:
                row = run_once(suite, args.instances, n, tasks, Path(tmp) / "out")
                row["load"] = os.getloadavg()[0]
                rows.append(row)
        base = rows[0]
        for r in rows:
            print(f"{suite:>8} {r['workers']:>7} {r['episodes']:>8} {r['success']:>7} {r['wall']:>7.1f} "
                  f"{r['per_min']:>7.1f} {r['steady_per_min']:>13.1f} {r['env_start']:>11.2f} "
                  f"{r['step_latency'] or 0:>7.3f} {r['per_min'] / base['per_min']:>6.2f} "
                  f"{r['steady_per_min'] / base['steady_per_min']:>12.2f} {r['load']:>5.2f}")
            if r["errors"] or r["success"] != r["episodes"]:
                print(f"warning: {suite} with {r['workers']} worker(s) had failures or errors; not comparable")
        ratios[suite] = rows[-1]["per_min"] / base["per_min"]
    if len(counts) > 1:
        print(f"ratio {counts[-1]} workers / {counts[0]} (target >= 1.6x on 2 cores): "
              + ", ".join(f"{s} {r:.2f}x" for s, r in ratios.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
