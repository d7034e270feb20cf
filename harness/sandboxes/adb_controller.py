"""AndroidWorld's ``env.controller`` over guiagent's adb connection, with android_env's own parser.

Unmodified AndroidWorld tasks call ``adb_utils.*(env.controller)``, which builds android_env
``AdbRequest`` protos and calls ``controller.execute_adb_call(request)``. Here that call goes through
android_env's real `AdbCallParser` (so every request becomes exactly the adb command line AndroidWorld
would run), and the parser's `AdbController` is `GuiagentAdbController`: ``adb shell`` and ``adb root``
run over the sandbox's `AndroidEnv` connection (device-loss recovery included); other device commands
(``install``, ``push``, ``pull``) run the ``adb`` binary against the same server and serial, once.

Unlike android_env's controller, a failed command never restarts the adb server (``kill-server`` would
cut every other client of the user's server): it raises `AdbControllerError` at once, as android_env
does after its retries. A lost device is an `InfraError`, not the task's failure.

android_env (``pip install guiagent[androidworld]``) is imported lazily by `make_controller`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from guiagent.harness.base import InfraError, TaskSkip

if TYPE_CHECKING:
    from guiagent.envs.android import AndroidEnv

# adb commands that act on the server rather than a device: never through us
SERVER_COMMANDS = frozenset({"kill-server", "start-server", "reconnect", "disconnect", "connect", "usb",
                             "tcpip", "wait-for-device"})


def _android_env() -> Any:
    try:
        from android_env.components import (  # type: ignore[import-untyped]
            adb_call_parser,
            adb_controller,
            config_classes,
            errors,
        )
        from android_env.proto import adb_pb2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise TaskSkip(f"AndroidWorld tasks need android_env ({exc}); `pip install guiagent[androidworld]`") from None
    return adb_call_parser, adb_controller, config_classes, errors, adb_pb2


def make_controller(env: AndroidEnv) -> Any:
    """An AndroidWorld-style controller (``execute_adb_call``, screen sizes, ``pull_file``...) for `env`."""
    adb_call_parser, adb_controller, config_classes, errors, adb_pb2 = _android_env()

    class GuiagentAdbController(adb_controller.AdbController):  # type: ignore[name-defined]
        """android_env's AdbController contract (``execute_command(args, timeout) -> bytes``) over `env`."""

        def __init__(self) -> None:
            # use_adb_server_port_from_os_env: android_env would otherwise delete ANDROID_ADB_SERVER_PORT
            # from this process's environment
            super().__init__(config_classes.AdbControllerConfig(
                adb_path=shutil.which("adb") or "adb", adb_server_port=env.adb_port,
                device_name=env.serial or "", use_adb_server_port_from_os_env=True))

        def _restart_server(self, timeout: float | None = None) -> None:
            raise errors.AdbControllerError("guiagent never restarts the adb server: other clients use it")

        def execute_command(self, args: list[str], timeout: float | None = None,
                            device_specific: bool = True) -> bytes:
            args = [str(a) for a in args]
            shown = "adb " + " ".join(args)
            if not args or args[0] in SERVER_COMMANDS or not device_specific:
                raise errors.AdbControllerError(f"Error executing adb command: [{shown}]\n"
                                                "Caused by: guiagent does not run adb server commands")
            if args[0] == "shell":
                return _shell(" ".join(args[1:]), shown)
            if args[0] == "root":
                return _root()
            return _binary(args, timeout, shown)

    def _fail(shown: str, cause: BaseException) -> Exception:
        err = errors.AdbControllerError(f"Error executing adb command: [{shown}]\nCaused by: {cause}")
        err.__cause__ = cause
        return err

    def _shell(command: str, shown: str) -> bytes:
        from guiagent.envs.base import ActionError, EnvError

        try:
            result = env.shell(command)
        except EnvError as exc:
            raise InfraError(f"adb shell on {env.serial} failed: {exc}") from None
        except ActionError as exc:  # the device refused the shell: a failed command, as adb reports it
            raise _fail(shown, exc) from exc
        output = result.stdout + result.stderr  # the real controller reads stderr into stdout
        if result.returncode not in (0, None):
            raise _fail(shown, subprocess.CalledProcessError(result.returncode, shown, output))
        return output

    def _root() -> bytes:
        from guiagent.envs.base import EnvError

        try:
            reply = env.service("root:")
        except EnvError as exc:
            raise InfraError(f"adb root on {env.serial} failed: {exc}") from None
        if b"restarting" in reply:
            _wait_for_device()  # as `adb root` does: adbd restarts, the connection drops and comes back
        return reply

    def _wait_for_device(deadline_s: float = 15.0) -> None:
        import time

        from guiagent.envs.base import ActionError, EnvError

        end = time.monotonic() + deadline_s
        time.sleep(0.3)  # the drop comes just after the reply
        while True:
            try:
                if env.shell("echo ok").stdout.strip() == b"ok":
                    return
            except (EnvError, ActionError):
                pass
            if time.monotonic() > end:
                raise InfraError(f"{env.serial} did not come back within {deadline_s:g} s after adb root")
            time.sleep(0.2)

    def _binary(args: list[str], timeout: float | None, shown: str) -> bytes:
        adb = shutil.which("adb")
        if adb is None:
            raise _fail(shown, FileNotFoundError("no adb binary on PATH"))
        command = [adb, "-H", env.adb_host, "-P", str(env.adb_port), "-s", env.serial or "", *args]
        try:
            return subprocess.check_output(command, stderr=subprocess.STDOUT, timeout=timeout or 120.0,
                                           stdin=subprocess.DEVNULL)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise _fail(shown, exc) from exc

    class Controller:
        """What AndroidWorld's `AndroidWorldController` offers tasks, over `env`."""

        def __init__(self) -> None:
            self.adb_controller = GuiagentAdbController()
            self.parser = adb_call_parser.AdbCallParser(self.adb_controller)

        def execute_adb_call(self, request: Any) -> Any:
            """Run an android_env ``AdbRequest``; returns its ``AdbResponse``."""
            if not isinstance(request, adb_pb2.AdbRequest):
                raise TypeError(f"execute_adb_call wants an android_env AdbRequest, not {type(request).__name__}")
            return self.parser.parse(request)

        @property
        def env(self) -> Controller:
            # AndroidWorld's utilities call `controller.env.execute_adb_call`: the same calls
            return self

        def _output(self, args: list[str]) -> str:
            response = self.execute_adb_call(adb_pb2.AdbRequest(generic=adb_pb2.AdbRequest.GenericRequest(args=args)))
            return str(response.generic.output.decode("utf-8", "replace"))

        @property
        def device_screen_size(self) -> tuple[int, int]:
            """Physical (width, height), from ``wm size`` as AndroidWorld reads it."""
            import re

            m = re.search(r"Physical size: (\d+)x(\d+)", self._output(["shell", "wm size"]))
            if not m:
                raise ValueError("Screen size information not found in adb response")
            return int(m.group(1)), int(m.group(2))

        @property
        def logical_screen_size(self) -> tuple[int, int]:
            """Logical (width, height), from ``dumpsys input`` as AndroidWorld reads it."""
            import re

            for w, h in re.findall(r"logicalFrame=\[0, 0, (\d+), (\d+)\]",
                                   self._output(["shell", "dumpsys input | grep logicalFrame"])):
                if int(w) and int(h):
                    return int(w), int(h)
            raise ValueError("Failed to get logical screen size.")

        @contextlib.contextmanager
        def pull_file(self, remote_db_file_path: str, timeout_sec: float | None = None) -> Iterator[str]:
            """The folder of `remote_db_file_path`, pulled into a temporary local folder (deleted after)."""
            remote_dir = os.path.dirname(remote_db_file_path)
            with tempfile.TemporaryDirectory() as tmp:
                self.adb_controller.execute_command(["pull", remote_dir, tmp], timeout_sec)
                yield os.path.join(tmp, os.path.basename(remote_dir))

        def push_file(self, local_db_file_path: str, remote_db_file_path: str,
                      timeout_sec: float | None = None) -> None:
            """Copy a local file onto the device."""
            self.adb_controller.execute_command(["push", local_db_file_path, remote_db_file_path], timeout_sec)

        def close(self) -> None:
            """Nothing to close: the sandbox owns the connection."""

    return Controller()


__all__ = ["SERVER_COMMANDS", "make_controller"]
