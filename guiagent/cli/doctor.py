"""`guiagent doctor [--env ENV] [--model SPEC] [--json]`: the machine checks of `guiagent.agent.doctor`."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict

from guiagent.agent.doctor import Target, exit_code, format_table, run_checks
from guiagent.cli.common import CliParser, UsageError


def target_of(env: str | None, model: str | None) -> Target:
    serial = monitor = None
    if env:
        from guiagent.envs import space_of

        kind, _, arg = env.partition(":")
        if kind not in ("desktop", "android"):
            raise UsageError(f"unknown env {env!r}; doctor checks desktop[:MONITOR] or android[:SERIAL]")
        try:
            space_of(env)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if kind == "desktop" and arg:
            if not arg.isdigit():
                raise UsageError(f"bad env {env!r}: the monitor in desktop:N must be a number (1 = primary)")
            monitor = int(arg)
        serial = (arg or None) if kind == "android" else None
        env = kind
    if model is not None:
        scheme, _, rest = model.partition(":")
        if scheme not in ("hf", "openai", "scripted", "replay") or not rest:
            raise UsageError(f"unknown model spec {model!r}; use hf:PATH_OR_ID, openai:BASE_URL, scripted:FILE or "
                             "replay:TRAJ_DIR")
    return Target(env=env, serial=serial, monitor=monitor, model=model)


def main(argv: list[str]) -> int:
    """`guiagent doctor [--env ENV] [--model SPEC] [--json]`; exit 0 when nothing FAILs, else 1."""
    parser = CliParser(prog="guiagent doctor", description="Check display, adb, GPU, model files and server limits. "
                     "Exit 0 when nothing FAILs, 1 otherwise.")
    parser.add_argument("--env", help="make this env's checks required: desktop[:MONITOR] | android[:SERIAL]")
    parser.add_argument("--model", help="check this model: hf:PATH_OR_ID (files, config) or openai:URL (endpoint)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    target = target_of(args.env, args.model)
    results = run_checks(target)
    code = exit_code(results)
    if args.json:
        print(json.dumps({"exit_code": code, "target": asdict(target), "checks": [c.model_dump() for c in results]},
                         ensure_ascii=False))
    else:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        print(format_table(results, color=color))
    return code
