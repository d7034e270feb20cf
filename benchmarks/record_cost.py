"""What recording one step costs at step 10, 100 and 1,000 of a run: flat (schema 2) vs growing (schema 1).

Drives the real `Recorder` with steps shaped like the loop's (a Frame, a reply with its
tool call, one action, the phases, the prompt's new calls and feedback) and times, per
step, ``add_step`` plus the background write it starts (``check``: the PNG, then one line
appended to steps.jsonl and fsynced). Screenshots are a small fixed image, so the number is
the trajectory's own cost, not PNG encoding (benchmarks/step_overhead.py and
memory_4k.py time that). For comparison, the schema-1 way is timed on the same steps:
the whole trajectory (with the growing task-progress text in every step's user_text)
re-serialised and atomically rewritten after each step, as the recorder did before.

Prints, for each run length N: the median cost of the last 10 steps (the least of --repeats
runs: each step fsyncs, and on a shared disk fsync latency swings by 10x), the bytes on disk,
and the ratios N=1,000 / N=10 (target <= 1.5) and bytes per step (linear: constant).

Usage: python benchmarks/record_cost.py [--lengths 10,100,1000] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from guiagent.agent.trajectory import ActionRecord, Recorder, RunMeta, StepRecord, Trajectory  # noqa: E402
from guiagent.tools.frame import Frame, ScreenSpace  # noqa: E402
from PIL import Image  # noqa: E402

TAIL = 10
RATIO_TARGET = 1.5


def call(i: int) -> str:
    return json.dumps({"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [i % 1000, 300]}})


def make_step(i: int, *, schema1: bool) -> StepRecord:
    frame = Frame(image_width=1920, image_height=1080, screen=ScreenSpace(width=1920, height=1080),
                  model_width=1932, model_height=1092)
    prompt: dict = {"messages": 2, "images": 1, "feedback": []}
    if schema1:  # the whole history, again, in every step
        prompt["user_text"] = "Open the settings\nTask progress (You have done the following operation on the " \
                              "current device): " + "".join(f"Step {j}: {call(j)}; " for j in range(1, i))
    else:
        prompt["new_calls"] = [call(i - 1)] if i > 1 else []
    return StepRecord(
        index=i, started_at=time.time(), ended_at=time.time(), frame=frame, prompt=prompt,
        raw_text=f"I will click the button.\n<tool_call>\n{call(i)}\n</tool_call>",
        actions=[ActionRecord(call=call(i), model_action={"action": "left_click", "coordinate": [i % 1000, 300]},
                              screen_action={"action": "left_click", "coordinate": [i % 1000, 297]},
                              executed=True)],
        durations={"capture": 0.004, "prompt": 0.001, "infer": 0.3, "parse": 0.0002, "execute": 0.003,
                   "settle": 0.1},
    )


def meta() -> RunMeta:
    return RunMeta(instruction="Open the settings", env="desktop", model="scripted", space="computer_use",
                   min_pixels=3136, max_pixels=12845056, max_steps=1_000_000)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.suffix != ".png" and p.name != ".guiagent.lock")


def run_schema2(n: int, base: Path, image: Image.Image) -> tuple[list[float], int]:
    out = base / f"v2-{n}"
    rec = Recorder(out, meta())
    costs = []
    for i in range(1, n + 1):
        step = make_step(i, schema1=False)
        t = time.perf_counter()
        rec.add_step(step, image)
        rec.check()
        costs.append(time.perf_counter() - t)
    rec.finish("success")
    return costs, folder_bytes(out)


def run_schema1(n: int, base: Path, image: Image.Image) -> tuple[list[float], int]:
    """The previous recorder's work per step: the PNG, then the whole trajectory re-serialised and rewritten."""
    out = base / f"v1-{n}"
    out.mkdir(parents=True)
    traj = Trajectory(meta=meta())
    costs = []
    for i in range(1, n + 1):
        step = make_step(i, schema1=True)
        t = time.perf_counter()
        step.screenshot = f"step_{i:03d}.png"
        image.save(out / step.screenshot, format="PNG", compress_level=1)
        traj.steps.append(step)
        text = traj.model_dump_json(indent=1)
        tmp = out / ".trajectory.json.tmp"
        with open(tmp, "wb") as fh:
            fh.write(text.encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out / "trajectory.json")
        costs.append(time.perf_counter() - t)
    return costs, folder_bytes(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lengths", default="10,100,1000", help="run lengths, comma-separated")
    ap.add_argument("--dir", default=None, help="where the runs are written (default: a temp folder)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per length; the least median is kept")
    ap.add_argument("--schema1-max", type=int, default=200,
                    help="longest run timed the schema-1 way (it is quadratic: 1,000 steps take minutes)")
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    image = Image.new("RGB", (64, 48), "#3060a0")
    print(f"record cost per step (median of the last {TAIL} steps), steps.jsonl + trajectory.json bytes")
    print(f"{'steps':>6} | {'schema 2 ms':>11} {'bytes':>10} {'B/step':>7} | {'schema 1 ms':>11} {'bytes':>11}")
    rows = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        base = Path(tmp)
        run_schema2(20, base / "warm-up", image)  # first-use costs (threads, imports, the page cache) out of N=10
        for n in lengths:
            m2, b2 = math.inf, 0
            for r in range(args.repeats):
                c2, b2 = run_schema2(n, base / f"r{r}", image)
                m2 = min(m2, statistics.median(c2[-TAIL:]) * 1000)
            line = f"{n:>6} | {m2:>11.3f} {b2:>10,} {b2 / n:>7,.0f} |"
            m1 = None
            if n <= args.schema1_max:
                c1, b1 = run_schema1(n, base / "r0", image)
                m1 = statistics.median(c1[-TAIL:]) * 1000
                line += f" {m1:>11.3f} {b1:>11,}"
            rows[n] = (m2, b2, m1)
            print(line, flush=True)
    lo, hi = min(lengths), max(lengths)
    ratio = rows[hi][0] / rows[lo][0]
    print(f"ratio schema 2, {hi} steps / {lo} steps: {ratio:.2f}x (target <= {RATIO_TARGET}) "
          f"{'OK' if ratio <= RATIO_TARGET else 'OVER'}")
    print(f"bytes per step, schema 2: {rows[lo][1] / lo:,.0f} at {lo}, {rows[hi][1] / hi:,.0f} at {hi} (linear)")
    timed = [n for n in lengths if rows[n][2] is not None]
    if len(timed) > 1:
        a, b = min(timed), max(timed)
        print(f"ratio schema 1 (the previous recorder), {b} steps / {a} steps: {rows[b][2] / rows[a][2]:.2f}x")


if __name__ == "__main__":
    main()
