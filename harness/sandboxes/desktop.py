"""The desktop sandbox: a worker's own Xvfb, a `DesktopEnv` on it in a child process (`harness.remote_env`),
and a fresh home folder per task for the files and apps the task's setup steps create.

The task's commands run in bubblewrap (`harness.isolation`) with that folder mounted at OSWorld's
``/home/user``. Without bubblewrap they run on the host only when the user passed ``--unsafe-host`` (then
``/home/user`` in a command is rewritten to the folder); otherwise tasks that run commands are skipped.
Every path a task names resolves inside its home (or its scratch folder), or the task is skipped."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from guiagent.envs.process import spawn
from guiagent.harness import isolation
from guiagent.harness.base import CommandResult, InfraError, Sandbox, TaskSkip, confine
from guiagent.harness.isolation import TASK_HOME as OSWORLD_HOME  # where OSWorld's VM keeps the task files
from guiagent.harness.isolation import home_relative
from guiagent.harness.remote_env import RemoteEnv

LAYOUT_DIR_VAR = "GUIAGENT_LAYOUT_DIR"  # the shipped desktop apps publish widget rectangles here


class DesktopSandbox(Sandbox):
    kind = "desktop"
    env: RemoteEnv

    def __init__(self, root: Path, screen: tuple[int, int] = (1280, 720), *, unsafe_host: bool = False) -> None:
        super().__init__(root)
        self.isolated = isolation.bwrap_path() is not None
        self.unsafe_host = unsafe_host
        self.screen = screen  # what OSWorld's {SCREEN_WIDTH}/{SCREEN_HEIGHT} placeholders become
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
        """The environment of the task's programs (on the host; `isolation.wrap` keeps only what they need)."""
        env = self.xvfb.child_env()
        env["HOME"] = str(self.home)
        env["PATH"] = f"{self._bin}{os.pathsep}{env.get('PATH', '')}"
        env[LAYOUT_DIR_VAR] = self.task_path(self.layout_dir)
        env.pop("PYTHONSTARTUP", None)
        return env

    def task_path(self, host: Path) -> str:
        """Where a file of the task's home is for the task's programs: under /home/user when isolated."""
        if not self.isolated:
            return str(host)
        return str(Path(OSWORLD_HOME) / Path(host).relative_to(self.home))

    def _argv(self, command: list[str] | str, shell: bool) -> list[str]:
        """The command as an argv, wrapped in bubblewrap (or, with --unsafe-host only, on the host)."""
        import shlex

        if shell:
            argv = ["/bin/sh", "-c", command if isinstance(command, str) else shlex.join(map(str, command))]
        else:
            argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
            # OSWorld's VM server expands an argument that starts with ~/ (a shell command expands ~ and
            # $HOME itself, HOME being the task home)
            home = OSWORLD_HOME if self.isolated else str(self.home)
            argv = [home + a[1:] if a.startswith("~/") else a for a in argv]
        if self.isolated:
            return isolation.wrap(argv, home=self.home, env=self.child_env())
        if not self.unsafe_host:
            raise TaskSkip(isolation.unavailable_reason())
        return [self._map_paths(a) for a in argv]

    def _map_paths(self, text: str) -> str:
        # /home/user and /home/user/…, not /home/username
        return re.sub(r"(?<![\w/.-])/home/user(?=/|$|[\s'\";:|&)])", lambda _: str(self.home), text)

    def run(self, command: list[str] | str, *, shell: bool = False, timeout: float = 120.0) -> CommandResult:
        argv = self._argv(command, shell)
        try:
            proc = spawn(argv, cwd=self.home, env=self.child_env(), stdin=subprocess.DEVNULL,
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
            proc = spawn(argv, cwd=self.home, env=self.child_env(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise InfraError(f"cannot launch {argv}: {exc}") from None
        self._procs.append(proc)

    def host_path(self, path: str) -> Path:
        """A task path (``/home/user/…``, ``~/…``, ``$HOME/…`` or relative to the home) on the host; TaskSkip
        when it leads out of the task's home, through ``..`` or a symlink."""
        relative = home_relative(str(path))
        if relative is None:
            raise TaskSkip(f"path {path} is outside the task's home {OSWORLD_HOME}: task files may only use it")
        return confine(self.home / relative, self.home, "path")

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
        file = confine(self.layout_dir / f"{app}.json", self.layout_dir, "layout file")
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
