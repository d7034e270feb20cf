"""The Android env: screenshots and input over adb (the adb server + adbutils).

Actions arrive in screen coordinates, which on Android are the display's pixels as
`input tap` takes them: the ``wm size`` override when one is set, else the physical
size, with width and height swapped in landscape (rotation 1 or 3). Command lines,
all run through the device shell:

* ``click`` -> ``input tap X Y``; ``long_press`` -> ``input swipe X Y X Y MS`` with
  MS = time x 1000 (default 2 s); ``swipe`` -> ``input swipe X1 Y1 X2 Y2 MS``
  (`swipe_ms`, default 300, Android's own default);
* ``key`` -> ``input keyevent CODE`` (names resolved by `envs.adb_keys`, through the
  shared key vocabulary of `guiagent.tools.keys`);
  ``system_button`` Back/Home/Menu/Enter -> keyevent 4/3/82/66;
* ``type`` -> ASCII text: ``input text 'ARG'`` where ARG has spaces written as
  ``%s`` (Android's `input` turns ``%s`` into a space and has no escape for a literal
  ``%s``, so text containing "%s" is split between the ``%`` and the ``s`` into two
  commands) and is single-quoted for the shell; each line break (CR LF too) becomes one
  ``input keyevent 66``.
  Text with any non-ASCII character goes whole through an ADBKeyboard-style input
  method: ``am broadcast -a ADB_INPUT_B64 --es msg BASE64`` (switching to the IME
  for the broadcast and back after it). Without such an IME the action fails with
  instructions, never with dropped characters;
* ``open`` -> `envs.android_apps.resolve`, then
  ``monkey -p PKG -c android.intent.category.LAUNCHER 1``.

Screenshots: ``exec:screencap -p`` (PNG) or ``exec:screencap`` (raw RGBA + header);
bytes equal to the previous capture's are not decoded again (an unchanged screen).
With ``screenshot="auto"`` the first observation captures both ways twice (the first
round warms up) and keeps the faster: raw tends to win on a phone over USB (no PNG
encoding on the device), PNG over slow links and on an unchanged simphone screen (its PNG
is cached). Later observations time each path on new frames (the screen after an action)
and switch to the faster, trying the other path again every `REPROBE_EVERY` observations.
A device that drops off is reconnected (``adb disconnect``/``connect`` for host:port
serials) with bounded retries; then the run ends with EnvError(reason="device_lost").
"""

from __future__ import annotations

import base64
import io
import re
import shlex
import struct
import time
from typing import TYPE_CHECKING, Literal, cast

from guiagent.envs.adb_keys import UnknownKey, keycode
from guiagent.envs.base import ActionError, Env, EnvError
from guiagent.tools.keys import normalize_newlines

if TYPE_CHECKING:
    from typing import Any

    from guiagent.envs.adb_wire import ShellResult
    from guiagent.envs.android_apps import LauncherApp
    from guiagent.tools.actions import Action
    from guiagent.tools.checks import CheckResult
    from guiagent.tools.frame import Screenshot
    from PIL.Image import Image

ADB_IME = "com.android.adbkeyboard/.AdbIME"
ADB_KEYBOARD_HELP = (
    "install ADBKeyboard (https://github.com/senzhk/ADBKeyBoard): `adb install ADBKeyboard.apk`, then "
    f"`adb shell ime enable {ADB_IME}`, and retry"
)
SYSTEM_BUTTONS = {"Back": 4, "Home": 3, "Menu": 82, "Enter": 66}
KEYCODE_ENTER = 66
DEFAULT_LONG_PRESS_S = 2.0
# One shell command line stays well below the 4 KiB payload limit of older adbd.
MAX_COMMAND_CHARS = 3000
MAX_TEXT_CHUNK = 1000
# raw screencap pixel formats (android PixelFormat) -> (bytes per pixel, PIL raw mode for RGB)
_RAW_FORMATS = {1: (4, "RGBX"), 2: (4, "RGBX"), 3: (3, "RGB"), 5: (4, "BGRX")}
_SERIAL_HOST_PORT = re.compile(r"^[\w.-]+:\d{1,5}$")

CapturePath = Literal["auto", "png", "raw"]
REPROBE_EVERY = 16  # auto mode times the path it does not use again every this many observations


# ------------------------------------------------------------------ command lines


def _num(v: float) -> str:
    return str(int(round(v)))


def tap_command(x: float, y: float) -> str:
    """``input tap X Y`` (integer pixels)."""
    return f"input tap {_num(x)} {_num(y)}"


