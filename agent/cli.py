"""The `guiagent` command line (the contract in DESIGN.md; scripts depend on it).

Exit codes: 0 success; 1 the run ended any other way (or a reply could not be
parsed); 2 bad usage or configuration, always with a one-line message; 130 when
interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

# Subcommands implemented next to what they serve; they get the rest of argv.
DELEGATED = {
    "view": ("agent.report", "render or open a self-contained HTML report of a run"),
    "bench": ("harness.cli", "run a task suite (miniwob, simphone, desktop, or a folder of task files)"),
    "simphone": ("envs.simphone.cli", "start the simulated Android phone for `adb connect`"),
    "doctor": ("agent.doctor", "check display, adb, GPU, model files and server limits"),
}
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad usage or configuration: printed as one line, exit code 2."""


class CliParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2 via UsageError) for every guiagent subcommand."""

    def error(self, message: str) -> None:  # one line, not argparse's usage dump
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _screen(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise argparse.ArgumentTypeError(f"--screen must look like 1920x1080, got {value!r}")
    return int(m.group(1)), int(m.group(2))


def positive_int(value: str) -> int:
    """argparse type: a positive integer."""
    if not value.isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def add_budget_args(p: argparse.ArgumentParser) -> None:
    """--min-pixels / --max-pixels, the agent's pixel budget."""
    from model.image import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS

    p.add_argument("--min-pixels", type=positive_int, default=DEFAULT_MIN_PIXELS, help="smallest model image area")
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, help="largest model image area")


