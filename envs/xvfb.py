"""Start a private Xvfb server (tests, benchmarks, the harness's headless runs).

`start_xvfb` lets Xvfb pick a free display number itself (``-displayfd``), so
parallel runs never race for ``:99``. The display number is read from the pipe
*until the newline*: Xvfb writes the number and the newline separately, and
closing the pipe after the first read made it die ("Cannot write display number
to fd") in 2 of 40 runs.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from guiagent.envs.process import spawn

XVFB_INSTALL_HINT = "apt install xvfb"


class XvfbError(RuntimeError):
    """Xvfb is missing or did not start."""


@dataclass
class Xvfb:
    """A running Xvfb server. Use as a context manager or call `stop()`."""

    display: str
    width: int
    height: int
    depth: int
    process: subprocess.Popen = field(repr=False)
    xauthority: str = field(repr=False, default=os.devnull)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def environ(self) -> dict[str, str]:
        """The variables a client needs to reach this server (an X11 session, no Wayland)."""
        return {"DISPLAY": self.display, "XAUTHORITY": self.xauthority}

    def child_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """A copy of `base` (default os.environ) pointed at this server, Wayland variables removed."""
        env = dict(os.environ if base is None else base)
        env.pop("WAYLAND_DISPLAY", None)
        env["XDG_SESSION_TYPE"] = "x11"
        env.update(self.environ())
        return env

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Terminate the server; safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> Xvfb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def xvfb_available() -> bool:
    """Whether the Xvfb binary is on PATH."""
    return shutil.which("Xvfb") is not None


def empty_xauthority() -> str:
    """An empty Xauthority file: ``/dev/null``.

    Xlib raises ``XauthError`` when the file XAUTHORITY names (or ~/.Xauthority)
    does not exist; an empty file makes it connect without a cookie, which an
    Xvfb started without ``-auth`` accepts. /dev/null is one that nothing has to
    create or remove (a temporary file per run piled up in /tmp).
    """
    return os.devnull


def start_xvfb(width: int = 1366, height: int = 768, depth: int = 24, timeout: float = 10.0) -> Xvfb:
    """Start ``Xvfb -displayfd`` with one screen of `width` x `height` x `depth`.

    Raises XvfbError when the binary is missing or the server does not report
    its display number within `timeout` seconds.
    """
    exe = shutil.which("Xvfb")
    if exe is None:
        raise XvfbError(f"Xvfb is not installed ({XVFB_INSTALL_HINT})")
    fd_log, log_name = tempfile.mkstemp(prefix="guiagent-xvfb-", suffix=".log")
    log = Path(log_name)
    r, w = os.pipe()
    try:
        # -noreset: keep the server (and its keymap) when the last client disconnects.
        proc = spawn(
            [exe, "-displayfd", str(w), "-screen", "0", f"{width}x{height}x{depth}", "-nolisten", "tcp", "-noreset"],
            pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=fd_log, stderr=fd_log, close_fds=True,
        )
    except OSError as exc:
        os.close(r)
        os.close(w)
        os.close(fd_log)
        log.unlink(missing_ok=True)
        raise XvfbError(f"cannot run Xvfb: {exc}") from None
    os.close(w)
    os.close(fd_log)
    try:
        number = _read_display_number(r, proc, timeout)
    except XvfbError as exc:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        detail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise XvfbError(f"{exc}; Xvfb said: {' | '.join(detail) or '(nothing)'}") from None
    finally:
        os.close(r)
        log.unlink(missing_ok=True)  # read only when the start fails; Xvfb keeps writing to its open descriptor
    return Xvfb(display=f":{number}", width=width, height=height, depth=depth, process=proc)


def _read_display_number(r: int, proc: subprocess.Popen, timeout: float) -> int:
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise XvfbError(f"Xvfb did not report a display number within {timeout:g} s")
        ready, _, _ = select.select([r], [], [], min(left, 0.5))
        if not ready:
            if proc.poll() is not None:
                raise XvfbError(f"Xvfb exited with status {proc.returncode}")
            continue
        chunk = os.read(r, 64)
        if not chunk:  # EOF: Xvfb closed the pipe, i.e. it died
            raise XvfbError(f"Xvfb exited with status {proc.wait(timeout=5)}")
        buf += chunk
    text = buf.strip()
    if not text.isdigit():
        raise XvfbError(f"Xvfb reported a strange display number {text!r}")
    return int(text)


__all__ = ["XVFB_INSTALL_HINT", "Xvfb", "XvfbError", "empty_xauthority", "start_xvfb", "xvfb_available"]