def swipe_command(x1: float, y1: float, x2: float, y2: float, duration_ms: int) -> str:
    """``input swipe X1 Y1 X2 Y2 MS``; a long press is a swipe that does not move."""
    return f"input swipe {_num(x1)} {_num(y1)} {_num(x2)} {_num(y2)} {int(duration_ms)}"


def keyevent_command(code: int) -> str:
    return f"input keyevent {int(code)}"


def launch_command(package: str) -> str:
    return f"monkey -p {shlex.quote(package)} -c android.intent.category.LAUNCHER 1"


def is_input_text_safe(text: str) -> bool:
    """True when `input text` can type every character (printable ASCII, newline, tab)."""
    return all(" " <= ch <= "~" or ch in "\n\t" for ch in text)


def text_commands(text: str) -> list[str]:
    """Shell commands that type ASCII `text` with ``input text``; see the module docstring.

    Raises ValueError for characters `input text` cannot type.
    """
    if not is_input_text_safe(text):
        raise ValueError("input text only types printable ASCII")
    commands: list[str] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            commands.append(keyevent_command(KEYCODE_ENTER))
        for chunk in _split_percent_s(line):
            for start in range(0, len(chunk), MAX_TEXT_CHUNK):
                piece = chunk[start:start + MAX_TEXT_CHUNK]
                commands.append("input text " + shlex.quote(piece.replace(" ", "%s")))
    return commands


def _split_percent_s(line: str) -> list[str]:
    # `input text` reads "%s" as a space; a literal "%" followed by "s" must not meet in one argument.
    parts, start = [], 0
    for i in range(len(line) - 1):
        if line[i] == "%" and line[i + 1] == "s":
            parts.append(line[start:i + 1])
            start = i + 1
    parts.append(line[start:])
    return [p for p in parts if p]


def ime_broadcast_command(text: str) -> str:
    """ADBKeyboard's base64 broadcast: any Unicode, and nothing for the shell to misread."""
    return "am broadcast -a ADB_INPUT_B64 --es msg " + base64.b64encode(text.encode("utf-8")).decode("ascii")


def batch(commands: list[str], limit: int = MAX_COMMAND_CHARS) -> list[str]:
    """Join commands with `` && `` into as few command lines as fit in `limit` characters."""
    lines: list[str] = []
    cur = ""
    for cmd in commands:
        if cur and len(cur) + 4 + len(cmd) > limit:
            lines.append(cur)
            cur = ""
        cur = f"{cur} && {cmd}" if cur else cmd
    if cur:
        lines.append(cur)
    return lines


def parse_wm_size(text: str) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """(physical size, override size or None) from ``wm size``."""
    phys = re.search(r"Physical size:\s*(\d+)x(\d+)", text)
    if not phys:
        raise ValueError(f"unexpected `wm size` output: {text.strip()[:200]!r}")
    over = re.search(r"Override size:\s*(\d+)x(\d+)", text)
    return (int(phys.group(1)), int(phys.group(2))), (int(over.group(1)), int(over.group(2))) if over else None


def parse_rotation(text: str) -> int | None:
    """Display rotation 0-3 from ``dumpsys display`` (DisplayViewport / DisplayInfo lines)."""
    for pattern in (r"\borientation=(\d)", r"mCurrentOrientation=(\d)", r"\brotation (\d)\b",
                    r"SurfaceOrientation:\s*(\d)", r"mCurrentRotation=ROTATION_(\d+)"):
        m = re.search(pattern, text)
        if m:
            v = int(m.group(1))
            return v // 90 if v >= 90 else v % 4
    return None


def decode_raw(data: bytes) -> Image:
    """An RGB image from raw ``screencap`` output (12- or 16-byte header, then pixels)."""
    from PIL import Image

    if len(data) < 12:
        raise ValueError(f"raw screencap too short ({len(data)} bytes)")
    w, h, fmt = struct.unpack_from("<3I", data)
    if fmt not in _RAW_FORMATS:
        raise ValueError(f"raw screencap pixel format {fmt} is not supported")
    bpp, rawmode = _RAW_FORMATS[fmt]
    header = len(data) - w * h * bpp
    if header not in (12, 16) or w == 0 or h == 0:
        raise ValueError(f"raw screencap size mismatch: {w}x{h}x{bpp} with {len(data)} bytes")
    # The raw decoder unpacks RGBX straight into RGB: one pass, no RGBA intermediate.
    return Image.frombytes("RGB", (w, h), memoryview(data)[header:], "raw", rawmode)


def decode_png(data: bytes) -> Image:
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return img if img.mode == "RGB" else img.convert("RGB")


# ------------------------------------------------------------------ the env


