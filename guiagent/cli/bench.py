"""`guiagent bench SUITE|PATH --model SPEC [--tasks A,B] [--workers N] [--out DIR] [--resume]`.

SUITE is a built-in suite (miniwob, simphone, desktop), an offline suite
(screenspot, screenspot-pro, androidcontrol: see guiagent/cli/bench_offline.py) or a path: a folder of task
files (native YAML/JSON, OSWorld JSON, AndroidWorld-style .py) or one such file.
`--model oracle` runs the ground-truth model of the built-in suites; any other spec is
a model backend (hf:, openai:, scripted:, replay:).

Exit codes: 0 the run completed with no errors; 1 some tasks errored (infrastructure)
or are invalid; 2 bad usage; 130 interrupted (continue with --resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from guiagent.cli.common import (
    EXIT_INTERRUPTED,
    CliParser,
    UsageError,
    add_budget_args,
    add_calls_arg,
    add_model_args,
    budget,
    fresh_dir,
    history_policy,
    open_model,
    positive_int,
    positive_seconds,
    run_folder,
)


def build_parser() -> argparse.ArgumentParser:
    from guiagent.model.spec import DEFAULT_MODEL

    p = CliParser(prog="guiagent bench", description="Run a task suite and report success rates.")
    p.add_argument("suite", help="miniwob | simphone | desktop | PATH (folder or task file); offline: "
                                 "screenspot | screenspot-pro | androidcontrol (see `guiagent bench screenspot --help`)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"oracle | hf:PATH_OR_ID | openai:BASE_URL | scripted:FILE (default {DEFAULT_MODEL})")
    p.add_argument("--tasks", help="comma-separated task names or instance ids (default: all)")
    p.add_argument("--workers", type=positive_int, default=1, help="parallel episodes, each with its own env")
    p.add_argument("--out", help="results folder (default runs/bench-<suite>-<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (default: the latest one)")
    p.add_argument("--timeout", type=positive_seconds, default=900.0, help="seconds per task (default 900)")
    p.add_argument("--max-steps", type=positive_int, help="override every task's step budget")
    p.add_argument("--instances", type=positive_int, help="seeded instances per templated task (default: the suite's)")
    p.add_argument("--device", help="android tasks: run on this adb serial instead of simulated phones (1 worker)")
    p.add_argument("--history", default="text", help="history policy: text (default) or images:K")
    p.add_argument("--unsafe-host", action="store_true",
                   help="where bubblewrap is missing, run task files' commands on this host as you (default: skip "
                        "those tasks)")
    p.add_argument("--infeasible-mapping", choices=("guiagent", "osworld"), default="guiagent",
                   help="OSWorld tasks: how the agent's terminate maps to OSWorld's last action. guiagent (default): "
                        "terminate(failure) -> FAIL; osworld: every terminate -> DONE, as OSWorld's own Qwen2.5-VL "
                        "agent does (it then scores 0 on every infeasible task)")
    add_calls_arg(p)
    add_budget_args(p)
    add_model_args(p)
    p.add_argument("--list", action="store_true", help="list the tasks and exit")
    return p


def load_bench_model(spec: str, args: argparse.Namespace):
    """`oracle` is ours; every other spec goes through model.spec.load_model."""
    if spec == "oracle":
        from guiagent.harness.oracle import OracleModel

        return OracleModel()
    # one in-process model serves every worker: let it batch their concurrent steps
    extra = {"max_batch": args.workers} if spec.startswith("hf:") else {}
    return open_model(spec, args, **extra)


def _out_dir(args: argparse.Namespace, suite_name: str) -> Path:
    if args.out:
        return Path(args.out)
    base = Path("runs")
    prefix = f"bench-{_slug(suite_name)}-"
    if args.resume:
        previous = sorted(p for p in base.glob(prefix + "*") if p.is_dir())
        if not previous:
            raise UsageError(f"--resume: no earlier run in {base}/{prefix}*; pass --out DIR")
        return previous[-1]
    return fresh_dir(base, prefix)


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "suite"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from guiagent.cli.bench_offline import SUITES

    if argv and argv[0] in SUITES:  # the offline suites (ScreenSpot, ScreenSpot-Pro, AndroidControl)
        from guiagent.cli.bench_offline import main as offline_main

        return offline_main(argv)
    args = build_parser().parse_args(argv)
    from guiagent.harness.base import InvalidTask, TaskFileError
    from guiagent.harness.loader import load_suite
    from guiagent.harness.results import render_text
    from guiagent.harness.runner import RunError, Runner, RunOptions
    from guiagent.model.redact import redact

    pixels = budget(args)
    history_policy(args.history)
    try:
        suite = load_suite(args.suite, instances=args.instances, max_steps=args.max_steps)
        tasks = suite.select([t.strip() for t in args.tasks.split(",") if t.strip()]) if args.tasks else suite.tasks
    except TaskFileError as exc:
        raise UsageError(str(exc)) from None
    if not tasks:
        raise UsageError(f"suite {suite.name} has no tasks")
    if args.list:
        for t in tasks:
            note = f"  [invalid: {t.message}]" if isinstance(t, InvalidTask) else (
                f"  [skipped: {t.skip_reason}]" if t.skip_reason else "")
            print(f"{t.id}\t{t.domain}\t{t.env_kind}\tmax_steps={t.max_steps}{note}")
        return 0
    for t in tasks:
        if isinstance(t, InvalidTask):
            print(f"guiagent bench: warning: {t.message}", file=sys.stderr)
    workers = args.workers
    if args.device and workers > 1 and any(t.env_kind == "android" for t in tasks):
        print("guiagent bench: warning: one device serves one episode at a time; using 1 worker", file=sys.stderr)
        workers = 1
    out = _out_dir(args, suite.name)
    with run_folder(out):  # a folder another bench holds is refused before the model loads
        model = load_bench_model(args.model, args)
        options = RunOptions(out=out, model_spec=redact(args.model), suite=suite.name, workers=workers,
                             timeout=args.timeout, resume=args.resume, history=args.history, calls=args.calls,
                             budget=pixels, serial=args.device, unsafe_host=args.unsafe_host,
                             infeasible_mapping=args.infeasible_mapping)
        try:
            runner = Runner(tasks, model, options)
            summary = runner.run()
        except RunError as exc:
            raise UsageError(str(exc)) from None
        finally:
            model.close()
    print(render_text(summary))
    print(f"results: {out}/summary.md")
    if summary.get("interrupted"):
        print(f"interrupted; continue with: guiagent bench {args.suite} --model {redact(args.model)} --out {out} --resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    o = summary["overall"]
    return 1 if o["errors"] or o["invalid"] else 0
