"""Offline-benchmark throughput: ScreenSpot samples per second with 1 vs 8 workers, same model, same run.

The data is ScreenSpot's published format built from the simulated phone's real screens
(tests/fixtures/offline.py: a 1080x2400 phone, a 1366x768 and a 3840x2160 display), repeated
to `--samples`. Every run goes through the real offline runner (`harness.offline.runner`):
screenshot decode, Frame, the dialect's prompt, the `hf:` backend (which merges concurrent
requests of the workers into one batched generate), parser, scoring and the results file.
The first worker count is the baseline; the ratio is samples/s over the baseline's, measured
in the same invocation on the same samples after one warm-up run.

    python benchmarks/offline_throughput.py                 # tiny checkpoint on the CPU, 1 vs 8 workers
    python benchmarks/offline_throughput.py --tiny          # smoke test (seconds; CI)
    python benchmarks/offline_throughput.py --gpu 7b        # CUDA: random-weight 3B/7B architectures

"load" is the 1-minute load average after each run: other work on the machine takes cores
from the workers, so compare ratios measured at a similar load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class _Quiet:
    """A progress sink: the benchmark prints its own table."""

    def started(self, task_id: str) -> None: ...

    def finished(self, record: Any) -> None: ...

    def log(self, message: str) -> None: ...

    def close(self) -> None: ...


def make_data(root: Path, samples: int) -> tuple[Path, Path]:
    """ScreenSpot files with `samples` entries (the fixture's 12, repeated), and the images folder."""
    from tests.fixtures.offline import write_screenspot

    ann, img, _ = write_screenspot(root)
    for f in sorted(ann.glob("*.json")):
        items = json.loads(f.read_text())
        per_file = max(1, samples // 3)
        f.write_text(json.dumps([items[i % len(items)] for i in range(per_file)]))
    return ann, img


def open_model(args: argparse.Namespace, folder: Path, max_batch: int) -> Any:
    from guiagent.model.hf import HFModel

    if args.gpu:
        import importlib.util

        spec = importlib.util.spec_from_file_location("gpu_step", ROOT / "benchmarks" / "gpu_step.py")
        assert spec and spec.loader
        gpu_step = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(gpu_step)
        attn = "flash_attention_2" if gpu_step._has_flash() else "sdpa"
        model, processor = gpu_step.build_random(args.gpu, folder, "cuda", attn)
        return HFModel.from_loaded(model, processor, name=f"qwen2.5-vl-{args.gpu}-random",
                                   max_new_tokens=args.new_tokens, max_batch=max_batch)
    from guiagent.model.tiny import build

    return HFModel(str(build(folder)), max_new_tokens=args.new_tokens, max_batch=max_batch, device="cpu")


def run_once(model: Any, ann: Path, img: Path, workers: int, out: Path, budget: Any) -> dict[str, Any]:
    from guiagent.harness.offline.runner import OfflineOptions, OfflineRunner
    from guiagent.harness.offline.screenspot import GroundingSuite

    suite = GroundingSuite("screenspot", ann, img)
    t0 = time.perf_counter()
    s = OfflineRunner(suite, model, OfflineOptions(out=out, model_spec="bench", workers=workers, budget=budget),
                      progress=_Quiet()).run()
    wall = time.perf_counter() - t0
    return {"workers": workers, "samples": s["done"], "errors": s["errors"], "wall": wall,
            "per_s": s["done"] / wall, "infer": s["mean_infer_s"] or 0.0, "load": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tiny", action="store_true", help="smoke test: 3 samples, 1 vs 2 workers, no warm-up")
    p.add_argument("--samples", type=int, default=48, help="samples per run (default 48)")
    p.add_argument("--workers", default="1,8", help="worker counts to compare; the first is the baseline")
    p.add_argument("--max-pixels", type=int, default=200704, help="pixel budget (default 200704 = 256 x 28 x 28)")
    p.add_argument("--new-tokens", type=int, default=24, help="max new tokens per reply (default 24)")
    p.add_argument("--gpu", choices=["3b", "7b"], help="random-weight full-size architecture on CUDA")
    args = p.parse_args(argv)
    if args.tiny:
        args.samples, args.workers, args.new_tokens, args.max_pixels = 3, "1,2", 8, 50176
    counts = [int(x) for x in args.workers.split(",")]
    if args.gpu:
        import torch

        if not torch.cuda.is_available():
            print("offline_throughput: --gpu needs a CUDA GPU; none here (run without --gpu for the CPU numbers)",
                  file=sys.stderr)
            return 2
    from guiagent.model.image import PixelBudget

    budget = PixelBudget(max_pixels=args.max_pixels)
    with tempfile.TemporaryDirectory(prefix="offline-bench-") as tmp:
        root = Path(tmp)
        ann, img = make_data(root / "data", args.samples)
        model = open_model(args, root / "model", max_batch=max(counts))
        what = f"random {args.gpu} on CUDA" if args.gpu else "tiny checkpoint on the CPU"
        print(f"offline throughput: ScreenSpot, {what}, {os.cpu_count()} CPUs, max_pixels {args.max_pixels}, "
              f"{args.new_tokens} new tokens; the same samples with {' and '.join(map(str, counts))} worker(s)")
        if not args.tiny:  # warm-up: first-call costs are not throughput
            run_once(model, ann, img, counts[-1], root / "warm", budget)
        rows = [run_once(model, ann, img, n, root / f"w{n}", budget) for n in counts]
        model.close()
    base = rows[0]
    print(f"{'workers':>7} {'samples':>7} {'errors':>6} {'wall s':>7} {'samples/s':>9} {'infer s':>8} "
          f"{'ratio':>6} {'load':>5}")
    for r in rows:
        print(f"{r['workers']:>7} {r['samples']:>7} {r['errors']:>6} {r['wall']:>7.2f} {r['per_s']:>9.2f} "
              f"{r['infer']:>8.3f} {r['per_s'] / base['per_s']:>6.2f} {r['load']:>5.2f}")
        if r["errors"]:
            print(f"warning: {r['errors']} errors with {r['workers']} worker(s); not comparable")
    print(f"ratio {counts[-1]} workers / {counts[0]}: {rows[-1]['per_s'] / base['per_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