class AndroidEnv(Env):
    """One Android device, driven through the adb server.

    `serial`: the device (``adb devices``); None picks the only attached one. A
    ``host:port`` serial that is not attached is ``adb connect``-ed first. `adb_port`
    defaults to $ANDROID_ADB_SERVER_PORT or 5037. The device is opened in the
    constructor (``connect=False`` defers it to the first call); problems raise
    EnvError with one line that says what to do. A local adb server that is not running
    is started on `adb_port` (``start_server=False`` to not). adbutils is imported only
    inside methods.
    """

    space = "mobile_use"
    name = "android"

    def __init__(
        self,
        serial: str | None = None,
        adb_host: str = "127.0.0.1",
        adb_port: int | None = None,
        *,
        screenshot: CapturePath = "auto",
        swipe_ms: int = 300,
        reconnect_tries: int = 5,
        reconnect_delay: float = 0.5,
        command_timeout: float = 30.0,
        ime_switch_delay: float = 0.3,
        geometry_ttl: float = 10.0,
        connect: bool = True,
        start_server: bool = True,
    ) -> None:
        import os

        if screenshot not in ("auto", "png", "raw"):
            raise ValueError(f"screenshot must be auto, png or raw, not {screenshot!r}")
        self.requested_serial = serial or None
        self.adb_host = adb_host
        self.adb_port = int(adb_port or os.environ.get("ANDROID_ADB_SERVER_PORT") or 5037)
        self.capture_path: CapturePath = screenshot
        self._auto = screenshot == "auto"
        self.swipe_ms = swipe_ms
        self.reconnect_tries = reconnect_tries
        self.reconnect_delay = reconnect_delay
        self.command_timeout = command_timeout
        self.ime_switch_delay = ime_switch_delay
        self.geometry_ttl = geometry_ttl
        self.start_server = start_server
        self.serial: str | None = None
        self.features: set[str] = set()
        self.reconnects = 0
        self.capture_timings: dict[str, float] = {}
        # auto mode: the latest time of each path for a capture of a new frame (bytes unlike that
        # path's previous capture), which is what a step pays after an action
        self.new_frame_timings: dict[str, float] = {}
        self._last_bytes: dict[str, bytes] = {}
        self._observations = 0
        self._geometry: tuple[int, int, int] | None = None  # width, height (display orientation), rotation
        self._geometry_at = 0.0
        self._last_image_size: tuple[int, int] | None = None
        self._apps: tuple[float, list[LauncherApp], list[str]] | None = None
        self._last_capture: tuple[str, bytes, Image] | None = None
        self._new_frame = False  # whether the last capture's bytes differed from its path's previous ones
        if connect:
            # Open the device now, so a missing or unauthorized one is reported when the env
            # is made (one line, before any model work) rather than at the first step.
            self._ensure()

    # ------------------------------------------------------------ device selection

    def _devices(self) -> list[tuple[str, str]]:
        """(serial, state) of every device the server knows, offline ones included."""
        from guiagent.envs.adb_wire import AdbServerError, host_query

        try:
            text = host_query(self.adb_host, self.adb_port, "host:devices", timeout=self.command_timeout,
                              start=self.start_server and self.serial is None)
        except AdbServerError as exc:
            raise EnvError(f"{exc}; install adb (apt install adb) or start it with `adb start-server`",
                           reason="env_error") from None
        out = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                out.append((parts[0], parts[1]))
        return out

    @staticmethod
    def _listing(devices: list[tuple[str, str]]) -> str:
        return ", ".join(f"{s} ({st})" for s, st in devices) if devices else "none"

    def _state(self, serial: str) -> str:
        return dict(self._devices()).get(serial, "absent")

    def _state_error(self, serial: str, state: str, devices: list[tuple[str, str]]) -> EnvError:
        if state == "unauthorized":
            return EnvError(f"device {serial} is unauthorized: accept the USB debugging prompt on the phone "
                            "(tick 'Always allow from this computer'), then retry", reason="env_error")
        if state == "offline":
            return EnvError(f"device {serial} is offline; reconnect it (unplug/replug USB, or `adb reconnect`) "
                            f"and retry; attached devices: {self._listing(devices)}", reason="env_error")
        return EnvError(f"device {serial} is {state}; attached devices: {self._listing(devices)}",
                        reason="env_error")

    def _ensure(self) -> str:
        """The serial of a ready device (opening it on first use)."""
        if self.serial is not None:
            return self.serial
        devices = self._devices()
        serial = self.requested_serial
        if serial is None:
            ready = [s for s, st in devices if st == "device"]
            if len(ready) == 1:
                serial = ready[0]
            elif not ready:
                if len(devices) == 1:
                    raise self._state_error(devices[0][0], devices[0][1], devices)
                raise EnvError(
                    "no Android device is attached (attached: " + self._listing(devices) + "); connect a phone "
                    "with USB debugging on (check with `adb devices`), or start `guiagent simphone` and "
                    "`adb connect 127.0.0.1:PORT`", reason="env_error")
            else:
                raise EnvError(f"several Android devices are attached ({self._listing(devices)}); choose one with "
                               "--env android:SERIAL", reason="env_error")
        else:
            state = dict(devices).get(serial, "absent")
            answer = ""
            if state in ("absent", "offline") and _SERIAL_HOST_PORT.match(serial):
                state, answer = self._connect(serial, fresh=state != "absent")
            if state == "absent":
                if answer:
                    raise EnvError(f"cannot connect to {serial}: {answer.strip()}; is the phone (or `guiagent "
                                   f"simphone`) listening there? attached devices: {self._listing(devices)}",
                                   reason="env_error")
                raise EnvError(f"device {serial} is not attached; attached devices: {self._listing(devices)} "
                               "(check `adb devices`; for a network device use its host:port)", reason="env_error")
            if state != "device":
                raise self._state_error(serial, state, self._devices())
        self.serial = serial
        self.features = self._features(serial)
        return serial

    def _features(self, serial: str) -> set[str]:
        from guiagent.envs.adb_wire import AdbServerError, TransportError, host_query

        try:
            return set(host_query(self.adb_host, self.adb_port, f"host-serial:{serial}:features").split(","))
        except (AdbServerError, TransportError):
            return set()

    def _connect(self, serial: str, fresh: bool) -> tuple[str, str]:
        """``adb connect`` a host:port serial (after a disconnect when it is stale): (state, adb's answer)."""
        import adbutils
        from adbutils.errors import AdbError

        client = adbutils.AdbClient(host=self.adb_host, port=self.adb_port)
        try:
            if fresh:
                # A transport that went offline stays "offline" and `connect` says "already
                # connected"; dropping it first makes the server dial again.
                client.disconnect(serial)
            answer = client.connect(serial, timeout=self.command_timeout)
        except (AdbError, OSError) as exc:
            raise EnvError(f"cannot reach the adb server at {self.adb_host}:{self.adb_port} ({exc})",
                           reason="env_error") from None
        if "authenticate" in answer:
            return "unauthorized", answer
        if "connected to" not in answer:
            return "absent", answer
        # The server finishes the handshake asynchronously; give it a moment.
        deadline = time.monotonic() + 2.0
        state = self._state(serial)
        while state not in ("device", "unauthorized") and time.monotonic() < deadline:
            time.sleep(0.05)
            state = self._state(serial)
        return state, answer

    # ------------------------------------------------------------ calls

    def _service(self, service: str, *, replay_safe: bool) -> bytes:
        """Run a service on the device, recovering from a lost device (see `_recover`)."""
        from guiagent.envs.adb_wire import AdbServerError, ServiceError, StreamError, TransportError, call

        serial = self._ensure()
        for attempt in range(2):
            try:
                return call(self.adb_host, self.adb_port, serial, service, timeout=self.command_timeout)
            except AdbServerError as exc:
                raise EnvError(f"{exc}; is the adb server still running? (`adb start-server`)",
                               reason="device_lost") from None
            except ServiceError as exc:
                raise ActionError(f"the device refused {service.split(':', 1)[0]}: {exc}") from None
            except (TransportError, StreamError) as exc:
                if attempt:
                    raise EnvError(f"device {serial} failed again right after reconnecting ({exc})",
                                   reason="device_lost") from None
                self._recover(str(exc))
                if isinstance(exc, StreamError) and not replay_safe:
                    raise ActionError(f"the connection to the device dropped during the action ({exc}); "
                                      "it may or may not have happened: look at the screen") from None
        raise AssertionError("unreachable")

    def _recover(self, why: str) -> None:
        """Bring the device back within `reconnect_tries`, or raise EnvError(device_lost)."""
        serial = self.serial or self.requested_serial or "?"
        tcp = bool(_SERIAL_HOST_PORT.match(serial))
        tries = max(1, self.reconnect_tries)
        t0 = time.monotonic()
        state = "unknown"
        for i in range(tries):
            if i:
                time.sleep(min(self.reconnect_delay * 2 ** (i - 1), 5.0))
            try:
                state = self._state(serial)
                if state == "device" and self._probe(serial):
                    break
                if tcp:
                    # The server may still list a dead TCP device as "device" or "offline":
                    # drop it and dial again.
                    state = self._connect(serial, fresh=state != "absent")[0]
                    if state == "device" and self._probe(serial):
                        break
            except EnvError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure here is one more failed try
                state = f"{state}; {exc}"
        else:
            raise EnvError(
                f"device {serial} was lost ({why}) and did not come back after {tries} reconnect attempts "
                f"in {time.monotonic() - t0:.1f} s (last state: {state})", reason="device_lost")
        self.reconnects += 1
        self._geometry = None  # it may have come back with another size or rotation

    def _probe(self, serial: str) -> bool:
        from guiagent.envs.adb_wire import call

        try:
            call(self.adb_host, self.adb_port, serial, "shell:true", timeout=min(5.0, self.command_timeout))
            return True
        except Exception:  # noqa: BLE001 - not answering, whatever the reason
            return False

    def service(self, service: str, *, replay_safe: bool = True) -> bytes:
        """The raw reply of one adb service on the device (e.g. ``root:``), with device-loss recovery."""
        return self._service(service, replay_safe=replay_safe)

    def shell(self, command: str, *, replay_safe: bool = True) -> ShellResult:
        """Run a shell command line on the device (shell v2, with exit status, when the device has it)."""
        from guiagent.envs.adb_wire import ShellResult, parse_shell_v2

        self._ensure()
        if "shell_v2" in self.features:
            return parse_shell_v2(self._service("shell,v2,raw:" + command, replay_safe=replay_safe))
        return ShellResult(self._service("shell:" + command, replay_safe=replay_safe), b"", None)

    def _run(self, command: str, *, replay_safe: bool = False) -> ShellResult:
        result = self.shell(command, replay_safe=replay_safe)
        # Without shell v2 there is no exit status: judge by what Android's tools print.
        failed = result.returncode not in (0, None) or b"Exception occurred" in result.stdout + result.stderr or (
            result.returncode is None and re.search(rb"^(Error|Exception)\b", result.stdout, re.M) is not None)
        if failed:
            raise ActionError(f"`{command[:120]}` failed on the device: {result.text.strip()[:300]}")
        return result

    # ------------------------------------------------------------ observe

    def _capture(self, path: str) -> Image:
        """One screenshot by `path`, retried on a transient failure (empty or corrupt capture)."""
        last: Exception | None = None
        for attempt in range(3):
            data = self._service("exec:screencap -p" if path == "png" else "exec:screencap", replay_safe=True)
            self._new_frame = self._last_bytes.get(path) != data
            self._last_bytes[path] = data
            prev = self._last_capture
            if prev is not None and prev[0] == path and prev[1] == data:
                # The same bytes as last time: the screen has not changed (settle polls end
                # this way), so skip decoding; a copy keeps callers from sharing one image.
                return prev[2].copy()
            try:
                img = decode_png(data) if path == "png" else decode_raw(data)
            except Exception as exc:  # noqa: BLE001 - PIL raises several types for a bad image
                last = exc
                time.sleep(0.1 * (attempt + 1))
                continue
            self._last_capture = (path, data, img)
            return img.copy()
        raise EnvError(f"screencap kept failing on {self.serial} ({path}: {last})", reason="env_error")

    def _screenshot(self) -> tuple[Image, str]:
        if self.capture_path != "auto":
            return self._learned(self.capture_path) if self._auto else (self._capture(self.capture_path),
                                                                          self.capture_path)
        # First observation: capture both ways once to warm up (the first capture of a
        # screen can include rendering), then time one more of each and keep the faster.
        shot: tuple[Image, str] | None = None
        for round_ in range(2):
            for path in ("png", "raw"):
                if self.capture_timings.get(path) == float("inf"):
                    continue
                t = time.perf_counter()
                try:
                    shot = self._capture(path), path
                except EnvError:
                    self.capture_timings[path] = float("inf")
                    continue
                if round_:
                    self.capture_timings[path] = time.perf_counter() - t
        if shot is None:
            raise EnvError(f"screencap fails on {self.serial} with both PNG and raw output", reason="env_error")
        self.capture_path = cast(CapturePath, min(self.capture_timings, key=self.capture_timings.__getitem__))
        return shot

    def _learned(self, current: str) -> tuple[Image, str]:
        """Auto mode after the first observation: keep the path that is faster on new frames.

        The first choice was timed on one unchanged screen, where a phone may answer from a cache
        (the simphone keeps its last PNG); a step after an action usually sees a new frame, whose
        cost can rank the paths the other way. So a path without a new-frame time is tried on the
        next observations, the other one again every `REPROBE_EVERY`, and the faster is kept.
        """
        self._observations += 1
        other = "raw" if current == "png" else "png"
        usable = self.capture_timings.get(other) != float("inf")
        path = current
        if usable and current in self.new_frame_timings and (
                other not in self.new_frame_timings or self._observations % REPROBE_EVERY == 0):
            path = other
        t = time.perf_counter()
        img = self._capture(path)
        if self._new_frame:
            took, prev = time.perf_counter() - t, self.new_frame_timings.get(path)
            # smoothed: one capture's time is noisy (the phone's own rendering varies frame to frame)
            self.new_frame_timings[path] = took if prev is None else prev + 0.3 * (took - prev)
            t_png, t_raw = self.new_frame_timings.get("png"), self.new_frame_timings.get("raw")
            if t_png is not None and t_raw is not None:
                self.capture_path = "png" if t_png <= t_raw else "raw"
        return img, path

    def geometry(self, refresh: bool = False) -> tuple[int, int, int]:
        """(width, height, rotation) of the display in input coordinates."""
        if self._geometry is None or refresh:
            sizes = self.shell("wm size").text
            try:
                physical, override = parse_wm_size(sizes)
            except ValueError as exc:
                raise EnvError(f"device {self.serial}: {exc}", reason="env_error") from None
            rotation = parse_rotation(self.shell("dumpsys display").text) or 0
            w, h = override or physical
            if rotation % 2:
                w, h = h, w
            self._geometry = (w, h, rotation)
            self._geometry_at = time.monotonic()
        return self._geometry

    def observe(self) -> Screenshot:
        from guiagent.tools.frame import Screenshot, ScreenSpace

        self._ensure()
        img, path = self._screenshot()
        stale = (self._geometry is None or img.size != self._last_image_size
                 or time.monotonic() - self._geometry_at > self.geometry_ttl)
        w, h, rotation = self.geometry(refresh=stale)
        if abs(img.width / w - img.height / h) > 0.02 and not stale:
            # The picture's shape disagrees with what we knew: the display changed.
            w, h, rotation = self.geometry(refresh=True)
        self._last_image_size = img.size
        return Screenshot(image=img, screen=ScreenSpace(width=w, height=h, scale=img.width / w),
                          meta={"rotation": rotation, "capture": path, "serial": self.serial})

    # ------------------------------------------------------------ execute

    def execute(self, action: Action) -> None:
        from guiagent.tools.actions import Click, LongPress, MobileKey, MobileType, Open, Swipe, SystemButton

        self._ensure()
        if isinstance(action, Click):
            self._run(tap_command(*action.coordinate))
        elif isinstance(action, LongPress):
            x, y = action.coordinate
            self._run(swipe_command(x, y, x, y, int(action.time * 1000)))
        elif isinstance(action, Swipe):
            self._run(swipe_command(*action.coordinate, *action.coordinate2, self.swipe_ms))
        elif isinstance(action, MobileType):
            self.type_text(action.text)
        elif isinstance(action, MobileKey):
            try:
                code = keycode(action.text)
            except UnknownKey as exc:
                raise ActionError(str(exc)) from None
            self._run(keyevent_command(code))
        elif isinstance(action, SystemButton):
            self._run(keyevent_command(SYSTEM_BUTTONS[action.button]))
        elif isinstance(action, Open):
            self.open_app(action.text)
        else:
            raise ActionError(f"the android env does not execute {action.action!r} actions "
                              "(wait, terminate and answer are handled by the agent)")

    def type_text(self, text: str) -> None:
        """Type into the focused field: `input text` for ASCII, the ADBKeyboard broadcast otherwise.

        A line break (CR LF, CR or LF) is one Enter.
        """
        text = normalize_newlines(text)
        if not text:
            return
        if is_input_text_safe(text):
            for line in batch(text_commands(text)):
                self._run(line)
            return
        self._type_with_ime(text)

    def _type_with_ime(self, text: str) -> None:
        sample = "".join(ch for ch in text if not (" " <= ch <= "~"))[:10]
        enabled = self.shell("ime list -s").text.split()
        if ADB_IME not in enabled:
            if ADB_IME not in self.shell("ime list -a -s").text.split():
                raise ActionError(f"cannot type non-ASCII text ({sample!r}): adb's `input text` only types ASCII "
                                  f"and the device has no ADBKeyboard input method; {ADB_KEYBOARD_HELP}")
            self._run(f"ime enable {ADB_IME}", replay_safe=True)
        current = self.shell("settings get secure default_input_method").text.strip()
        switched = current != ADB_IME
        if switched:
            self._run(f"ime set {ADB_IME}", replay_safe=True)
            if self.ime_switch_delay:
                time.sleep(self.ime_switch_delay)  # the IME binds to the focused field
        try:
            for start in range(0, len(text), MAX_TEXT_CHUNK):
                self._run(ime_broadcast_command(text[start:start + MAX_TEXT_CHUNK]))
        finally:
            if switched and current and current != "null":
                self.shell(f"ime set {shlex.quote(current)}")

    def launcher_apps(self, max_age: float = 60.0) -> tuple[list[LauncherApp], list[str]]:
        """(launcher apps, installed packages), cached for `max_age` seconds."""
        from guiagent.envs.android_apps import LAUNCHER_QUERY, parse_packages, parse_query_activities

        if self._apps is None or time.monotonic() - self._apps[0] > max_age:
            apps = parse_query_activities(self.shell(LAUNCHER_QUERY).text)
            packages = parse_packages(self.shell("pm list packages").text)
            self._apps = (time.monotonic(), apps, packages)
        return self._apps[1], self._apps[2]

    def open_app(self, name: str) -> str:
        """Launch the app `name` means (see `envs.android_apps`); returns its package."""
        from guiagent.envs.android_apps import NoSuchApp, resolve

        apps, packages = self.launcher_apps()
        try:
            package, app = resolve(name, apps, packages)
        except NoSuchApp as exc:
            raise ActionError(str(exc)) from None
        result = self.shell(launch_command(package), replay_safe=False)
        if result.returncode not in (0, None) or b"No activities found" in result.stdout + result.stderr:
            if app is None:
                raise ActionError(f"{package} has no launcher activity to open")
            self._run(f"am start -n {shlex.quote(app.component)}")
        return package

    # ------------------------------------------------------------ the rest

    def describe(self) -> dict:
        """Device facts for the trajectory; never raises (a failing device shows as an error field)."""
        info: dict = {"env": self.name, "serial": self.serial or self.requested_serial,
                      "adb_server": f"{self.adb_host}:{self.adb_port}", "screenshot": self.capture_path}
        try:
            self._ensure()
            props = self.shell("getprop ro.product.model; getprop ro.build.version.release; "
                               "getprop ro.build.version.sdk").text.splitlines()
            props += [""] * (3 - len(props))
            w, h, rotation = self.geometry()
        except (EnvError, ActionError) as exc:
            info["error"] = str(exc)
            return info
        info.update(serial=self.serial, model=props[0].strip(), android=props[1].strip(), sdk=props[2].strip(),
                    screen=[w, h], rotation=rotation)
        return info

    def close(self) -> None:
        """Nothing stays open between calls: each one is its own adb server connection."""


