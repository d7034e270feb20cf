"""`guiagent demo [--out DIR] [--open]`: guiagent working end to end with no weights, no phone and no display.

Two short real episodes through the same loop, parser, Frame, guard, envs and evaluators as any run: one on the
simulated phone (started here, reached through the real adb server), one on a Tk app on an Xvfb display of its
own (started here, so the user's desktop is never touched). The model is the harness's oracle: it reads the
task's ground truth (the phone's widget tree, the app's published widget rectangles) and answers in the
model's tool-call format. Each episode prints its per-step lines, is recorded as a trajectory and gets an HTML
report; the last lines say where they are.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from guiagent.cli.common import CliParser, UsageError, fresh_dir, run_folder

if TYPE_CHECKING:
    from guiagent.agent.callbacks import Callback

# (label, suite, task): short tasks whose oracle plans show clicks and typing; both end scored.
EPISODES = (("phone", "simphone", "SystemWifiToggle_0"), ("desktop", "desktop", "editor-write-greeting"))
# What those episodes need on this machine (names in guiagent.tools.sysdeps.PARTS).
NEEDS = ("Xvfb", "xdotool", "adb", "bwrap", "tkinter")


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="guiagent demo", description="Two short real episodes with the oracle model: the simulated "
                  "phone and an app on a headless desktop. No weights, phone or display needed.")
    p.add_argument("--out", help="where the runs go (default runs/demo-<timestamp>)")
    p.add_argument("--open", action="store_true", help="open the HTML report in the default browser")
    p.add_argument("--unsafe-host", action="store_true",
                   help="where bubblewrap cannot create namespaces, run the desktop task's commands on this host")
    return p


def check_system(unsafe_host: bool) -> None:
    """One line naming the missing system packages (UsageError), before anything starts."""
    from guiagent.tools.sysdeps import install_hint, missing

    absent = missing([n for n in NEEDS if not (unsafe_host and n == "bwrap")])
    if absent:
        names = ", ".join(p.name for p in absent)
        raise UsageError(f"the demo needs {names}, which {'is' if len(absent) == 1 else 'are'} not installed: "
                         f"{install_hint(absent)}")
    if not unsafe_host:
        from guiagent.harness.isolation import bwrap_path

        if bwrap_path() is None:
            raise UsageError("bubblewrap cannot create namespaces here (the desktop task's commands run in it); "
                             "allow unprivileged user namespaces, or pass --unsafe-host")


def main(argv: list[str]) -> int:
    """`guiagent demo`; 0 when both episodes succeed."""
    args = build_parser().parse_args(argv)
    check_system(args.unsafe_host)
    from guiagent.agent.progress import Progress
    from guiagent.harness.base import TaskFileError
    from guiagent.harness.loader import load_suite
    from guiagent.harness.oracle import OracleModel
    from guiagent.harness.progress import BenchProgress
    from guiagent.harness.results import read_record, task_dir
    from guiagent.harness.runner import RunError, Runner, RunOptions

    try:
        tasks = [load_suite(suite).select([task_id])[0] for _, suite, task_id in EPISODES]
    except (TaskFileError, IndexError) as exc:  # a broken install: the suites ship inside the package
        raise UsageError(f"the demo's tasks are missing from this install: {exc}") from None
    out = Path(args.out) if args.out else fresh_dir(Path("runs"), "demo-")
    print("guiagent demo: the oracle model (ground truth, no weights) drives the simulated phone through adb, "
          "then a text editor on a headless Xvfb desktop", flush=True)
    with run_folder(out):
        options = RunOptions(out=out, model_spec="oracle", suite="demo", timeout=120.0, unsafe_host=args.unsafe_host,
                             callbacks=[_header(), Progress("lines")])
        # plain lines, never a redrawn bar: the per-step lines go to the same terminal
        runner = Runner(tasks, OracleModel(), options, progress=BenchProgress(len(tasks), stream=sys.stdout,
                                                                                tty=False))
        try:
            runner.run()
        except RunError as exc:
            raise UsageError(str(exc)) from None
    ok = True
    for (label, _, _), task in zip(EPISODES, tasks, strict=True):
        folder = task_dir(out, task.domain, task.id)
        rec = read_record(folder)
        ok = ok and rec is not None and bool(rec.success)
        report = folder / "report.html"
        print(f"{label}: {_verdict(rec) if rec else 'not run'}")
        print(f"  trajectory: {folder}/trajectory.json")
        print(f"  report:     {report if report.is_file() else '(not written)'}")
    index = out / "index.html"
    print(f"both reports: {index}")
    if args.open:
        import webbrowser

        webbrowser.open(index.resolve().as_uri())
    if not ok:
        print("guiagent demo: an episode did not succeed (see above); `guiagent doctor` checks this machine",
              file=sys.stderr)
    return 0 if ok else 1


def _header() -> Callback:
    """A callback naming each episode's env and instruction before its step lines."""
    from guiagent.agent.callbacks import Callback
    from guiagent.agent.trajectory import RunMeta

    class Header(Callback):
        def on_run_start(self, meta: RunMeta) -> None:
            print(f"== {meta.env}: {meta.instruction}", flush=True)

    return Header()


def _verdict(rec: object) -> str:
    from guiagent.harness.results import TaskRecord

    assert isinstance(rec, TaskRecord)
    if rec.status == "scored":
        head = f"{rec.id}: {'success' if rec.success else 'failure'} (score {rec.score:g}, {rec.steps} steps)"
    else:
        head = f"{rec.id}: {rec.status}"
    return head + (f": {rec.reason}" if rec.reason else "")
