"""The `guiagent simphone` command: start a simulated phone and serve until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading

from guiagent.cli.common import EXIT_USAGE, CliParser


def build_parser(prog: str = "guiagent simphone") -> argparse.ArgumentParser:
    p = CliParser(
        prog=prog,
        description="Start a simulated Android phone that speaks the adbd protocol over TCP. "
                    "Attach it with: adb connect 127.0.0.1:PORT",
    )
    p.add_argument("--port", type=int, default=0,
                   help="TCP port to listen on (0 = pick a free one; the first line printed says which). "
                        "Avoid 5555-5585, which adb scans for emulators")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--size", default="1080x2400", help="physical screen size WxH, portrait (default 1080x2400)")
    p.add_argument("--state", metavar="FILE", help="start from a saved state (JSON, as `simphone state` prints it)")
    p.add_argument("--no-adbkeyboard", action="store_true",
                   help="start without the ADBKeyboard input method (non-ASCII typing then fails, as on a phone "
                        "without it)")
    p.add_argument("--no-shell-v2", action="store_true",
                   help="do not offer the shell v2 protocol (like Android before 7: no exit status over adb)")
    p.add_argument("--unauthorized", action="store_true",
                   help="behave like a phone that has not accepted this computer's USB debugging key")
    return p


def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` -> (W, H); raises ValueError with a one-line message."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise ValueError(f"--size {text!r}: expected WxH, e.g. 1080x2400")
    w, h = int(m.group(1)), int(m.group(2))
    if not (200 <= w <= 4096 and 200 <= h <= 8192) or w > h:
        raise ValueError(f"--size {text}: expected a portrait size between 200x200 and 4096x8192 (W <= H)")
    return w, h


def main(argv: list[str] | None = None) -> int:
    """Run the simulated phone. Prints ``simphone listening on HOST:PORT`` first, then serves."""
    args = build_parser().parse_args(argv)
    try:
        size = parse_size(args.size)
        if not 0 <= args.port <= 65535:
            raise ValueError(f"--port {args.port}: must be 0..65535")
        state = None
        if args.state:
            from guiagent.envs.simphone.state import load_state

            state = load_state(args.state)
        from guiagent.envs.simphone.server import SimPhone

        sim = SimPhone(port=args.port, host=args.host, size=size, state=state,
                       adb_keyboard=not args.no_adbkeyboard, unauthorized=args.unauthorized,
                       shell_v2=not args.no_shell_v2)
    except ValueError as exc:
        print(f"guiagent simphone: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"guiagent simphone: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE

    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sim.start()
    print(f"simphone listening on {sim.serial}", flush=True)
    print(f"attach it with: adb connect {sim.serial}", flush=True)
    while not stop.wait(0.5):
        pass
    sim.stop()
    return 0