# ---------------------------------------------------------------------------- probe (guiagent doctor)

START_ADB = ("adb start-server (Debian/Ubuntu: apt install adb; elsewhere: Android SDK platform-tools); "
             "for the simulated phone: guiagent simphone, then adb connect 127.0.0.1:PORT")
_STATE_FIX = {
    "unauthorized": "unlock the phone and accept 'Allow USB debugging?'; no prompt: revoke USB debugging "
                    "authorizations in Developer options, then adb kill-server && adb start-server",
    "offline": "adb reconnect offline (or replug the cable; over TCP: adb disconnect SERIAL && adb connect SERIAL)",
    "no permissions": "add a udev rule for the phone (Debian: apt install android-sdk-platform-tools-common) "
                      "and replug",
}


def adb_server_address() -> tuple[str, int]:
    """The adb server's host and port, from the same variables adb and adbutils read."""
    import os

    host = os.environ.get("ANDROID_ADB_SERVER_HOST") or os.environ.get("ANDROID_ADB_SERVER_ADDRESS") or "127.0.0.1"
    port = os.environ.get("ANDROID_ADB_SERVER_PORT", "5037")
    return host, int(port) if port.isdigit() else 5037


def check_adb_server(required: bool = False) -> tuple[CheckResult, Any]:
    """Whether an adb server answers; never starts one. Returns (result, adbutils client or None)."""
    import socket

    from guiagent.tools.checks import ANDROID, NETWORK_TIMEOUT, first_line, results_for, severity

    r = results_for(ANDROID)
    host, port = adb_server_address()
    try:
        # A plain socket first: adbutils would run `adb start-server` on a refused connection.
        with socket.create_connection((host, port), timeout=NETWORK_TIMEOUT):
            pass
    except OSError as exc:
        why = "connection refused" if isinstance(exc, ConnectionRefusedError) else first_line(exc)
        return r("adb server", severity(required), f"no adb server on {host}:{port} ({why})", START_ADB), None
    try:
        import adbutils

        client = adbutils.AdbClient(host=host, port=port, socket_timeout=NETWORK_TIMEOUT)
        version = client.server_version()
    except Exception as exc:  # noqa: BLE001 - AdbError, AdbTimeout, socket errors
        return r("adb server", "FAIL", f"{host}:{port} accepts connections but does not answer as adb "
                 f"({first_line(exc)})", "adb kill-server && adb start-server"), None
    return r("adb server", "OK", f"protocol {version} on {host}:{port}"), client


