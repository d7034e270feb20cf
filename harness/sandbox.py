"""What a harness worker owns for one env kind: the env plus the side channels tasks need.

A worker opens one `Sandbox` per env kind, lazily, and reuses it across tasks:

- `BrowserSandbox` ("miniwob"): its own headless Chromium (`envs.browser.BrowserEnv`).
- `DesktopSandbox` ("desktop"): its own Xvfb, a `DesktopEnv` on it in a child process
  (`harness.remote_env`), and a fresh home folder per task for the files and apps the
  task's setup steps create. OSWorld paths under ``/home/user`` map into that folder.
- `AndroidSandbox` ("android"): its own simulated phone on a free port, reached through
  the real adb server (``adb connect``), driven by `envs.android.AndroidEnv`; or a
  device the user names (then one worker).

Setup steps, getters and the oracle use the sandbox's side channels (`run`, `launch`,
`shell`, `locate`); a step a sandbox cannot do raises `TaskSkip`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.harness.tasks import InfraError, TaskSkip

if TYPE_CHECKING:
    from guiagent.envs.base import Env
    from guiagent.envs.browser import BrowserEnv
    from guiagent.harness.remote_env import RemoteEnv

OSWORLD_HOME = "/home/user"  # where OSWorld's VM keeps the task files
LAYOUT_DIR_VAR = "GUIAGENT_LAYOUT_DIR"  # the shipped desktop apps publish widget rectangles here


@dataclass
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class Sandbox:
    """Base class: one env of one kind, owned by one worker."""

    kind: str = "none"
    env: Env
    env_spec: str = ""
    settle_enabled: bool = True  # False: the env settles by itself; the loop observes once per step

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.task_id: str | None = None
        self.scratch = self.root / "scratch"

    def prepare(self, task_id: str) -> None:
        """Fresh per-task state (called before setup)."""
        self.task_id = task_id
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir(parents=True)

    def cleanup(self) -> None:
        """Undo what the task started (called after evaluation, and before a retry)."""

    def alive(self) -> bool:
        return True

    def kill(self) -> None:
        """Make a hung env fail fast (the runner's watchdog calls this from another thread)."""
        self.close()

    def close(self) -> None:
        env = getattr(self, "env", None)
        if env is not None:
            with contextlib.suppress(Exception):
                env.close()

    # ---- side channels; a sandbox that lacks one makes the task skip

    def run(self, command: list[str] | str, *, shell: bool = False, timeout: float = 120.0) -> CommandResult:
        raise TaskSkip(f"{self.kind} tasks cannot run commands")

    def launch(self, command: list[str] | str, *, shell: bool = False) -> None:
        raise TaskSkip(f"{self.kind} tasks cannot launch programs")

    def shell(self, command: str, timeout: float = 30.0) -> str:
        raise TaskSkip(f"{self.kind} tasks have no adb shell")

    def host_path(self, path: str) -> Path:
        raise TaskSkip(f"{self.kind} tasks have no files")

    def locate(self, target: dict) -> tuple[int, int]:
        raise TaskSkip(f"the oracle cannot locate {target} on a {self.kind} env")

    def window_action(self, action: str, name: str, *, strict: bool = False, by_class: bool = False) -> None:
        raise TaskSkip(f"{self.kind} tasks have no windows")


# ---------------------------------------------------------------------- miniwob


class BrowserSandbox(Sandbox):
    env: BrowserEnv
    kind = "miniwob"
    env_spec = "miniwob"
    # The browser env waits for the page itself (animations over, frames painted): the loop's
    # screenshot-comparing settle would only add captures.
    settle_enabled = False

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        from guiagent.envs.base import EnvError
        from guiagent.envs.browser import BrowserEnv

        try:
            self.env = BrowserEnv()
        except EnvError as exc:
            raise InfraError(str(exc)) from None

    def alive(self) -> bool:
        return self.env.alive()


# ---------------------------------------------------------------------- desktop


class DesktopSandbox(Sandbox):
    env: RemoteEnv
    kind = "desktop"

    def __init__(self, root: Path, screen: tuple[int, int] = (1280, 720)) -> None:
        super().__init__(root)
        from guiagent.envs.xvfb import XvfbError, start_xvfb
        from guiagent.harness.remote_env import RemoteEnv

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
        # the shipped apps run as `python -m harness.suites.desktop.apps.X`, from any working folder
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
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
            proc = subprocess.Popen(argv, shell=shell, cwd=self.home, env=self.child_env(), stdin=subprocess.DEVNULL,
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
            proc = subprocess.Popen(argv, shell=shell, cwd=self.home, env=self.child_env(), stdin=subprocess.DEVNULL,
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


# ---------------------------------------------------------------------- factory


def open_sandbox(kind: str, root: Path, options: dict[str, Any] | None = None) -> Sandbox:
    """A new sandbox of `kind` under `root`; InfraError when its env does not start."""
    options = options or {}
    if kind == "miniwob":
        return BrowserSandbox(root)
    if kind == "desktop":
        return DesktopSandbox(root)
    if kind == "android":
        from guiagent.harness.androidworld import AndroidSandbox

        return AndroidSandbox(root, serial=options.get("serial"))
    raise InfraError(f"unknown env kind {kind!r}")


__all__ = ["BrowserSandbox", "CommandResult", "DesktopSandbox", "Sandbox", "open_sandbox"]
