"""The desktop sandbox: a worker's own Xvfb, a `DesktopEnv` on it in a child process (`harness.remote_env`),
and a fresh home folder per task for the files and apps the task's setup steps create. OSWorld paths under
``/home/user`` map into that folder; commands run with that home, the display and the shipped apps' path."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from guiagent.envs.process import spawn
from guiagent.harness.base import CommandResult, InfraError, Sandbox, TaskSkip
from guiagent.harness.remote_env import RemoteEnv

OSWORLD_HOME = "/home/user"  # where OSWorld's VM keeps the task files
LAYOUT_DIR_VAR = "GUIAGENT_LAYOUT_DIR"  # the shipped desktop apps publish widget rectangles here


class DesktopSandbox(Sandbox):
    kind = "desktop"
    env: RemoteEnv

    def __init__(self, root: Path, screen: tuple[int, int] = (1280, 720)) -> None:
        super().__init__(root)
        from guiagent.envs.xvfb import XvfbError, start_xvfb

        self._procs: list[subprocess.Popen] = []
        self.home = self.root / "home"
        self._bin = self.root / "bin"
        self._bin.mkdir(exist_ok=True)
        for name in ("python", "python3"):  # OSWorld's steps call `python -c "import pyautogui ..."`
            # a wrapper, not a symlink: a symlinked venv python would not find the venv's packages
            wrapper = self._bin / name
            wrapper.unlink(missing_ok=True)  # never write through an old link
            wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            wrapper.chmod(0o755)
        try:
            self.xvfb = start_xvfb(*screen)
        except XvfbError as exc:
            raise InfraError(str(exc)) from None
        self.env_spec = f"desktop (Xvfb {self.xvfb.display})"
        try:
            self.env = RemoteEnv("guiagent.envs.desktop:DesktopEnv", self.xvfb.environ(), {"failsafe": False})
        except Exception as exc:
            self.xvfb.stop()
            raise InfraError(f"the desktop env did not start on {self.xvfb.display}: {exc}") from None

    @property
    def layout_dir(self) -> Path:
        return self.home / ".guiagent-layout"

    def prepare(self, task_id: str) -> None:
        super().prepare(task_id)
        self.cleanup()
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        self.layout_dir.mkdir()

    def child_env(self) -> dict[str, str]:
        env = self.xvfb.child_env()
        env["HOME"] = str(self.home)
        env["PATH"] = f"{self._bin}{os.pathsep}{env.get('PATH', '')}"
        env[LAYOUT_DIR_VAR] = str(self.layout_dir)
        env.pop("PYTHONSTARTUP", None)
        return env

    def _argv(self, command: list[str] | str, shell: bool) -> list[str] | str:
        if isinstance(command, str):
            return self._map_paths(command) if shell else [self._map_paths(a) for a in _split(command)]
        argv = [self._map_paths(str(a)) for a in command]
        if shell:
            import shlex

            return " ".join(shlex.quote(a) for a in argv)
        return argv

    def _map_paths(self, text: str) -> str:
        return text.replace(OSWORLD_HOME, str(self.home))

    def run(self, command: list[str] | str, *, shell: bool = False, timeout: float = 120.0) -> CommandResult:
        argv = self._argv(command, shell)
        try:
            proc = spawn(argv, shell=shell, cwd=self.home, env=self.child_env(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        except OSError as exc:
            return CommandResult(127, "", f"{exc}")
        self._procs.append(proc)  # anything it leaves running in its session is killed at cleanup
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _killpg(proc)
            out, err = proc.communicate()
            return CommandResult(124, out, (err or "") + f"\n(timed out after {timeout:g} s)")
        return CommandResult(proc.returncode, out, err)

    def launch(self, command: list[str] | str, *, shell: bool = False) -> None:
        argv = self._argv(command, shell)
        try:
            proc = spawn(argv, shell=shell, cwd=self.home, env=self.child_env(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise InfraError(f"cannot launch {argv}: {exc}") from None
        self._procs.append(proc)

    def host_path(self, path: str) -> Path:
        path = str(path)
        if path.startswith(OSWORLD_HOME):
            return self.home / path[len(OSWORLD_HOME):].lstrip("/")
        if path.startswith("~"):
            return self.home / path[1:].lstrip("/")
        p = Path(path)
        return p if p.is_absolute() else self.home / p

    def cleanup(self) -> None:
        procs, self._procs = self._procs, []
        for p in procs:
            _killpg(p)
        for wid in self._windows("."):  # windows of programs that escaped their session
            self._xdotool("windowkill", wid)

    def alive(self) -> bool:
        return self.xvfb.alive() and self.env.alive()

    def close(self) -> None:
        self.cleanup()
        super().close()
        self.xvfb.stop()

    # ---- windows

    def _xdotool(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["xdotool", *args], env=self.child_env(), capture_output=True, text=True, timeout=10)

    def _windows(self, pattern: str, *, by_class: bool = False) -> list[str]:
        res = self._xdotool("search", "--onlyvisible", "--class" if by_class else "--name", pattern)
        return res.stdout.split()

    def window_action(self, action: str, name: str, *, strict: bool = False, by_class: bool = False) -> None:
        """activate (raise + focus: Xvfb has no window manager) or close a window by title or class."""
        import re

        pattern = f"^{re.escape(name)}$" if strict else re.escape(name)  # OSWorld: strict = whole title
        deadline = time.monotonic() + 5
        while not (ids := self._windows(pattern, by_class=by_class)):
            if time.monotonic() > deadline:
                raise InfraError(f"no window named {name!r} to {action}")
            time.sleep(0.1)
        for wid in ids:
            if action == "activate":
                self._xdotool("windowraise", wid)
                self._xdotool("windowfocus", "--sync", wid)
            else:
                _close_window(self.xvfb.display, int(wid))

    def locate(self, target: dict) -> tuple[int, int]:
        """Centre of a widget that a shipped app published: ``{"app": ..., "widget": ...}``."""
        app, widget = target.get("app"), target.get("widget")
        file = self.layout_dir / f"{app}.json"
        deadline = time.monotonic() + 5
        while True:
            try:
                rect = json.loads(file.read_text())["widgets"][widget]
                break
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    raise TaskSkip(f"the oracle cannot find widget {widget!r} of app {app!r} ({file})") from None
                time.sleep(0.05)
        x, y, w, h = rect
        return int(x + w / 2), int(y + h / 2)


def _split(command: str) -> list[str]:
    import shlex

    return shlex.split(command)


def _killpg(proc: subprocess.Popen) -> None:
    # children may outlive the session leader, so the whole process group is signalled
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=3)


def _close_window(display: str, wid: int) -> None:
    """Ask politely (WM_DELETE_WINDOW, what a window manager's close button sends), as OSWorld's wmctrl -c."""
    import Xlib.display
    import Xlib.protocol.event
    import Xlib.X

    with contextlib.redirect_stdout(open(os.devnull, "w")):  # python-xlib prints xauth warnings on stdout
        d = Xlib.display.Display(display)
    try:
        win = d.create_resource_object("window", wid)
        protocols = d.intern_atom("WM_PROTOCOLS")
        delete = d.intern_atom("WM_DELETE_WINDOW")
        event = Xlib.protocol.event.ClientMessage(window=win, client_type=protocols, data=(32, [delete, Xlib.X.CurrentTime, 0, 0, 0]))
        win.send_event(event)
        d.flush()
    finally:
        d.close()


__all__ = ["LAYOUT_DIR_VAR", "OSWORLD_HOME", "DesktopSandbox"]
