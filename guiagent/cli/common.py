"""What every `guiagent` subcommand shares: one-line usage errors, exit codes, Ctrl+C handling, the output
folder, and the pixel-budget, model and env options. Only the CLI imports this module."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guiagent.envs.base import Env
    from guiagent.model.base import Dialect, Model
    from guiagent.model.image import PixelBudget
    from guiagent.tools.actions import ActionSpace

EXIT_OK, EXIT_ENDED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad usage or configuration: printed as one line, exit code 2."""


class CliParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2 via UsageError) for every guiagent subcommand."""

    def error(self, message: str) -> None:  # type: ignore[override]  # one line, not argparse's usage dump
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def screen_size(value: str) -> tuple[int, int]:
    """argparse type: ``WxH`` with both sides positive."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise argparse.ArgumentTypeError(f"--screen must look like 1920x1080, got {value!r}")
    return int(m.group(1)), int(m.group(2))


def positive_int(value: str) -> int:
    """argparse type: a positive integer."""
    if not value.isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def positive_seconds(value: str) -> float:
    """argparse type: a positive number of seconds."""
    try:
        v = float(value)
    except ValueError:
        v = -1
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return v


def add_budget_args(p: argparse.ArgumentParser) -> None:
    """--min-pixels / --max-pixels, the agent's pixel budget."""
    from guiagent.model.image import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS

    p.add_argument("--min-pixels", type=positive_int, default=DEFAULT_MIN_PIXELS, help="smallest model image area")
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, help="largest model image area")


def add_dialect_arg(p: argparse.ArgumentParser) -> None:
    """--dialect: the model family's prompt, reply syntax and coordinate convention."""
    from guiagent.model.dialects import NAMES

    p.add_argument("--dialect", choices=NAMES, help="model family (default: from the model: an hf: checkpoint's "
                   "config.json model_type, an openai: served model's name; else qwen2.5-vl)")


def dialect(args: argparse.Namespace) -> Dialect:
    """The dialect of --dialect (the default one when not given)."""
    from guiagent.model.dialects import get

    return get(getattr(args, "dialect", None))


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Backend options shared by run, locate and bench (--dialect among them)."""
    add_dialect_arg(p)
    p.add_argument("--temperature", type=float, help="sampling temperature (default greedy)")
    p.add_argument("--served-model", help="model name on an openai: server (default: what /v1/models lists)")
    p.add_argument("--max-new-tokens", type=positive_int, help="bound on generated tokens per step")
    p.add_argument("--dtype", choices=["bfloat16", "float16", "float32"], help="hf: weights dtype (default bf16 on CUDA)")
    p.add_argument("--hf-device", help="hf: torch device, e.g. cuda:0 or cpu (default: CUDA when present)")
    p.add_argument("--no-static-cache", dest="static_cache", action="store_false", default=None,
                   help="hf: use the dynamic KV cache (no compiled decode)")


def budget(args: argparse.Namespace) -> PixelBudget:
    """The pixel budget of --min-pixels/--max-pixels (UsageError when they contradict each other)."""
    from pydantic import ValidationError

    from guiagent.model.image import PixelBudget

    try:
        return PixelBudget(min_pixels=args.min_pixels, max_pixels=args.max_pixels)
    except ValidationError as exc:
        raise UsageError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None


def history_policy(value: str) -> str:
    """Check a --history value (UsageError when malformed); returns it."""
    from guiagent.model.base import parse_policy

    try:
        parse_policy(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return value


def space(env: str) -> ActionSpace:
    """The action space of an env spec, without opening the env (UsageError on a malformed spec)."""
    from guiagent.envs import EnvError, space_of

    try:
        return space_of(env)
    except (ValueError, EnvError) as exc:
        raise UsageError(str(exc)) from None


def open_model(spec: str, args: argparse.Namespace, **extra: Any) -> Model:
    """The backend `spec` names, with the model options of `add_model_args` (UsageError on bad specs)."""
    from guiagent.model.base import ModelError
    from guiagent.model.spec import load_model

    options = {k: v for k in ("temperature", "served_model", "max_new_tokens", "dtype", "static_cache", "dialect")
               if (v := getattr(args, k, None)) is not None}
    if getattr(args, "hf_device", None):
        options["device"] = args.hf_device
    options.update(extra)
    try:
        return load_model(spec, **options)
    except (ValueError, ModelError) as exc:
        raise UsageError(str(exc)) from None


def check_checkpoint(spec: str) -> None:
    """An ``hf:`` spec's checkpoint is on disk and complete (UsageError saying how to get it); no weights load."""
    from guiagent.model.base import ModelError
    from guiagent.model.hf import find_checkpoint

    try:
        find_checkpoint(spec.removeprefix("hf:"))
    except ModelError as exc:
        raise UsageError(str(exc)) from None


