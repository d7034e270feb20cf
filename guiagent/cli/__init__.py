"""The `guiagent` command line (the contract in DESIGN.md; scripts depend on it).

A leaf above every package: nothing in `guiagent.agent`, `.envs`, `.model`, `.tools` or `.harness`
imports it. Exit codes: 0 success; 1 the run ended any other way (or a reply could not be parsed);
2 bad usage or configuration, always with a one-line message; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable

from guiagent.cli import bench, demo, doctor, models, prompt, run, simphone, view
from guiagent.cli.common import EXIT_USAGE, CliParser, UsageError

# Subcommands with parsers of their own; they get the rest of argv.
DELEGATED: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "demo": (demo.main, "see guiagent work: two short episodes with the oracle model, no weights/phone/display"),
    "view": (view.main, "render or open a self-contained HTML report of a run"),
    "bench": (bench.main, "run a task suite (miniwob, simphone, desktop, or a folder of task files)"),
    "simphone": (simphone.main, "start the simulated Android phone for `adb connect`"),
    "models": (models.main, "list the Qwen2.5-VL checkpoints guiagent knows and which are downloaded"),
    "doctor": (doctor.main, "check display, adb, GPU, model files and server limits"),
}


def build_parser() -> argparse.ArgumentParser:
    """The root parser: run, prompt, parse, replay and locate, and the delegated subcommands' names."""
    from guiagent.model.spec import DEFAULT_MODEL

    parser = CliParser(prog="guiagent", description="A vision-language model operating desktops and Android phones.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CliParser)
    run.add_parsers(sub, DEFAULT_MODEL)
    prompt.add_parsers(sub)
    for name, (_, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one `guiagent` command; returns its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    name = argv[0] if argv and argv[0] in DELEGATED else ""
    if hasattr(signal, "SIGPIPE") and threading.current_thread() is threading.main_thread() and name != "simphone":
        # `guiagent ... | head` ends quietly, like other tools; the phone server must outlive a client that
        # hangs up mid-answer, so it keeps Python's EPIPE errors instead.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        if name:
            return int(DELEGATED[name][0](argv[1:]) or 0)
        args = build_parser().parse_args(argv)
        if not args.command:
            build_parser().print_help()
            return EXIT_USAGE
        return int(args.handler(args))
    except UsageError as exc:
        from guiagent.model.redact import redact

        print(f"guiagent{' ' + name if name else ''}: error: {redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help; any other exit keeps its message
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        raise
