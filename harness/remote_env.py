"""An env that lives in a child process: one X display per harness worker.

pyautogui connects to one X display per process, at import. Harness workers are
threads that share one in-process model, and each must drive its own Xvfb; so each
worker's `DesktopEnv` runs in a spawned child whose DISPLAY is that worker's server,
and this proxy forwards `observe` / `execute` over a pipe. A 1366x768 screenshot
(3 MB of RGB) crosses the pipe in a few milliseconds.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

from guiagent.envs.base import ActionError, Env, EnvError
from guiagent.envs.process import spawn

if TYPE_CHECKING:
    from guiagent.tools.actions import Action
    from guiagent.tools.frame import Screenshot

CALL_TIMEOUT = 120.0


class RemoteEnv(Env):
    """Proxy for ``factory(**kwargs)`` (``"module:Class"``) built in a child with `environ` applied.

    The child is a plain ``python -m guiagent.harness.remote_env`` (not a multiprocessing spawn,
    which would re-import the caller's main script) that connects back over a private
    Unix socket with a random key and exchanges pickled requests and replies.
    """

    def __init__(self, factory: str, environ: dict[str, str], kwargs: dict | None = None, *,
                 start_timeout: float = 60.0) -> None:
        from multiprocessing.connection import Listener

        self._lock = threading.Lock()
        self._dir = tempfile.mkdtemp(prefix="guiagent-env-")
        address = os.path.join(self._dir, "sock")
        key = secrets.token_bytes(32)
        listener = Listener(address, family="AF_UNIX", authkey=key)
        child_env = {**os.environ, **environ, _KEY_VAR: key.hex()}
        self._proc = spawn(
            [sys.executable, "-m", "guiagent.harness.remote_env", address, factory, json.dumps(kwargs or {})],
            env=child_env, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._conn = _accept(listener, self._proc, start_timeout)
        finally:
            listener.close()
        info = self._call("hello", timeout=start_timeout)
        self.space = info["space"]
        self.name = info["name"]
        self._describe = info["describe"]
        self._settles = bool(info["settles"])

    def observe(self) -> Screenshot:
        return self._call("observe")

    def execute(self, action: Action) -> None:
        self._call("execute", action)

    def describe(self) -> dict[str, Any]:
        return dict(self._describe)

    @property
    def settles(self) -> bool:
        """The wrapped env's `settles`: an env that waits for its screen in the child still does."""
        return self._settles

    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None and self._proc.poll() is None:
            try:
                with self._lock:
                    conn.send(("close", ()))
                    if conn.poll(5):
                        conn.recv()
            except (OSError, EOFError):
                pass
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        if conn is not None:
            conn.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _call(self, op: str, *args: Any, timeout: float = CALL_TIMEOUT) -> Any:
        with self._lock:
            try:
                self._conn.send((op, args))
                if not self._conn.poll(timeout):
                    raise EnvError(f"the env process did not answer {op!r} within {timeout:g} s", "env_error")
                reply = self._conn.recv()
            except (OSError, EOFError, BrokenPipeError):
                raise EnvError(f"the env process is gone (exit code {self._proc.poll()})", "env_error") from None
        status, *rest = reply
        if status == "ok":
            return rest[0]
        kind, message, reason = rest
        if kind == "action":
            raise ActionError(message)
        raise EnvError(message, reason or "env_error")


def _accept(listener, proc: subprocess.Popen, timeout: float):
    """Wait for the child to connect (or die)."""
    result: list = []
    th = threading.Thread(target=lambda: result.append(_try_accept(listener)), daemon=True)
    th.start()
    deadline = time.monotonic() + timeout
    while th.is_alive():
        th.join(0.1)
        if proc.poll() is not None and th.is_alive():
            listener.close()
            raise EnvError(f"the env process exited ({proc.returncode}) before connecting", "env_error")
        if time.monotonic() > deadline:
            proc.kill()
            listener.close()
            raise EnvError(f"the env process did not connect within {timeout:g} s", "env_error")
    if not result or isinstance(result[0], Exception):
        proc.kill()
        raise EnvError(f"the env process could not connect ({result[0] if result else 'no reply'})", "env_error")
    return result[0]


def _try_accept(listener):
    try:
        return listener.accept()
    except Exception as exc:  # noqa: BLE001 - reported by _accept
        return exc


def _serve(conn, factory: str, kwargs: dict) -> None:
    """Child side: build the env, answer requests until close."""
    try:
        module, _, cls = factory.partition(":")
        env = getattr(importlib.import_module(module), cls)(**kwargs)
    except Exception as exc:  # noqa: BLE001 - anything that stops the env from starting is reported
        try:
            conn.recv()  # answer the parent's first request, so the error is not lost in a closed pipe
            _reply_error(conn, exc)
        except (EOFError, OSError):
            pass
        conn.close()
        return
    try:
        while True:
            try:
                op, args = conn.recv()
            except (EOFError, OSError):
                break
            if op == "close":
                conn.send(("ok", None))
                break
            try:
                if op == "hello":
                    value = {"space": env.space, "name": env.name, "describe": env.describe(), "settles": env.settles}
                elif op == "observe":
                    value = env.observe()
                elif op == "execute":
                    value = env.execute(*args)
                else:
                    raise EnvError(f"unknown request {op!r}")
                conn.send(("ok", value))
            except Exception as exc:  # noqa: BLE001 - forwarded to the parent as EnvError/ActionError
                _reply_error(conn, exc)
    finally:
        env.close()
        conn.close()


def _reply_error(conn, exc: Exception) -> None:
    if isinstance(exc, ActionError):
        conn.send(("err", "action", str(exc), None))
    elif isinstance(exc, EnvError):
        conn.send(("err", "env", str(exc), exc.reason))
    else:
        conn.send(("err", "env", f"{type(exc).__name__}: {exc}", "env_error"))


_KEY_VAR = "GUIAGENT_REMOTE_ENV_KEY"


def main(argv: list[str]) -> int:
    """Child entry point: ``python -m harness.remote_env ADDRESS FACTORY KWARGS_JSON``."""
    from multiprocessing.connection import Client

    address, factory, kwargs = argv
    key = bytes.fromhex(os.environ.pop(_KEY_VAR))
    conn = Client(address, family="AF_UNIX", authkey=key)
    _serve(conn, factory, json.loads(kwargs))
    return 0


__all__ = ["RemoteEnv"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
