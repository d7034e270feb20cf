"""The desktop env: screenshots with mss, mouse and keyboard with pyautogui (X11 first).

Coordinates that reach `execute` are already in screen units: pyautogui's logical
points in the global (all-monitor) space, the monitor origin included. `observe`
reports that space in `Screenshot.screen` so the agent's `Frame` can map the
model's pixels onto it; on X11 (and Xvfb) a logical point is one pixel, scale 1.0.

Input rules chosen here (the cookbook leaves them open):

* ``key``: the keys are pressed in order and released in reverse. The names are the
  canonical ones of `guiagent.tools.keys` (the Key action resolved the model's spelling);
  `PYAUTOGUI_KEYS` maps them to pyautogui's names, and every key is checked before
  anything is pressed (a key this keyboard lacks is refused, never dropped silently).
* ``type``: a line break (CR LF, CR or LF) is one Enter; printable ASCII (plus
  newline and tab) goes through pyautogui; any other
  character makes the whole text go through ``xdotool type`` on X11, because
  pyautogui silently drops non-ASCII characters.
* ``scroll``: `pixels` becomes wheel clicks, one click per `pixels_per_click`
  (default 100 px, about one wheel notch in GTK, Qt and Chromium), rounded half
  up, at least one click in the sign's direction and at most `max_scroll_clicks`;
  positive scrolls up. ``pixels_per_click=1`` reproduces OSWorld's Qwen agent,
  which passes `pixels` to ``pyautogui.scroll`` as clicks.
* ``left_click_drag``: from the current pointer to the coordinate (button down,
  a `drag_duration` move so toolkits see motion events, button up).
* the fail-safe: the run stops (EnvError, reason "failsafe") when the pointer is in
  a screen corner that the env did not put it in, i.e. the user slammed the mouse
  into a corner. pyautogui's own check is switched off because it also fires after
  the model legitimately clicks a corner pixel.
* settling: with ``settle=True`` the first `observe` after an action waits until
  the screen has not changed for `settle_quiet` seconds (default 50 ms, three frames
  at 60 Hz; at most `settle_timeout`), comparing the raw captures (about 1 ms at
  1080p, no RGB conversion). This adaptive wait replaces pyautogui's fixed 0.1 s
  pause after every call, which is why ``pyautogui.PAUSE`` is set to 0. A loop that
  settles by itself creates the env with ``settle=False`` (see `settles`).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import shutil
import string
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.envs.base import CHANGED_KEY, SEQ_KEY, ActionError, Env, EnvError
from guiagent.tools.keys import UnknownKey, normalize_newlines, resolve_chord

if TYPE_CHECKING:
    from guiagent.tools.actions import Action
    from guiagent.tools.checks import CheckResult
    from guiagent.tools.frame import Screenshot

XDOTOOL_INSTALL_HINT = "install xdotool (apt install xdotool / dnf install xdotool / pacman -S xdotool)"
# Characters pyautogui can type on X11; anything else goes through xdotool.
_PRINTABLE = string.ascii_letters + string.digits + string.punctuation + " "
_PYAUTOGUI_TEXT = frozenset(_PRINTABLE + "\n\t")

# canonical key (guiagent.tools.keys) -> pyautogui name; printable characters are their own names.
# Only keys pyautogui can press on X11 are here (its media keys map to nothing there).
PYAUTOGUI_KEYS: dict[str, str] = {
    "ctrl": "ctrl", "ctrl_r": "ctrlright", "alt": "alt", "alt_r": "altright", "shift": "shift",
    "shift_r": "shiftright", "super": "win", "super_r": "winright",  # Super_L/R: Mod4 on Xvfb's keymap
    "capslock": "capslock", "numlock": "numlock", "scrolllock": "scrolllock",
    "enter": "enter", "esc": "esc", "tab": "tab", "space": "space", "backspace": "backspace",
    "delete": "delete", "insert": "insert", "home": "home", "end": "end", "pageup": "pageup",
    "pagedown": "pagedown", "up": "up", "down": "down", "left": "left", "right": "right",
    "printscreen": "printscreen", "pause": "pause", "menu": "apps", "help": "help",
    **{f"kp_{i}": f"num{i}" for i in range(10)},
    "kp_add": "add", "kp_subtract": "subtract", "kp_multiply": "multiply", "kp_divide": "divide",
    "kp_decimal": "decimal",
    **{f"f{i}": f"f{i}" for i in range(1, 25)},
    **{c: c for c in _PRINTABLE if c != " "},
}


_X_BUTTONS = {"left": 1, "middle": 2, "right": 3}


def _keep_pillow_blocks(blocks: int = 16) -> None:
    """Let Pillow reuse freed image memory instead of returning it to the system after every image.

    By default Pillow keeps no freed blocks, so every screenshot's RGB image is fresh memory
    that the kernel must zero page by page: measured at 1080p on a loaded 2-core machine,
    8.5 ms of a 10.6 ms conversion. A few kept blocks (16 MiB each at most) make it 1.8 ms. A
    value set by the user (PILLOW_BLOCKS_MAX) is left alone.
    """
    if "PILLOW_BLOCKS_MAX" in os.environ:
        return
    from PIL import Image

    core: Any = Image.core
    if core.get_blocks_max() < blocks:
        core.set_blocks_max(blocks)


def wheel_clicks(pixels: float, pixels_per_click: float = 100.0, max_clicks: int = 50) -> int:
    """Wheel clicks for a cookbook `pixels` amount (positive = up); see the module docstring."""
    if pixels == 0:
        return 0
    n = min(max_clicks, max(1, int(abs(pixels) / pixels_per_click + 0.5)))
    return n if pixels > 0 else -n


class DesktopEnv(Env):
    """A real desktop (or Xvfb) seen through mss and driven with pyautogui.

    `monitor`: None or 0 = the whole virtual screen (every monitor), N = mss
    monitor N (1 = the primary). Raises EnvError when there is no usable X11
    display and ValueError for a monitor that does not exist.
    """

    space = "computer_use"
    name = "desktop"

    def __init__(
        self,
        monitor: int | None = None,
        settle: bool = True,
        *,
        failsafe: bool = True,
        settle_quiet: float = 0.05,
        settle_timeout: float = 1.0,
        settle_poll: float = 0.01,
        pixels_per_click: float = 100.0,
        max_scroll_clicks: int = 50,
        drag_duration: float = 0.2,
        type_delay_ms: int = 50,
        text_input: str = "auto",
    ) -> None:
        if pixels_per_click <= 0:
            raise ValueError("pixels_per_click must be positive")
        self.settle = settle
        self.failsafe = failsafe
        self.settle_quiet = settle_quiet
        self.settle_timeout = settle_timeout
        self.settle_poll = settle_poll
        self.pixels_per_click = pixels_per_click
        self.max_scroll_clicks = max_scroll_clicks
        self.drag_duration = drag_duration
        # xdotool types a character with no key by binding its keysym to a spare keycode, then
        # unbinding it; an app that has not read the key event before the unbinding gets no
        # character. Measured with both cores saturated by other work: at 5 ms 4 runs in 8 lost a
        # character, at 30-50 ms about 1 in 30.
        self.type_delay_ms = type_delay_ms
        if text_input not in ("auto", "xdotool", "clipboard"):
            raise ValueError(f"text_input must be auto, xdotool or clipboard, not {text_input!r}")
        self.text_input = text_input

        self._x11 = sys.platform.startswith("linux")
        self.display = os.environ.get("DISPLAY", "")
        if self._x11:
            _check_x11_session()
            _ensure_xauthority()
            _probe_display(self.display)
        self._pg = _import_pyautogui(self.display if self._x11 else None)
        self._untypable = _repair_x11_char_keys(self._pg) if self._x11 else set()
        # The settle wait replaces the fixed pause; the env does its own fail-safe check.
        self._pg.PAUSE = 0
        self._pg.FAILSAFE = False

        self._lock = threading.Lock()
        self._local = threading.local()
        self._handles: list[Any] = []
        self._acted_at: float | None = None
        self._placed: tuple[int, int] | None = None  # where the env last put the pointer
        self._last_raw: Any = None  # the previous observation's raw capture (for `changed`)
        self._seq = 0  # observations so far (Screenshot.meta[SEQ_KEY])
        _keep_pillow_blocks()

        monitors = self._call_mss(lambda s: s.monitors)
        self.monitors: list[dict] = [dict(m) for m in monitors]
        # default: the primary monitor (mss index 1); 0 is the whole virtual screen
        index = (1 if len(monitors) > 1 else 0) if monitor is None else monitor
        if not isinstance(index, int) or not 0 <= index < len(self.monitors):
            listing = "; ".join(f"{i} = {_geom(m)}" + (" (all monitors)" if i == 0 else "")
                                for i, m in enumerate(self.monitors))
            raise ValueError(f"monitor {monitor!r} does not exist; this display has: {listing}")
        self.monitor = index
        self._region = {k: self.monitors[index][k] for k in ("left", "top", "width", "height")}

        # Logical units: pyautogui's size of the virtual screen; mss geometry is divided by
        # the ratio (1 on X11 and DPI-aware Windows, where both count pixels).
        vw, vh = self._pg.size()
        self._virtual = (int(vw), int(vh))
        ratio = self.monitors[0]["width"] / vw
        if index == 0:
            self.width, self.height = int(vw), int(vh)
        else:
            self.width = round(self._region["width"] / ratio)
            self.height = round(self._region["height"] / ratio)
        self.origin_x = round(self._region["left"] / ratio)
        self.origin_y = round(self._region["top"] / ratio)
        self._corners = {(0, 0), (0, int(vh) - 1), (int(vw) - 1, 0), (int(vw) - 1, int(vh) - 1)}
        shot = self._grab()  # fail now, not at step 1, if capture does not work
        self.scale = shot.size[0] / self.width

    @property
    def settles(self) -> bool:
        """True when `observe` itself waits for the screen to settle after an action,
        so a loop can skip its own settle polling for this env."""
        return self.settle

    # ------------------------------------------------------------------ observe

    def observe(self) -> Screenshot:
        """Capture the monitor; after an action, first wait for the screen to settle."""
        from guiagent.tools.frame import Screenshot, ScreenSpace
        from PIL import Image

        t0 = time.perf_counter()
        shot = self._grab()
        settled, settle_s = True, 0.0
        if self.settle and self._acted_at is not None:
            # The grab whose pixels are returned (the last one) is the capture; the grabs before it
            # (the first comes while the app still repaints after the action) are the settle wait.
            grab_s = time.perf_counter() - t0
            shot, settled, last_grab_s = self._settle(shot, self._acted_at, grab_s)
            settle_s = max(0.0, time.perf_counter() - t0 - last_grab_s)
        self._acted_at = None
        previous, self._last_raw = self._last_raw, shot.raw
        # a memcmp of the raw captures (about 1 ms at 1080p): the loop's stall rule reads it
        # instead of building a difference image
        changed = None if previous is None else previous != shot.raw
        self._seq += 1
        w, h = shot.size
        # One pass from the X server's BGRX layout to RGB, no intermediate copies.
        image = Image.frombuffer("RGB", (w, h), shot.raw, "raw", "BGRX", 0, 1)
        screen = ScreenSpace(width=self.width, height=self.height, scale=w / self.width,
                             origin_x=self.origin_x, origin_y=self.origin_y)
        meta = {"monitor": self.monitor, "settled": settled, "settle_s": round(settle_s, 4),
                "capture_s": round(time.perf_counter() - t0, 4), SEQ_KEY: self._seq}
        if changed is not None:
            meta[CHANGED_KEY] = changed
        return Screenshot(image=image, screen=screen, meta=meta)

    def _settle(self, shot: Any, acted_at: float, grab_s: float) -> tuple[Any, bool, float]:
        # Wait until the pixels stayed the same for settle_quiet seconds after the action.
        # The mouse cursor is not captured, so pointer moves do not count as changes.
        # Returns (the last capture, settled, how long that capture's grab took).
        last_change = acted_at
        while True:
            now = time.perf_counter()
            if now - last_change >= self.settle_quiet:
                return shot, True, grab_s
            if now - acted_at >= self.settle_timeout:
                return shot, False, grab_s
            time.sleep(min(self.settle_poll, max(0.0, self.settle_quiet - (now - last_change))))
            t = time.perf_counter()
            newer = self._grab()
            grab_s = time.perf_counter() - t
            if newer.raw != shot.raw:
                last_change = time.perf_counter()
            shot = newer

    def _grab(self) -> Any:
        return self._call_mss(lambda s: s.grab(self._region))

    def _call_mss(self, fn: Any) -> Any:
        # One retry on a fresh handle while the X server is alive: a capture can fail transiently
        # (a broken connection); a dead display fails at once.
        for attempt in range(2):
            try:
                return fn(self._sct())
            except EnvError:
                raise
            except Exception as exc:  # noqa: BLE001 - mss raises ScreenShotError and ctypes/xcb errors alike
                if attempt == 0 and _display_alive(self.display):
                    self._local.sct = None
                    time.sleep(0.05)
                    continue
                raise EnvError(f"screen capture failed on display {self.display!r} ({exc}); "
                               "the X server is gone or refuses capture", reason="display_lost") from None
        raise AssertionError("unreachable")

    def _sct(self) -> Any:
        # One mss handle per thread: older mss versions must not share one across threads.
        sct = getattr(self._local, "sct", None)
        if sct is None:
            try:
                sct = open_mss()
            except Exception as exc:  # noqa: BLE001
                raise EnvError(f"cannot open the screen for capture on {self.display!r}: {exc}",
                               reason="display_lost") from None
            self._local.sct = sct
            with self._lock:
                self._handles.append(sct)
        return sct

    # ------------------------------------------------------------------ execute

    def execute(self, action: Action) -> None:
        """Perform one computer_use action whose coordinates are screen units."""
        from guiagent.tools.actions import ACTIONS

        kind = getattr(action, "action", None)
        if kind in ("wait", "terminate"):
            raise ActionError(f"action {kind!r} is handled by the agent and never sent to an env")
        if kind not in ACTIONS["computer_use"] or not isinstance(action, ACTIONS["computer_use"][kind]):
            raise ActionError(f"action {kind!r} is not a computer_use action; the desktop env cannot run it")
        handler = getattr(self, f"_do_{kind}")
        try:
            self._check_failsafe()
            handler(action)
        except (ActionError, EnvError):
            raise
        except Exception as exc:  # noqa: BLE001 - python-xlib raises odd types when the server dies
            if self._x11 and not _display_alive(self.display):
                raise EnvError(f"lost the X display {self.display!r} while running {kind} "
                               f"({type(exc).__name__}: {exc})", reason="display_lost") from None
            raise
        finally:
            self._acted_at = time.perf_counter()

    def _point(self, coordinate: Any) -> tuple[int, int]:
        x, y = (int(v + 0.5) if v >= 0 else -int(-v + 0.5) for v in coordinate)
        if not (self.origin_x <= x < self.origin_x + self.width and self.origin_y <= y < self.origin_y + self.height):
            raise ActionError(
                f"coordinate ({x}, {y}) is outside the screen: x must be in {self.origin_x}.."
                f"{self.origin_x + self.width - 1} and y in {self.origin_y}..{self.origin_y + self.height - 1}")
        return x, y

    def _move(self, coordinate: Any) -> None:
        if coordinate is not None:
            x, y = self._point(coordinate)
            self._pg.moveTo(x, y)
            self._placed = (x, y)

    def _click(self, action: Any, button: str, clicks: int = 1) -> None:
        if self._x11 and self._xtest_click(action.coordinate, button, clicks):
            return
        self._move(action.coordinate)
        self._pg.click(button=button, clicks=clicks, interval=0.0)

    def _xtest_click(self, coordinate: Any, button: str, clicks: int) -> bool:
        """The click as XTest events on pyautogui's own X connection, with one round trip.

        pyautogui waits for the server after each event and asks for the pointer position
        twice more: about 9 round trips per click, 4-7 ms of a loaded machine. The events
        (move, then press and release per click) are the ones pyautogui sends. False when
        pyautogui's X11 backend is not there (then pyautogui clicks).
        """
        backend = getattr(self._pg, "platformModule", None)
        display, fake_input = getattr(backend, "_display", None), getattr(backend, "fake_input", None)
        if display is None or fake_input is None:
            return False
        from Xlib import X

        code = _X_BUTTONS[button]
        if coordinate is not None:
            x, y = self._point(coordinate)
            fake_input(display, X.MotionNotify, x=x, y=y)
            self._placed = (x, y)
        for _ in range(clicks):
            fake_input(display, X.ButtonPress, code)
            fake_input(display, X.ButtonRelease, code)
        display.sync()
        return True

    def _do_left_click(self, action: Any) -> None:
        self._click(action, "left")

    def _do_right_click(self, action: Any) -> None:
        self._click(action, "right")

    def _do_middle_click(self, action: Any) -> None:
        self._click(action, "middle")

    def _do_double_click(self, action: Any) -> None:
        self._click(action, "left", clicks=2)

    def _do_mouse_move(self, action: Any) -> None:
        self._move(action.coordinate)

    def _do_left_click_drag(self, action: Any) -> None:
        x, y = self._point(action.coordinate)
        self._pg.mouseDown(button="left")
        try:
            self._pg.moveTo(x, y, duration=self.drag_duration)
            self._placed = (x, y)
        finally:
            self._pg.mouseUp(button="left")

    def _do_scroll(self, action: Any) -> None:
        self._move(action.coordinate)
        clicks = wheel_clicks(action.pixels, self.pixels_per_click, self.max_scroll_clicks)
        if clicks:
            self._pg.scroll(clicks)

    def pyautogui_keys(self, keys: list[str]) -> list[str]:
        """pyautogui names of a chord, in pressing order; ActionError for a key this keyboard lacks."""
        try:
            chord = resolve_chord(keys)  # a no-op for a validated Key, whose keys are canonical
        except UnknownKey as exc:
            raise ActionError(str(exc)) from None
        table = getattr(getattr(self._pg, "platformModule", None), "keyboardMapping", None)
        names: list[str] = []
        for key in chord:
            name = PYAUTOGUI_KEYS.get(key)
            if name is None:
                raise ActionError(f"key {key!r} cannot be pressed on a desktop (it is a phone key)")
            if table is not None and not table.get(name):
                raise ActionError(f"this keyboard has no {key!r} key")
            names.append(name)
        return names

    def _do_key(self, action: Any) -> None:
        keys = self.pyautogui_keys(list(action.keys))  # raises before anything is pressed
        pressed: list[str] = []
        try:
            for k in keys:
                self._pg.keyDown(k)
                pressed.append(k)
        finally:
            for k in reversed(pressed):
                self._pg.keyUp(k)

    def _do_type(self, action: Any) -> None:
        text = normalize_newlines(action.text)
        if not text:
            return
        if "\x00" in text:
            raise ActionError("the text contains a NUL character, which no keyboard can type; leave it out")
        if all(self._typable(c) for c in text):
            self._pg.write(text, interval=0)
        elif self.text_input == "clipboard" or (
                self.text_input == "auto" and not (self._x11 and shutil.which("xdotool"))):
            self._paste(text)
        else:
            # Runs of keyboard characters go through pyautogui at full speed; only the rest pays
            # xdotool's per-character delay (see type_delay_ms).
            for typable, run in itertools.groupby(text, key=self._typable):
                chunk = "".join(run)
                if typable:
                    self._pg.write(chunk, interval=0)
                else:
                    self._xdotool_type(chunk)

    def _typable(self, c: str) -> bool:
        return c in _PYAUTOGUI_TEXT and c not in self._untypable

    def _paste(self, text: str) -> None:
        # pyautogui drops what it has no key for; where xdotool cannot type it, the text goes
        # through the clipboard and a paste chord (the application sees one paste, not keys).
        copy = _clipboard_command()
        if copy is None:
            hint = XDOTOOL_INSTALL_HINT if self._x11 else "no clipboard tool was found"
            raise ActionError(f"typing non-ASCII text needs xdotool or a clipboard tool (xclip/xsel); {hint}")
        try:
            # No pipes but stdin: xclip forks a child that keeps serving the selection, and a
            # captured stdout/stderr would wait for that child to exit.
            res = subprocess.run(copy, input=text.encode("utf-8"), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ActionError(f"copying the text to the clipboard failed: {exc}") from None
        if res.returncode != 0:
            raise ActionError(f"copying the text to the clipboard failed ({copy[0]} exit status {res.returncode})")
        self._await_clipboard(copy[0], text)
        self._pg.hotkey("command" if sys.platform == "darwin" else "ctrl", "v")

    @staticmethod
    def _await_clipboard(tool: str, text: str) -> None:
        # xclip/xsel return before their background child owns the selection; a paste sent in
        # that gap pastes the previous clipboard. Read it back until it is ours (bounded).
        read = {"xclip": ["xclip", "-selection", "clipboard", "-out"], "xsel": ["xsel", "--clipboard", "--output"]}
        if tool not in read:
            return  # pbcopy and Set-Clipboard have finished when they exit
        want = text.encode("utf-8")
        for _ in range(50):
            try:
                out = subprocess.run(read[tool], capture_output=True, timeout=2, check=False).stdout
            except (OSError, subprocess.TimeoutExpired):
                out = b""
            if out == want:
                return
            time.sleep(0.01)
        raise ActionError(f"the clipboard did not take the text ({tool}); is a clipboard manager interfering?")

    def _xdotool_type(self, text: str) -> None:
        exe = shutil.which("xdotool")
        if exe is None:
            raise ActionError(f"typing non-ASCII text needs xdotool, which is not installed; {XDOTOOL_INSTALL_HINT}")
        # An argument list, never a shell: the text is data, whatever it contains.
        cmd = [exe, "type", "--delay", str(self.type_delay_ms), "--", text]
        timeout = 10 + 3 * len(text) * self.type_delay_ms / 1000
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ActionError(f"xdotool type did not finish within {timeout:.0f} s") from None
        if res.returncode != 0:
            err = res.stderr.strip().splitlines()[-1:] or [f"exit status {res.returncode}"]
            if "open display" in res.stderr:
                raise EnvError(f"lost the X display {self.display!r}: xdotool says {err[0]}", reason="display_lost")
            raise ActionError(f"xdotool type failed: {err[0][:200]}")

    def _check_failsafe(self) -> None:
        if not self.failsafe:
            return
        pos = tuple(int(v) for v in self._pg.position())
        if pos in self._corners and pos != self._placed:
            raise EnvError(
                f"fail-safe: the mouse pointer is in a screen corner {pos}; the run was stopped. "
                "Move the pointer away from the corner to run again (or create the env with failsafe=False).",
                reason="failsafe")

    # ------------------------------------------------------------------ facts

    def describe(self) -> dict:
        return {
            "env": self.name,
            "display": self.display,
            "monitor": self.monitor,
            "geometry": dict(self._region),
            "screen": {"width": self.width, "height": self.height, "origin_x": self.origin_x,
                       "origin_y": self.origin_y},
            "scale": self.scale,
            "monitors": [_geom(m) for m in self.monitors],
        }

    def close(self) -> None:
        with self._lock:
            handles, self._handles = self._handles, []
        for sct in handles:
            with contextlib.suppress(Exception):
                sct.close()
        self._local = threading.local()


# ---------------------------------------------------------------------- session checks


def _check_x11_session() -> None:
    """Refuse Wayland and a missing DISPLAY with a message that says what to do."""
    display = os.environ.get("DISPLAY")
    wayland = os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    if not display and wayland:
        raise EnvError(_WAYLAND_MSG.format(how="WAYLAND_DISPLAY/XDG_SESSION_TYPE say so and DISPLAY is not set"),
                       reason="wayland")
    if not display:
        raise EnvError("no display: DISPLAY is not set; start X or use Xvfb (xvfb-run -s '-screen 0 1920x1080x24' "
                       "guiagent run ...), or export DISPLAY=:0 from a desktop session", reason="no_display")


_WAYLAND_MSG = (
    "Wayland session ({how}): Wayland is unsupported, because screenshots and synthetic input only reach "
    "X11 windows, so clicks would land in the wrong place; log in with an X11 session (e.g. 'Ubuntu on Xorg' "
    "on the login screen, or WaylandEnable=false in /etc/gdm3/custom.conf) or run under Xvfb (xvfb-run ...)"
)


def _ensure_xauthority() -> None:
    # Xlib raises XauthError when the Xauthority file is missing (typical on Xvfb);
    # an empty file lets it connect to a server that needs no cookie.
    path = os.environ.get("XAUTHORITY") or str(Path.home() / ".Xauthority")
    if os.path.exists(path):
        return
    from guiagent.envs.xvfb import empty_xauthority

    os.environ["XAUTHORITY"] = empty_xauthority()


@contextlib.contextmanager
def _quiet_stdout():
    # python-xlib prints "Xlib.xauth: warning, no xauthority details available" to
    # *stdout* on every connection, which would corrupt `guiagent locate`'s output.
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _probe_display(display: str) -> None:
    """Open the display once: a clear error for a dead DISPLAY, and refuse XWayland."""
    try:
        import Xlib.display
    except ImportError:
        raise EnvError("python-xlib is missing; reinstall guiagent (pip install pyautogui pulls it in)",
                       reason="no_display") from None
    try:
        with _quiet_stdout():
            d = Xlib.display.Display(display)
    except Exception as exc:  # noqa: BLE001 - DisplayConnectionError, XauthError, socket errors
        raise EnvError(f"no display: cannot open X display {display!r} ({exc}); is the X server running? "
                       "Start one or use Xvfb (xvfb-run ...)", reason="no_display") from None
    try:
        if d.query_extension("XWAYLAND") is not None:
            raise EnvError(_WAYLAND_MSG.format(how=f"{display} is XWayland"), reason="wayland")
        if d.query_extension("XTEST") is None:
            raise EnvError(f"X display {display!r} lacks the XTEST extension, needed for synthetic input",
                           reason="no_display")
    finally:
        d.close()


def _import_pyautogui(display: str | None) -> Any:
    with _quiet_stdout():
        try:
            import pyautogui
        except Exception as exc:  # noqa: BLE001
            raise EnvError(f"cannot load pyautogui for display {display!r}: {exc}", reason="no_display") from None
    if display is not None:
        bound = getattr(getattr(pyautogui, "platformModule", None), "_display", None)
        name = bound.get_display_name() if bound is not None else display
        if _display_key(name) != _display_key(display):
            raise EnvError(f"pyautogui in this process is bound to display {name!r} but DISPLAY is {display!r}; "
                           "pyautogui connects once per process, so use one display per process",
                           reason="display_mismatch")
    return pyautogui


def _display_key(name: str) -> str:
    host, _, rest = name.partition(":")
    return f"{host}:{rest.split('.')[0]}"


def _clipboard_command() -> list[str] | None:
    """A command that copies its UTF-8 stdin to the clipboard on this platform, if one exists."""
    if sys.platform == "darwin":
        return ["pbcopy"]
    if sys.platform == "win32":
        return ["powershell", "-NoProfile", "-Command",
                "[Console]::InputEncoding = [Text.Encoding]::UTF8; Set-Clipboard -Value ([Console]::In.ReadToEnd())"]
    if shutil.which("xclip"):
        return ["xclip", "-selection", "clipboard", "-in"]
    if shutil.which("xsel"):
        return ["xsel", "--clipboard", "--input"]
    return None


def _display_alive(display: str) -> bool:
    # Asked after an input call failed: python-xlib reports a dead server as
    # ConnectionClosedError, a socket error, or even a TypeError from its own error path.
    import Xlib.display

    try:
        with _quiet_stdout():
            Xlib.display.Display(display).close()
    except Exception:  # noqa: BLE001
        return False
    return True


def _repair_x11_char_keys(pg: Any) -> set[str]:
    """Point pyautogui's X11 key table at the right key for each printable character.

    pyautogui presses shift for "shift characters" (``<``, ``(``, upper case ...) on
    whatever key its table names, and its table takes the *first* key carrying the
    keysym: on a US keymap ``<`` is the ISO key whose shifted level is ``>``, so
    ``write("<")`` typed ``>``. Each character is re-pointed at a key that has it on
    the level pyautogui will use. Returns the characters this keymap cannot type
    that way (they go through xdotool).
    """
    mod = getattr(pg, "platformModule", None)
    table = getattr(mod, "keyboardMapping", None)
    display = getattr(mod, "_display", None)
    if table is None or display is None:
        return set()
    untypable = set()
    for c in _PRINTABLE:
        level = 1 if pg.isShiftCharacter(c) else 0
        keysym = ord(c)  # X keysyms of printable ASCII are their code points
        codes = [kc for kc, idx in display.keysym_to_keycodes(keysym) if idx == level]
        if codes:
            if table.get(c) not in codes:
                table[c] = codes[0]
            continue
        kc = table.get(c)
        # A key with nothing on its shifted level falls back to level 0 (X's rule).
        if not (kc and level == 1 and display.keycode_to_keysym(kc, 1) == 0
                and display.keycode_to_keysym(kc, 0) == keysym):
            untypable.add(c)
    return untypable


def _geom(m: dict) -> str:
    return f"{m['width']}x{m['height']}+{m['left']}+{m['top']}"


__all__ = ["DesktopEnv", "wheel_clicks"]


# ---------------------------------------------------------------------------- probe (guiagent doctor)

XVFB_RUN = "xvfb-run -s '-screen 0 1920x1080x24' guiagent run ..."


def check_display(required: bool = False) -> tuple[CheckResult, bool]:
    """Which display server there is, and whether an X11 client can use it. Returns (result, usable)."""
    import platform

    from guiagent.tools.checks import DESKTOP, first_line, results_for, severity

    r = results_for(DESKTOP)
    if sys.platform == "darwin" or sys.platform.startswith("win"):
        return r("display", "OK", f"{platform.system()}: native screen capture and input (no X11 needed)"), True
    display = os.environ.get("DISPLAY", "")
    wayland = bool(os.environ.get("WAYLAND_DISPLAY")) or os.environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    if not display:
        if wayland:
            return r("display", severity(required), "Wayland session without an X11 DISPLAY: mss and pyautogui "
                     "only work on X11", "log in with an X11 session ('Ubuntu on Xorg' at the login screen), or "
                     f"run headless under Xvfb: {XVFB_RUN}"), False
        return r("display", severity(required), "no display server: DISPLAY is not set",
                 f"run headless under Xvfb: {XVFB_RUN} (apt install xvfb), or export DISPLAY=:0 from a desktop "
                 "session"), False
    xauth = os.environ.get("XAUTHORITY") or str(Path.home() / ".Xauthority")
    if not os.path.exists(xauth):
        # Xlib refuses to connect when the cookie file is missing; an empty one works for a
        # server without access control (Xvfb), which is what the desktop env does too.
        from guiagent.envs.xvfb import empty_xauthority

        os.environ["XAUTHORITY"] = empty_xauthority()
    try:
        import Xlib.display

        with _quiet_stdout():
            d = Xlib.display.Display(display)
    except Exception as exc:  # noqa: BLE001 - DisplayConnectionError, XauthError, socket errors
        return r("display", "FAIL", f"DISPLAY={display} cannot be opened ({first_line(exc)})",
                 "start the X server or fix DISPLAY (ssh: use -X, or run under Xvfb: " + XVFB_RUN + ")"), False
    try:
        vendor = d.display.info.vendor
        screen = d.screen()
        size = f"{screen.width_in_pixels}x{screen.height_in_pixels}"
        if d.query_extension("XWAYLAND") is not None:
            return r("display", severity(required), f"{display} is XWayland ({size}): clicks and screenshots reach "
                     "X11 windows only", "log in with an X11 session, or run under Xvfb: " + XVFB_RUN), False
        if d.query_extension("XTEST") is None:
            return r("display", "FAIL", f"X11 {display} ({vendor}) lacks the XTEST extension needed for synthetic "
                     "input", "enable XTEST in the X server (Xvfb has it by default)"), False
    finally:
        d.close()
    return r("display", "OK", f"X11 {display} ({vendor}), root window {size}, XTEST present"), True


def open_mss() -> Any:
    """A screen-capture handle: `mss.MSS` (mss 10 deprecates the `mss.mss` factory older versions have)."""
    import mss

    return (getattr(mss, "MSS", None) or mss.mss)()


def check_capture(required: bool = False, monitor: int | None = None) -> tuple[CheckResult, tuple[int, int] | None]:
    """mss grabs a 1x1 region; returns the virtual screen's captured size."""
    from guiagent.tools.checks import DESKTOP, dist_version, first_line, results_for, severity

    r = results_for(DESKTOP)
    try:
        with open_mss() as sct:
            m = sct.monitors[0]
            shot = sct.grab({"left": m["left"], "top": m["top"], "width": 1, "height": 1})
            monitors = [_geom(x) for x in sct.monitors[1:]]
            count = len(sct.monitors) - 1
    except Exception as exc:  # noqa: BLE001 - ScreenShotError and platform errors
        return r("screen capture", severity(required), f"mss cannot capture ({first_line(exc)})",
                 "macOS: allow Screen Recording for the terminal in System Settings > Privacy; Linux: check "
                 "DISPLAY"), None
    n = len(monitors)
    if monitor is not None and not 0 <= monitor <= count:
        return r("screen capture", "FAIL", f"monitor {monitor} does not exist; this display has {count}: "
                 + ", ".join(f"{i} = {g}" for i, g in enumerate(monitors, 1)), "use --env desktop:N with N from "
                 "this list (0 = all monitors)"), (m["width"], m["height"])
    return r("screen capture", "OK", f"mss {dist_version('mss')} grabbed {shot.width}x{shot.height} px; {n} monitor"
             f"{'s' if n != 1 else ''}: {', '.join(monitors)}"), (m["width"], m["height"])


def check_input(required: bool = False) -> tuple[CheckResult, tuple[int, int] | None]:
    """pyautogui loads and reads the pointer; returns its (logical) screen size."""
    from guiagent.tools.checks import DESKTOP, dist_version, first_line, results_for, severity

    r = results_for(DESKTOP)
    try:
        with _quiet_stdout():
            import pyautogui

            x, y = pyautogui.position()
            w, h = pyautogui.size()
    except Exception as exc:  # noqa: BLE001 - Xlib, DisplayConnectionError, missing accessibility rights
        return r("input", severity(required), f"pyautogui cannot read the pointer ({first_line(exc)})",
                 "macOS: allow Accessibility for the terminal; Linux: pip install python-xlib, check DISPLAY"), None
    return r("input", "OK", f"pyautogui {dist_version('pyautogui')}: pointer at ({x}, {y}) on a {w}x{h} screen"), (w, h)


def check_scale(captured: tuple[int, int], logical: tuple[int, int]) -> CheckResult:
    """HiDPI: captured pixels per logical point (the Frame maps clicks through it)."""
    from guiagent.tools.checks import DESKTOP, results_for

    r = results_for(DESKTOP)
    sx, sy = captured[0] / logical[0], captured[1] / logical[1]
    sizes = f"captured {captured[0]}x{captured[1]} px for {logical[0]}x{logical[1]} logical points"
    if abs(sx - sy) > 0.01:
        return r("HiDPI scale", "WARN", f"uneven scale {sx:.3g} x {sy:.3g} ({sizes}): capture and input disagree",
                 "make the process DPI-aware (Windows) or use one scale for every monitor")
    if abs(sx - 1) < 0.005:
        return r("HiDPI scale", "OK", f"1 ({sizes})")
    return r("HiDPI scale", "OK", f"{sx:g} ({sizes}); clicks are mapped through the Frame")


def check_tkinter() -> CheckResult:
    """tkinter (Debian's python3-tk, outside the venv) runs the desktop suite's apps and the tests' apps."""
    from guiagent.tools.checks import DESKTOP, results_for
    from guiagent.tools.sysdeps import install_hint, part

    tk = part("tkinter")
    if tk.present():
        return results_for(DESKTOP)("tkinter", "OK", f"importable by {sys.executable}")
    return results_for(DESKTOP)("tkinter", "WARN", f"{sys.executable} cannot import tkinter: the desktop suite "
                                "(`guiagent bench desktop`, `guiagent demo`) and the tests' apps need it",
                                install_hint([tk]))


def check_xdotool() -> CheckResult:
    """xdotool types what pyautogui cannot (non-ASCII text)."""
    from guiagent.tools.checks import DESKTOP, NETWORK_TIMEOUT, results_for

    r = results_for(DESKTOP)
    if not sys.platform.startswith("linux"):
        return r("xdotool", "OK", "not needed on this platform")
    exe = shutil.which("xdotool")
    if exe is None:
        return r("xdotool", "WARN", "not found: non-ASCII text (é, 中文, emoji) cannot be typed on the desktop",
                 XDOTOOL_INSTALL_HINT)
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=NETWORK_TIMEOUT).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return r("xdotool", "OK", f"{out.strip().splitlines()[0] if out.strip() else exe}: non-ASCII text is typed "
             "through it")


def probe(required: bool = False, monitor: int | None = None) -> list[CheckResult]:
    """This machine's desktop checks without starting an env: display, capture, input, HiDPI scale, xdotool.

    `required` (the user asked for ``--env desktop``) makes a missing part FAIL instead of WARN; `monitor`
    (``desktop:N``) must exist."""
    display, usable = check_display(required)
    out = [display]
    if usable:
        capture, captured = check_capture(required, monitor)
        inp, logical = check_input(required)
        out += [capture, inp]
        if captured and logical:
            out.append(check_scale(captured, logical))
    out += [check_xdotool(), check_tkinter()]
    return out
