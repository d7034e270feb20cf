"""`guiagent prompt` and `guiagent parse`: the model's step-1 input and a reply's actions, with no model,
display or device."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from guiagent.cli.common import add_budget_args, add_dialect_arg, budget, dialect, screen_size, space

if TYPE_CHECKING:
    from guiagent.model.base import Dialect
    from guiagent.tools.frame import Frame


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add prompt and parse to the root parser's subcommands."""
    prompt = sub.add_parser("prompt", help="print the exact text the model receives at step 1")
    prompt.add_argument("instruction")
    prompt.add_argument("--env", required=True, help="desktop | android")
    prompt.add_argument("--screen", required=True, type=screen_size, help="WxH of the screen")
    add_budget_args(prompt)
    add_dialect_arg(prompt)
    prompt.set_defaults(handler=cmd_prompt)

    parse = sub.add_parser("parse", help="parse a model reply (stdin) into actions in screen coordinates")
    parse.add_argument("--env", required=True, help="desktop | android")
    parse.add_argument("--screen", required=True, type=screen_size, help="WxH of the screen")
    add_budget_args(parse)
    add_dialect_arg(parse)
    parse.set_defaults(handler=cmd_parse)


def _static_frame(args: argparse.Namespace, dialect: Dialect) -> Frame:
    """A Frame for a screen of --screen size (scale 1, origin 0) seen as `dialect` sees it with the budget."""
    from guiagent.tools.frame import Frame

    w, h = args.screen
    return Frame.for_screen(w, h, dialect.image_size(w, h, budget(args)))


def cmd_prompt(args: argparse.Namespace) -> int:
    from PIL import Image

    from guiagent.model.base import ImagePart

    action_space = space(args.env)
    chosen = dialect(args)
    frame = _static_frame(args, chosen)
    # the image is a placeholder in the rendered text; a 1x1 stand-in avoids allocating a screen
    part = ImagePart(image=Image.new("RGB", (1, 1)), size=frame.model_size)
    sys.stdout.write(chosen.render(chosen.messages(args.instruction, action_space, part, [])))
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from guiagent.model.base import ParseError
    from guiagent.tools.actions import action_to_dict
    from guiagent.tools.frame import OutOfFrame

    action_space = space(args.env)
    chosen = dialect(args)
    frame = _static_frame(args, chosen)
    try:
        text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
        calls = chosen.parse(text, action_space)
        actions = [action_to_dict(frame.action_to_screen(c.action)) for c in calls]
    except (ParseError, OutOfFrame) as exc:
        print(f"guiagent parse: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(actions, ensure_ascii=False))
    return 0