def check_devices(client: Any, required: bool = False, serial: str | None = None) -> tuple[list[CheckResult], list[Any]]:
    """The device list as a whole: (problems with it, the devices to check one by one)."""
    from guiagent.tools.checks import ANDROID, first_line, results_for, severity

    r = results_for(ANDROID)
    try:
        devices = client.list()
    except Exception as exc:  # noqa: BLE001
        return [r("devices", "FAIL", f"cannot list devices ({first_line(exc)})", "adb kill-server && adb "
                  "start-server")], []
    if not devices:
        return [r("devices", severity(required), "no device attached",
                  "enable USB debugging and plug the phone in; Wi-Fi/emulator: adb connect HOST:PORT; simulated "
                  "phone: guiagent simphone")], []
    out = []
    if serial:
        if serial not in {d.serial for d in devices}:
            out.append(r("devices", "FAIL", f"{serial} is not attached; attached: "
                         + ", ".join(f"{d.serial} ({d.state})" for d in devices),
                         f"adb connect {serial} (network devices) or pick one of the serials above"))
        devices = [d for d in devices if d.serial == serial]
    online = sum(1 for d in devices if d.state == "device")
    if required and not serial and online > 1:
        out.append(r("devices", "WARN", f"{online} devices online; `--env android` needs to know which",
                     "name one: --env android:SERIAL"))
    return out, devices


