"""Child processes that die with guiagent: a SIGKILLed `guiagent bench` must not leave its Xvfb servers, apps
and simulated phones running.

On Linux each child asks the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``). The kernel sends it
when the *thread* that forked the child ends, not the process, so every child is forked from one spawner thread
that lives as long as the process: workers of the harness start and stop, the children they started do not
die with them. Elsewhere `spawn` is a plain `subprocess.Popen`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_PR_SET_PDEATHSIG = 1
_spawner: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _die_with_parent(parent: int) -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _executor() -> ThreadPoolExecutor:
    global _spawner
    with _lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guiagent-spawner")
        return _spawner


def spawn(argv: list[str] | str, **popen: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen(argv, **popen)` whose child is killed when this process dies (Linux)."""
    if not sys.platform.startswith("linux") or "preexec_fn" in popen:
        return subprocess.Popen(argv, **popen)
    parent = os.getpid()
    def start() -> subprocess.Popen[Any]:
        return subprocess.Popen(argv, preexec_fn=lambda: _die_with_parent(parent), **popen)

    return _executor().submit(start).result()


__all__ = ["spawn"]
