"""The simulated phone's shell parser on long command lines: time per size, and how it scales.

Times `guiagent.envs.simphone.sh.parse` on 100k, 400k and 1.6M-character command lines of four shapes
(an unquoted word, a single-quoted one, a double-quoted one, a run of ``$x`` expansions). A linear parser
takes ~16x longer for 16x the characters; the quadratic one it replaced took ~150x (5.4 s at 400k, 92 s at
1.6M). ``--baseline`` also times that previous parser, read from git history (commit before the split), on
sizes up to ``--baseline-max`` characters (it needs minutes beyond 400k).

    python benchmarks/sh_tokenizer.py [--repeats 3] [--baseline [--baseline-max 400000]]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (100_000, 400_000, 1_600_000)
BASELINE_COMMIT = "f85a55a"  # the last commit with the one-file shell (envs/simphone/shell.py)


def line_of(shape: str, n: int) -> str:
    return {"plain": "echo " + "a" * n, "single-quoted": "echo '" + "a" * n + "'",
            "double-quoted": 'echo "' + "a" * n + '"', "vars": "echo " + "$x" * (n // 2)}[shape]


def best_s(fn: Callable[[str], object], line: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(line)
        times.append(time.perf_counter() - start)
    return min(times)


def baseline_parse() -> Callable[[str], object]:
    """`parse` of the previous shell.py, from git history (needs the repository's .git)."""
    source = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:envs/simphone/shell.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType("old_shell")
    sys.modules["old_shell"] = module  # dataclasses look their module up
    exec(compile(source, "old_shell.py", "exec"), module.__dict__)  # noqa: S102 - our own code, from our history
    return module.parse


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--baseline", action="store_true", help="also time the previous (quadratic) parser")
    p.add_argument("--baseline-max", type=int, default=400_000, help="largest size the baseline is timed on")
    args = p.parse_args()
    from guiagent.envs.simphone.sh import parse

    old = baseline_parse() if args.baseline else None
    print(f"{'shape':<14} {'chars':>10} {'parse s':>9} {'baseline s':>11} {'speedup':>8}")
    for shape in ("plain", "single-quoted", "double-quoted", "vars"):
        times = []
        for n in SIZES:
            line = line_of(shape, n)
            t = best_s(parse, line, args.repeats)
            times.append(t)
            base = best_s(old, line, 1) if old is not None and n <= args.baseline_max else None
            base_s = f"{base:11.3f}" if base is not None else f"{'-':>11}"
            speedup = f"{base / t:7.0f}x" if base is not None and t > 0 else f"{'-':>8}"
            print(f"{shape:<14} {n:>10,} {t:9.4f} {base_s} {speedup}")
        ratio = times[-1] / times[0] if times[0] > 0 else float("inf")
        print(f"{'':<14} {'':>10} time(1.6M) / time(100k) = {ratio:.0f} (linear: 16, quadratic: 256)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