def check_device_state(device: Any) -> CheckResult:
    """A device is usable only in state "device" (not unauthorized, offline, recovery ...)."""
    from guiagent.tools.checks import ANDROID, results_for

    r = results_for(ANDROID)
    if device.state == "device":
        return r("device", "OK", f"{device.serial}: online")
    return r("device", "FAIL", f"{device.serial}: state {device.state!r}",
             _STATE_FIX.get(device.state, "reboot the phone into normal mode (adb reboot)"))


def check_device_screen(client: Any, serial: str) -> CheckResult:
    """`wm size`: physical size and any override."""
    from guiagent.tools.checks import ANDROID, NETWORK_TIMEOUT, first_line, results_for

    r = results_for(ANDROID)
    try:
        text = client.device(serial).shell("wm size", timeout=NETWORK_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        return r("screen size", "FAIL", f"{serial}: `wm size` failed ({first_line(exc)})", f"adb -s {serial} reconnect")
    sizes = dict(re.findall(r"(Physical|Override) size:\s*(\d+x\d+)", text))
    if "Physical" not in sizes:
        return r("screen size", "FAIL", f"{serial}: `wm size` said {text.strip()[:120]!r}", "check the device is booted")
    extra = f" (override {sizes['Override']}: screenshots and taps use it)" if "Override" in sizes else ""
    return r("screen size", "OK", f"{serial}: {sizes['Physical']}{extra}")


def check_device_ime(client: Any, serial: str) -> CheckResult:
    """An input method that can type non-ASCII text (ADBKeyboard) is enabled."""
    from guiagent.tools.checks import ANDROID, NETWORK_TIMEOUT, first_line, results_for

    r = results_for(ANDROID)
    try:
        text = client.device(serial).shell("ime list -s", timeout=NETWORK_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        return r("input method", "WARN", f"{serial}: `ime list -s` failed ({first_line(exc)})")
    if ADB_IME in text.split():
        return r("input method", "OK", f"{serial}: ADBKeyboard enabled: non-ASCII text can be typed")
    return r("input method", "WARN", f"{serial}: ADBKeyboard is not enabled: only ASCII text can be typed "
             "(`adb shell input text` cannot type é or 中文)",
             f"install ADBKeyboard.apk (github.com/senzhk/ADBKeyBoard): adb -s {serial} install ADBKeyboard.apk && "
             f"adb -s {serial} shell ime enable {ADB_IME}")


def probe(required: bool = False, serial: str | None = None) -> list[CheckResult]:
    """This machine's Android checks without starting an env (nor an adb server): the adb server, the devices,
    and per online device its state, screen size and input method.

    `required` (the user asked for ``--env android``) makes a missing part FAIL instead of WARN; `serial`
    (``android:SERIAL``) must be attached."""
    server, client = check_adb_server(required)
    out = [server]
    if client is None:
        return out
    problems, devices = check_devices(client, required, serial)
    out += problems
    for d in devices:
        out.append(check_device_state(d))
        if d.state == "device":
            out += [check_device_screen(client, d.serial), check_device_ime(client, d.serial)]
    return out