def open_env(spec: str) -> Env:
    """The env `spec` names, started (UsageError when it is malformed or cannot start)."""
    from guiagent.envs import EnvError, make_env

    try:
        return make_env(spec)
    except (ValueError, EnvError) as exc:
        raise UsageError(str(exc)) from None


def out_dir(given: str | None, prefix: str = "") -> Path:
    """--out, or runs/<prefix><timestamp>/, created now so an unusable path is a usage error."""
    out = Path(given) if given else fresh_dir(Path("runs"), prefix)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the run directory ({exc.strerror or exc})") from None
    return out


def add_calls_arg(p: argparse.ArgumentParser) -> None:
    """--calls first|all: which tool calls of one reply are executed (default first, as the cookbooks)."""
    p.add_argument("--calls", choices=["first", "all"], default="first",
                   help="tool calls executed per reply: first (default, as the Qwen2.5-VL cookbooks; the rest "
                        "are recorded as skipped) or all (an exact repeat of the call before is skipped)")


@contextlib.contextmanager
def run_folder(out: Path) -> Iterator[None]:
    """Hold the run lock of `out` (agent/runlock.py) for the block: a folder another run holds, or one that
    takes no files, is a usage error now, before a model loads or an env starts."""
    from guiagent.agent.runlock import RecordError, RunFolderInUse, lock_run_folder

    try:
        lock = lock_run_folder(out)
    except (RunFolderInUse, RecordError) as exc:
        raise UsageError(str(exc)) from None
    try:
        with lock:
            yield
    except BaseException:
        _remove_if_unused(out)  # a start that failed (bad model, no env) leaves no empty run folder behind
        raise


def _remove_if_unused(out: Path) -> None:
    """Remove `out` when it holds nothing but its lock file: nothing was recorded there."""
    from guiagent.agent.runlock import LOCK_FILE

    with contextlib.suppress(OSError):
        if {p.name for p in out.iterdir()} <= {LOCK_FILE}:
            (out / LOCK_FILE).unlink(missing_ok=True)
            out.rmdir()
            if out.parent.name == "runs" and not any(out.parent.iterdir()):
                out.parent.rmdir()  # the default runs/ folder, made for this run


def fresh_dir(base: Path, prefix: str) -> Path:
    """``base/<prefix><timestamp>``, with ``-2``, ``-3`` … appended while that name is taken."""
    stem = prefix + time.strftime("%Y%m%d-%H%M%S")
    out, n = base / stem, 1
    while out.exists():
        n += 1
        out = base / f"{stem}-{n}"
    return out


class Signals:
    """First Ctrl+C / SIGTERM: `on_first` (stop after the current action). Second: exit at once, 130.

    Signals are counted by a watchdog thread that the interpreter's C-level signal handler
    wakes through `signal.set_wakeup_fd`, not by a Python handler: a Python handler runs
    only when the main thread returns to the interpreter, which a thread stuck in native
    code (a model's forward pass, an image codec, a read the signal went past because the
    kernel delivered it to another thread) may never do. `on_first` must be thread-safe
    (`Agent.request_stop` is). After the first signal the handlers stay installed until the
    process exits, so a second Ctrl+C while envs and models close is an exit too, never a
    KeyboardInterrupt traceback.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, on_first: Any) -> None:
        self.on_first = on_first
        self.count = 0
        self.saved: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._pipe: tuple[int, int] | None = None
        self._saved_fd = -1

    def __enter__(self) -> Signals:
        try:
            r, w = os.pipe()
            os.set_blocking(w, False)
            self._saved_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
            self._pipe = (r, w)
            threading.Thread(target=self._watch, args=(r,), name="signals", daemon=True).start()
        except (OSError, ValueError):  # no pipe: the Python handler counts (the main thread must get there)
            self._pipe = None
        self.saved = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self._pipe is None:
            self._signal(signum)
        # else: the watchdog already saw this signal; running here only made a blocking call retry

    def _watch(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 64)
            except InterruptedError:
                continue
            except OSError:
                return
            if not data or 0 in data:  # __exit__ said goodbye
                os.close(fd)
                return
            for signum in data:
                if signum in self.SIGNALS:
                    self._signal(signum)

    def _signal(self, signum: int) -> None:
        with self._lock:
            self.count += 1
            first = self.count == 1
        if not first:
            # Files already written are complete: every write is a rename of a finished temp file.
            os._exit(EXIT_INTERRUPTED)
        print("\nstopping after the current action (Ctrl+C again to quit now)", file=sys.stderr, flush=True)
        self.on_first("interrupted by the user" if signum == signal.SIGINT else "terminated")

    def __exit__(self, *exc: object) -> None:
        if self.count:  # a stop is under way: the next signal must still exit at once
            return
        for s, h in self.saved.items():
            signal.signal(s, h)
        if self._pipe is not None:
            signal.set_wakeup_fd(self._saved_fd)
            r, w = self._pipe
            os.write(w, b"\0")  # ends the watchdog, which closes its end (closing it here would not wake a read)
            os.close(w)
            self._pipe = None