def build_parser() -> argparse.ArgumentParser:
    from model.spec import DEFAULT_MODEL

    parser = CliParser(prog="guiagent", description="A vision-language model operating desktops and Android phones.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CliParser)

    run = sub.add_parser("run", help="run an instruction on a desktop or phone")
    run.add_argument("instruction")
    run.add_argument("--env", required=True, help="desktop[:MONITOR] | android[:SERIAL]")
    run.add_argument("--model", default=DEFAULT_MODEL, help=f"model spec (default {DEFAULT_MODEL})")
    run.add_argument("--max-steps", type=positive_int, default=15)
    add_budget_args(run)
    run.add_argument("--out", help="trajectory directory (default runs/<timestamp>/)")
    run.add_argument("--dry-run", action="store_true", help="decide and record every action, execute none")
    run.add_argument("--history", default="text", help="history policy: text (default) or images:K")
    run.add_argument("--policy", help="TOML guard policy file (budgets, denied keys/apps, confirmations)")
    run.add_argument("--yes", action="store_true", help="answer yes to every confirmation (default: ask on a TTY)")
    out = run.add_mutually_exclusive_group()
    out.add_argument("--quiet", action="store_true", help="print only the final line")
    out.add_argument("--json", action="store_true", help="one JSON object per step on stdout")
    add_model_args(run)

    prompt = sub.add_parser("prompt", help="print the exact text the model receives at step 1")
    prompt.add_argument("instruction")
    prompt.add_argument("--env", required=True, help="desktop | android")
    prompt.add_argument("--screen", required=True, type=_screen, help="WxH of the screen")
    add_budget_args(prompt)

    parse = sub.add_parser("parse", help="parse a model reply (stdin) into actions in screen coordinates")
    parse.add_argument("--env", required=True, help="desktop | android")
    parse.add_argument("--screen", required=True, type=_screen, help="WxH of the screen")
    add_budget_args(parse)

    replay = sub.add_parser("replay", help="re-execute a recorded run's actions, no model")
    replay.add_argument("traj_dir")
    replay.add_argument("--env", required=True)
    replay.add_argument("--out", help="directory of the replayed run's trajectory")

    locate = sub.add_parser("locate", help="print the screen point of an element")
    locate.add_argument("description")
    locate.add_argument("--env", required=True)
    locate.add_argument("--model", default=DEFAULT_MODEL)
    add_budget_args(locate)
    add_model_args(locate)

    for name, (_, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Backend options shared by run, locate and bench."""
    p.add_argument("--temperature", type=float, help="sampling temperature (default greedy)")
    p.add_argument("--served-model", help="model name on an openai: server (default: what /v1/models lists)")
    p.add_argument("--max-new-tokens", type=positive_int, help="bound on generated tokens per step")
    p.add_argument("--dtype", choices=["bfloat16", "float16", "float32"], help="hf: weights dtype (default bf16 on CUDA)")
    p.add_argument("--hf-device", help="hf: torch device, e.g. cuda:0 or cpu (default: CUDA when present)")
    p.add_argument("--no-static-cache", dest="static_cache", action="store_false", default=None,
                   help="hf: use the dynamic KV cache (no compiled decode)")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if hasattr(signal, "SIGPIPE") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `guiagent ... | head` ends quietly, like other tools
    if argv and argv[0] in DELEGATED:
        return _delegate(argv[0], argv[1:])
    try:
        args = build_parser().parse_args(argv)
        if not args.command:
            build_parser().print_help()
            return 2
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"guiagent: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)


def _delegate(name: str, rest: list[str]) -> int:
    module = importlib.import_module(DELEGATED[name][0])
    try:
        return int(module.main(rest) or 0)
    except UsageError as exc:
        print(f"guiagent {name}: error: {exc}", file=sys.stderr)
        return 2


# ---------------------------------------------------------------------- commands


def _budget(args):
    from pydantic import ValidationError

    from model.image import PixelBudget

    try:
        return PixelBudget(min_pixels=args.min_pixels, max_pixels=args.max_pixels)
    except ValidationError as exc:
        raise UsageError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None


def _space(env: str) -> str:
    from envs import EnvError, space_of

    try:
        return space_of(env)
    except (ValueError, EnvError) as exc:
        raise UsageError(str(exc)) from None


def _static_frame(args):
    """A Frame for a screen of --screen size (scale 1, origin 0) seen at the budget's model size."""
    from tools.frame import Frame, ScreenSpace

    w, h = args.screen
    mw, mh = _budget(args).model_size(w, h)
    return Frame(image_width=w, image_height=h, screen=ScreenSpace(width=w, height=h), model_width=mw, model_height=mh)


def cmd_prompt(args) -> int:
    from PIL import Image

    from model.base import ImagePart
    from model.qwen25vl import Qwen25VL

    space = _space(args.env)
    frame = _static_frame(args)
    dialect = Qwen25VL()
    # the image is a placeholder in the rendered text; a 1x1 stand-in avoids allocating a screen
    part = ImagePart(image=Image.new("RGB", (1, 1)), size=frame.model_size)
    sys.stdout.write(dialect.render(dialect.messages(args.instruction, space, part, [])))
    return 0


def cmd_parse(args) -> int:
    from model.base import ParseError
    from model.qwen25vl import Qwen25VL
    from tools.actions import action_to_dict
    from tools.frame import OutOfFrame

    space = _space(args.env)
    frame = _static_frame(args)
    try:
        text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
        calls = Qwen25VL().parse(text, space)
        actions = [action_to_dict(frame.action_to_screen(c.action)) for c in calls]
    except (ParseError, OutOfFrame) as exc:
        print(f"guiagent parse: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(actions, ensure_ascii=False))
    return 0


def _out_dir(args, prefix: str = "") -> Path:
    """--out, or runs/<prefix><timestamp>/, created now so an unusable path is a usage error."""
    out = Path(args.out) if args.out else _default_out(prefix)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the run directory ({exc.strerror or exc})") from None
    return out


def _default_out(prefix: str = "") -> Path:
    base = Path("runs") / (prefix + time.strftime("%Y%m%d-%H%M%S"))
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def open_model(spec: str, args, **extra):
    """The backend `spec` names, with the model options of `add_model_args` (UsageError on bad specs)."""
    from model.base import ModelError
    from model.spec import load_model

    options = {k: v for k in ("temperature", "served_model", "max_new_tokens", "dtype", "static_cache")
               if (v := getattr(args, k, None)) is not None}
    if getattr(args, "hf_device", None):
        options["device"] = args.hf_device
    options.update(extra)
    try:
        return load_model(spec, **options)
    except (ValueError, ModelError) as exc:
        raise UsageError(str(exc)) from None


def _open_env(spec: str):
    from envs import EnvError, make_env

    try:
        return make_env(spec)
    except (ValueError, EnvError) as exc:
        raise UsageError(str(exc)) from None


@contextlib.contextmanager
def _model_and_env(args):
    """Open the model, then the env (so a bad spec or script file is reported before an env starts); close both."""
    model = open_model(args.model, args)
    try:
        env = _open_env(args.env)
    except BaseException:
        model.close()
        raise
    try:
        yield model, env
    finally:
        env.close()
        model.close()


def _confirm_callback(args):
    from agent.guard import deny_all

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


class _Signals:
    """First Ctrl+C / SIGTERM: stop after the current action. Second: exit at once."""

    def __init__(self, agent) -> None:
        self.agent = agent
        self.count = 0

    def __enter__(self):
        self.saved = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame) -> None:
        self.count += 1
        if self.count == 1:
            print("\nstopping after the current action (Ctrl+C again to quit now)", file=sys.stderr, flush=True)
            self.agent.request_stop("interrupted by the user" if signum == signal.SIGINT else "terminated")
        else:
            # Files already written are complete: every write is a rename of a finished temp file.
            os._exit(EXIT_INTERRUPTED)

    def __exit__(self, *exc) -> None:
        for s, h in self.saved.items():
            signal.signal(s, h)


def cmd_run(args) -> int:
    from agent.guard import Guard, Policy
    from agent.loop import Agent
    from agent.progress import Progress
    from model.base import parse_policy

    budget = _budget(args)
    _space(args.env)  # a malformed env spec is reported before anything starts
    try:
        policy = Policy.load(args.policy) if args.policy else Policy()
        parse_policy(args.history)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    mode = "quiet" if args.quiet else "json" if args.json else "lines"
    out = _out_dir(args)
    with _model_and_env(args) as (model, env):
        agent = Agent(
            model, env, budget=budget, max_steps=args.max_steps, history=args.history, out_dir=out,
            callbacks=[Progress(mode)], guard=Guard(policy, _confirm_callback(args)), dry_run=args.dry_run,
            model_spec=args.model, env_spec=args.env,
        )
        with _Signals(agent):
            result = agent.run(args.instruction)
    if result.status == "interrupted":
        return EXIT_INTERRUPTED
    return 0 if result.success else 1


def cmd_replay(args) -> int:
    from agent.loop import Agent
    from agent.progress import Progress
    from agent.trajectory import TrajectoryError, load_trajectory
    from model.image import PixelBudget
    from model.scripted import ReplayModel

    try:
        recorded = load_trajectory(args.traj_dir)
        model = ReplayModel.from_dir(args.traj_dir)
    except (TrajectoryError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    meta = recorded.meta
    env = _open_env(args.env)
    out = _out_dir(args, "replay-")
    try:
        agent = Agent(
            model, env, budget=PixelBudget(min_pixels=meta.min_pixels, max_pixels=meta.max_pixels),
            max_steps=max(len(recorded.steps), 1), history=meta.history, out_dir=out, callbacks=[Progress()],
            model_spec=f"replay:{args.traj_dir}", env_spec=args.env,
        )
        with _Signals(agent):
            result = agent.run(meta.instruction)
    finally:
        env.close()
    diffs = compare_actions(recorded, result.trajectory)
    for line in diffs:
        print(line)
    print(f"replay: {len(recorded.steps)} recorded step(s), {result.steps} replayed, "
          f"{'identical actions' if not diffs else f'{len(diffs)} difference(s)'}")
    return 0 if not diffs and result.status == recorded.status else 1


def compare_actions(a, b) -> list[str]:
    """Differences between the executed screen actions of two trajectories, one line each."""
    out = []
    for i in range(max(len(a.steps), len(b.steps))):
        x = [r.screen_action for r in a.steps[i].actions] if i < len(a.steps) else None
        y = [r.screen_action for r in b.steps[i].actions] if i < len(b.steps) else None
        if x != y:
            out.append(f"step {i + 1}: recorded {json.dumps(x)} replayed {json.dumps(y)}")
    return out


def cmd_locate(args) -> int:
    from agent.loop import Agent
    from model.base import ModelError, ParseError

    with _model_and_env(args) as (model, env):
        try:
            x, y = Agent(model, env, budget=_budget(args)).locate(args.description)
        except (ParseError, ModelError) as exc:
            print(f"guiagent locate: {exc}", file=sys.stderr)
            return 1
    print(f"{x} {y}")
    return 0


COMMANDS = {"run": cmd_run, "prompt": cmd_prompt, "parse": cmd_parse, "replay": cmd_replay, "locate": cmd_locate}


if __name__ == "__main__":
    sys.exit(main())
