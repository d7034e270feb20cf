"""`guiagent view TRAJ_DIR [-o FILE.html] [--open]`: write (and open) a run's HTML report."""

from __future__ import annotations

from guiagent.cli.common import CliParser, UsageError


def main(argv: list[str]) -> int:
    """`guiagent view TRAJ_DIR [-o FILE.html] [--open]`."""
    from guiagent.agent.report import REPORT_FILE, render_report
    from guiagent.agent.trajectory import TrajectoryError

    parser = CliParser(prog="guiagent view", description="Write a self-contained HTML report of a recorded run.")
    parser.add_argument("traj_dir", help="run directory (holds trajectory.json and step_NNN.png)")
    parser.add_argument("-o", "--output", metavar="FILE.html", help=f"where to write it (default TRAJ_DIR/{REPORT_FILE})")
    parser.add_argument("--open", action="store_true", help="open the report in the default browser")
    args = parser.parse_args(argv)
    try:
        out = render_report(args.traj_dir, args.output)
    except TrajectoryError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write the report: {exc}") from None
    print(out)
    if args.open:
        import webbrowser

        webbrowser.open(out.resolve().as_uri())
    return 0
