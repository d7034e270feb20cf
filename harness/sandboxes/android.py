"""The android sandbox: a simulated phone of the worker's own on a free port (``python -m guiagent simphone``),
or a device the user names, reached through the real adb server and driven by `envs.android.AndroidEnv`.
Tasks use its adb `shell`, the simulated phone's state, and `locate` on the ``uiautomator dump`` tree."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.envs.process import spawn
from guiagent.harness.base import InfraError, Sandbox, TaskSkip

if TYPE_CHECKING:
    from guiagent.envs.android import AndroidEnv


class AndroidSandbox(Sandbox):
    """A simulated phone of this worker's own (or the user's device), through the real adb server."""

    kind = "android"
    env: AndroidEnv

    def __init__(self, root: Path, serial: str | None = None) -> None:
        super().__init__(root)
        self.interaction_cache = ""
        self._controller: Any = None
        self._proc: subprocess.Popen | None = None
        self.simulated = serial is None
        try:
            self.serial = serial or self._start_simphone()
            from guiagent.envs.android import AndroidEnv

            self.env = AndroidEnv(serial=self.serial)
        except Exception as exc:
            self.close()
            if isinstance(exc, InfraError):
                raise
            raise InfraError(f"the phone did not start: {type(exc).__name__}: {exc}") from None
        self.env_spec = f"android:{self.serial}"

    def _start_simphone(self) -> str:
        self._proc = spawn(
            [sys.executable, "-m", "guiagent", "simphone", "--port", "0"], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        line = _read_line(self._proc, 30.0)
        m = re.search(r"listening on (\S+):(\d+)", line or "")
        if not m:
            raise InfraError(f"simphone did not report its port (said {line!r})")
        # keep draining its output: a full pipe would block the phone
        threading.Thread(target=_drain, args=(self._proc.stdout,), daemon=True, name="simphone-out").start()
        return f"{m.group(1)}:{m.group(2)}"  # AndroidEnv `adb connect`s a host:port serial itself

    def shell(self, command: str, timeout: float = 30.0) -> str:
        """stdout + stderr of an adb shell command on this phone."""
        from guiagent.envs.base import EnvError

        try:
            return self.env.shell(command).text
        except EnvError as exc:  # a lost device is an infrastructure error
            raise InfraError(f"adb shell on {self.serial} failed: {exc}") from None

    # ---- AndroidWorld's `interface.AsyncEnv`, what its unmodified tasks read (see sandboxes.adb_controller)

    @property
    def controller(self) -> Any:
        """AndroidWorld's ``env.controller``: executes android_env ``AdbRequest``s on this phone."""
        if self._controller is None:
            from guiagent.harness.sandboxes.adb_controller import make_controller

            self._controller = make_controller(self.env)
        return self._controller

    @property
    def logical_screen_size(self) -> tuple[int, int]:
        return self.controller.logical_screen_size

    @property
    def device_screen_size(self) -> tuple[int, int]:
        return self.controller.device_screen_size

    @property
    def foreground_activity_name(self) -> str:
        from android_env.proto import adb_pb2  # type: ignore[import-untyped]

        response = self.controller.execute_adb_call(
            adb_pb2.AdbRequest(get_current_activity=adb_pb2.AdbRequest.GetCurrentActivity(), timeout_sec=10))
        if response.status != adb_pb2.AdbResponse.Status.OK:
            return ""
        return str(response.get_current_activity.full_activity)

    @property
    def orientation(self) -> int:
        """0 portrait, 1 landscape, 2 reverse portrait, 3 reverse landscape (``dumpsys window``)."""
        m = re.search(r"mCurrentRotation=ROTATION_(\d+)", self.shell("dumpsys window | grep mCurrentRotation"))
        if not m:
            raise ValueError("Failed to get orientation.")
        return int(m.group(1)) // 90

    @property
    def physical_frame_boundary(self) -> tuple[int, int, int, int]:
        for m in re.findall(r"physicalFrame=\[(\d+), (\d+), (\d+), (\d+)\]",
                            self.shell("dumpsys input | grep physicalFrame")):
            a, b, c, d = map(int, m)
            if a or b or c or d:
                return (a, b, c, d) if self.orientation in (0, 2) else (b, a, d, c)
        raise ValueError("Failed to get physical frame boundary.")

    def reset(self, go_home: bool = False) -> None:
        """AsyncEnv.reset: home (if asked) and an empty interaction cache."""
        if go_home:
            self.shell("input keyevent KEYCODE_HOME")
        self.interaction_cache = ""

    def hide_automation_ui(self) -> None:
        self.shell("settings put system pointer_location 0")

    def display_message(self, message: str, header: str = "") -> None:
        """AndroidWorld shows an overlay from its own app; the simulated phone has none, so nothing."""

    def ask_question(self, question: str, timeout_seconds: float = -1.0) -> str | None:
        raise NotImplementedError("ask_question is not implemented.")  # as AndroidWorld's AsyncAndroidEnv

    def get_state(self, wait_to_stabilize: bool = False) -> Any:
        raise TaskSkip("this task reads AndroidWorld's get_state() (a11y forest), which the harness does not offer")

    def execute_action(self, action: Any) -> None:
        raise TaskSkip("this task executes JSONActions itself, which the harness does not offer")

    # simulated-phone state (the simphone's own shell command; absent on real devices)
    def simphone_state(self) -> dict:
        if not self.simulated:
            raise TaskSkip("this task needs the simulated phone (simphone state)")
        return json.loads(self.shell("simphone state"))

    def simphone_load(self, state: dict) -> None:
        if not self.simulated:
            raise TaskSkip("this task needs the simulated phone (simphone load)")
        blob = base64.b64encode(json.dumps(state).encode()).decode()
        out = self.shell(f"simphone load {blob}")
        if "OK" not in out:
            raise InfraError(f"simphone load failed: {out.strip()[:200]}")

    def prepare(self, task_id: str) -> None:
        super().prepare(task_id)
        self.interaction_cache = ""
        if self.simulated:
            out = self.shell("simphone reset")  # AndroidWorld restores app snapshots; we reset the phone
            if "OK" not in out:
                raise InfraError(f"simphone reset failed: {out.strip()[:200]}")

    def alive(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            return False
        try:
            return self.shell("echo ok", timeout=10).strip() == "ok"
        except InfraError:
            return False

    def ui_nodes(self) -> list[dict]:
        """The `uiautomator dump` widget tree: text, content-desc, resource-id, bounds (device pixels)."""
        import xml.etree.ElementTree as ET

        xml = self.shell("uiautomator dump /dev/tty")
        xml = xml[xml.find("<"): xml.rfind(">") + 1]
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as exc:
            raise InfraError(f"unreadable uiautomator dump ({exc})") from None
        nodes = []
        for n in root.iter("node"):
            m = re.match(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]", n.get("bounds", ""))
            if not m:
                continue
            x1, y1, x2, y2 = map(int, m.groups())
            nodes.append({**n.attrib, "rect": (x1, y1, x2, y2)})
        return nodes

    def locate(self, target: dict) -> tuple[int, int]:
        """Centre of the first widget matching every key of `target` (text, desc, id, class, contains)."""
        deadline = time.monotonic() + 3
        while True:
            for n in self.ui_nodes():
                if _matches(n, target):
                    x1, y1, x2, y2 = n["rect"]
                    return (x1 + x2) // 2, (y1 + y2) // 2
            if time.monotonic() > deadline:
                raise TaskSkip(f"the oracle found no widget {target} on the screen")
            time.sleep(0.1)

    def close(self) -> None:
        super().close()
        if self._proc is not None:
            env = getattr(self, "env", None)
            if env is not None and getattr(self, "serial", None):
                with contextlib.suppress(Exception):
                    import adbutils

                    adbutils.AdbClient(port=env.adb_port).disconnect(self.serial)
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
            self._proc = None


def _matches(node: dict, target: dict) -> bool:
    for key, want in target.items():
        if key == "text" and node.get("text") != want:
            return False
        if key == "desc" and node.get("content-desc") != want:
            return False
        if key == "id" and not (node.get("resource-id") == want or node.get("resource-id", "").endswith("/" + want)):
            return False
        if key == "class" and node.get("class") != want:
            return False
        if key == "contains" and want not in (node.get("text") or "") + " " + (node.get("content-desc") or ""):
            return False
    return True


def _drain(stream) -> None:
    with contextlib.suppress(OSError, ValueError):
        for _ in stream:
            pass


def _read_line(proc: subprocess.Popen, timeout: float) -> str | None:
    import select

    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            return proc.stdout.readline().strip()
        if proc.poll() is not None:
            return None
    return None


__all__ = ["AndroidSandbox"]
