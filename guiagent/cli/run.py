"""`guiagent run`, `replay` and `locate`: the commands that open a model and an env and drive the loop."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from guiagent.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Signals,
    UsageError,
    add_budget_args,
    add_calls_arg,
    add_model_args,
    budget,
    check_checkpoint,
    history_policy,
    open_env,
    open_model,
    out_dir,
    positive_int,
    run_folder,
    space,
)

if TYPE_CHECKING:
    from guiagent.agent.guard import Guard
    from guiagent.envs.base import Env
    from guiagent.model.base import Model


def add_parsers(sub: argparse._SubParsersAction, default_model: str) -> None:
    """Add run, replay and locate to the root parser's subcommands."""
    run = sub.add_parser("run", help="run an instruction on a desktop or phone")
    run.add_argument("instruction")
    run.add_argument("--env", required=True, help="desktop[:MONITOR] | android[:SERIAL]")
    run.add_argument("--model", default=default_model, help=f"model spec (default {default_model})")
    run.add_argument("--max-steps", type=positive_int, default=15)
    add_budget_args(run)
    run.add_argument("--out", help="trajectory directory (default runs/<timestamp>/)")
    run.add_argument("--dry-run", action="store_true", help="decide and record every action, execute none")
    run.add_argument("--history", default="text", help="history policy: text (default) or images:K")
    _add_guard_args(run)
    add_calls_arg(run)
    out = run.add_mutually_exclusive_group()
    out.add_argument("--quiet", action="store_true", help="print only the final line")
    out.add_argument("--json", action="store_true", help="one JSON object per step on stdout")
    add_model_args(run)
    run.set_defaults(handler=cmd_run)

    replay = sub.add_parser("replay", help="re-execute a recorded run's actions, no model")
    replay.add_argument("traj_dir")
    replay.add_argument("--env", required=True)
    replay.add_argument("--out", help="directory of the replayed run's trajectory")
    replay.add_argument("--dry-run", action="store_true", help="decide and record every action, execute none")
    _add_guard_args(replay)
    replay.set_defaults(handler=cmd_replay)

    locate = sub.add_parser("locate", help="print the screen point of an element")
    locate.add_argument("description")
    locate.add_argument("--env", required=True)
    locate.add_argument("--model", default=default_model)
    add_budget_args(locate)
    add_model_args(locate)
    locate.set_defaults(handler=cmd_locate)


def _add_guard_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", help="TOML guard policy file (budgets, denied keys/apps, confirmations)")
    p.add_argument("--yes", action="store_true", help="answer yes to every confirmation (default: ask on a TTY)")


def _guard(args: argparse.Namespace) -> Guard:
    """The guard of --policy/--yes: the built-in deny list always applies, the policy file adds to it."""
    from guiagent.agent.guard import Guard, Policy

    try:
        policy = Policy.load(args.policy) if args.policy else Policy()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Guard(policy, _confirm_callback(args))


@contextlib.contextmanager
def _model_and_env(args: argparse.Namespace) -> Iterator[tuple[Model, Env]]:
    """Open the model and the env, cheapest check first; close both.

    An ``hf:`` model takes minutes to load: its files are checked first (seconds, no network), then the env
    opens (a missing display, adb or phone is reported before the load), then the weights load. Any other
    backend opens at once, so a bad spec or script file is reported before an env starts."""
    if args.model.startswith("hf:"):
        check_checkpoint(args.model)
        env = open_env(args.env)
        try:
            model = open_model(args.model, args)
        except BaseException:
            env.close()
            raise
    else:
        model = open_model(args.model, args)
        try:
            env = open_env(args.env)
        except BaseException:
            model.close()
            raise
    try:
        yield model, env
    finally:
        env.close()
        model.close()


def _confirm_callback(args: argparse.Namespace) -> Callable[[str], bool]:
    from guiagent.agent.guard import deny_all

    if args.yes:
        return lambda question: True
    if not sys.stdin.isatty():
        return deny_all  # non-interactive runs deny

    def ask(question: str) -> bool:
        try:
            return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
        except EOFError:
            return False

    return ask


def cmd_run(args: argparse.Namespace) -> int:
    from guiagent.agent.loop import Agent
    from guiagent.agent.progress import Progress

    pixels = budget(args)
    space(args.env)  # a malformed env spec is reported before anything starts
    guard = _guard(args)
    history_policy(args.history)
    mode = "quiet" if args.quiet else "json" if args.json else "lines"
    out = out_dir(args.out)
    with run_folder(out), _model_and_env(args) as (model, env):
        agent = Agent(
            model, env, budget=pixels, max_steps=args.max_steps, history=args.history, out_dir=out,
            callbacks=[Progress(mode)], guard=guard, dry_run=args.dry_run, calls=args.calls,
            model_spec=args.model, env_spec=args.env,
        )
        with Signals(agent.request_stop):
            result = agent.run(args.instruction)
    if result.status == "interrupted":
        return EXIT_INTERRUPTED
    if result.status == "model_error" and result.steps == 0:
        return EXIT_USAGE  # the model failed its check before step 1 (unreachable server, bad --served-model)
    return 0 if result.success else 1


def cmd_replay(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from guiagent.agent.loop import Agent
    from guiagent.agent.progress import Progress
    from guiagent.agent.trajectory import TrajectoryError, compare_actions, load_trajectory
    from guiagent.model.image import PixelBudget
    from guiagent.model.scripted import ReplayModel

    try:
        recorded = load_trajectory(args.traj_dir)
        model = ReplayModel.from_dir(args.traj_dir)
    except (TrajectoryError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    meta = recorded.meta
    try:
        pixels = PixelBudget(min_pixels=meta.min_pixels, max_pixels=meta.max_pixels)
    except ValidationError as exc:
        raise UsageError(f"{args.traj_dir}: field meta.min_pixels/max_pixels: "
                         f"{exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    guard = _guard(args)  # a shared trajectory is untrusted: the built-in deny list and --policy apply
    out = out_dir(args.out, "replay-")
    with run_folder(out):
        env = open_env(args.env)
        try:
            agent = Agent(
                model, env, budget=pixels,
                max_steps=max(len(recorded.steps), 1), history=meta.history, out_dir=out, callbacks=[Progress()],
                guard=guard, dry_run=args.dry_run, calls=meta.calls, model_spec=f"replay:{args.traj_dir}",
                env_spec=args.env,
            )
            with Signals(agent.request_stop):
                result = agent.run(meta.instruction)
        finally:
            env.close()
    diffs = compare_actions(recorded, result.trajectory)
    for line in diffs:
        print(line)
    print(f"replay: {len(recorded.steps)} recorded step(s), {result.steps} replayed, "
          f"{'identical actions' if not diffs else f'{len(diffs)} difference(s)'}")
    return 0 if not diffs and result.status == recorded.status else 1


def cmd_locate(args: argparse.Namespace) -> int:
    from guiagent.agent.loop import Agent
    from guiagent.model.base import ModelError, ParseError

    with _model_and_env(args) as (model, env):
        try:
            x, y = Agent(model, env, budget=budget(args)).locate(args.description)
        except (ParseError, ModelError) as exc:
            print(f"guiagent locate: {exc}", file=sys.stderr)
            return 1
    print(f"{x} {y}")
    return 0
