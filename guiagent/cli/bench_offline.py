"""`guiagent bench screenspot|screenspot-pro|androidcontrol --data PATH [--images DIR] --model SPEC ...`.

The offline suites: a screenshot, an instruction and a ground truth per sample, no env.
`bench.main` hands these suite names here. `--model oracle` answers from the ground truth.

Exit codes: 0 done with no errors; 1 some samples errored (run again with --resume);
2 bad usage or data; 130 interrupted (continue with --resume).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from guiagent.cli.common import (
    EXIT_INTERRUPTED,
    CliParser,
    Signals,
    UsageError,
    add_budget_args,
    add_model_args,
    budget,
    fresh_dir,
    open_model,
    positive_int,
)

if TYPE_CHECKING:
    from guiagent.harness.offline.suite import OfflineSuite
    from guiagent.model.base import Model

SUITES = ("screenspot", "screenspot-pro", "androidcontrol")


def build_parser() -> argparse.ArgumentParser:
    from guiagent.model.spec import DEFAULT_MODEL

    p = CliParser(prog="guiagent bench", description="Run an offline benchmark (ScreenSpot, ScreenSpot-Pro, "
                                                      "AndroidControl) and report the papers' tables.")
    p.add_argument("suite", choices=SUITES)
    p.add_argument("--data", required=True, help="annotation file or folder (androidcontrol: TFRecord/JSONL file "
                                                 "or folder)")
    p.add_argument("--images", help="screenshots folder (screenspot, screenspot-pro)")
    p.add_argument("--setting", choices=["high", "low", "both"], default="both",
                   help="androidcontrol: high (goal only), low (goal + step instruction) or both (default)")
    p.add_argument("--limit", type=positive_int, help="only the first N samples (a quick check)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"oracle | hf:PATH_OR_ID | openai:BASE_URL | scripted:FILE (default {DEFAULT_MODEL})")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="samples in flight at once (hf: batched together; openai: concurrent requests)")
    p.add_argument("--out", help="results folder (default runs/bench-<suite>-<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (default: the latest one)")
    add_budget_args(p)
    add_model_args(p)
    return p


def _out_dir(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out)
    base, prefix = Path("runs"), f"bench-{args.suite}-"
    if args.resume:
        previous = sorted(p for p in base.glob(prefix + "*") if p.is_dir())
        if not previous:
            raise UsageError(f"--resume: no earlier run in {base}/{prefix}*; pass --out DIR")
        return previous[-1]
    return fresh_dir(base, prefix)


def open_suite(args: argparse.Namespace) -> OfflineSuite:
    """The suite the arguments name (UsageError on data that is not in the published format)."""
    from guiagent.harness.offline.suite import OfflineDataError

    data = Path(args.data)
    try:
        if args.suite in ("screenspot", "screenspot-pro"):
            from guiagent.harness.offline.screenspot import GroundingSuite

            if not args.images:
                raise UsageError(f"{args.suite} needs --images DIR (the folder the annotations' img_filename "
                                 "entries are in)")
            suite: OfflineSuite = GroundingSuite(args.suite, data, Path(args.images))
        else:
            from guiagent.harness.offline.androidcontrol import AndroidControlSuite

            suite = AndroidControlSuite(data, setting=args.setting)
    except OfflineDataError as exc:
        raise UsageError(str(exc)) from None
    if args.limit:
        from guiagent.harness.offline.suite import Limited

        suite = Limited(suite, args.limit)
    return suite


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from guiagent.harness.offline.runner import OfflineOptions, OfflineRunError, OfflineRunner, render_text
    from guiagent.harness.offline.suite import OfflineDataError

    pixels = budget(args)
    suite = open_suite(args)
    out = _out_dir(args)
    if args.model == "oracle":
        from guiagent.harness.offline.oracle import OfflineOracle

        model: Model = OfflineOracle()
    else:
        # one in-process model serves every worker: let it batch their concurrent samples
        model = open_model(args.model, args, **({"max_batch": args.workers} if args.model.startswith("hf:") else {}))
    settings = {"data": str(Path(args.data).resolve()), "images": str(Path(args.images).resolve()) if args.images
                else None, "setting": args.setting if args.suite == "androidcontrol" else None, "limit": args.limit}
    stop = threading.Event()
    options = OfflineOptions(out=out, model_spec=args.model, workers=args.workers, resume=args.resume, budget=pixels,
                             settings=settings)
    try:
        with Signals(lambda reason: stop.set()):
            summary = OfflineRunner(suite, model, options, stop=stop).run()
    except (OfflineRunError, OfflineDataError) as exc:
        raise UsageError(str(exc)) from None
    finally:
        model.close()
    print(render_text(summary))
    print(f"results: {out}/summary.md")
    if summary.get("interrupted"):
        print(f"interrupted; continue with: guiagent bench {args.suite} --data {args.data}"
              f"{f' --images {args.images}' if args.images else ''} --model {args.model} --out {out} --resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return 1 if summary.get("errors") else 0
