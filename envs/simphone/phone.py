"""The simulated phone: state, navigation, input, the display and its captures.

`Phone` is the device behind the adbd server. Inputs arrive in display coordinates (what
`screencap` shows, after `wm size` override and rotation) and are mapped back to the
portrait layout the apps draw in. Captures are cached until the state changes, keyed by
a fingerprint of the state, so the same state always gives the same bytes.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import re
import struct
import threading

from guiagent.envs.simphone.apps import (
    ADB_KEYBOARD_PACKAGE,
    APP_CLASSES,
    SYSTEM_PACKAGES,
    App,
    Builder,
    Launcher,
)
from guiagent.envs.simphone.state import ADB_IME, LAUNCHER, default_state
from guiagent.envs.simphone.ui import Metrics, Renderer, Widget, hierarchy_xml
from PIL import Image

LATIN_PACKAGE = "com.android.inputmethod.latin"

PROPS = {
    "ro.product.name": "simphone",
    "ro.product.model": "SimPhone",
    "ro.product.device": "simphone",
    "ro.product.brand": "guiagent",
    "ro.product.manufacturer": "guiagent",
    "ro.build.version.release": "14",
    "ro.build.version.sdk": "34",
    "ro.build.display.id": "SIMPHONE.14.0",
    "ro.build.type": "userdebug",
    "ro.serialno": "SIMPHONE0001",
    "ro.sf.lcd_density": "420",
    "ro.debuggable": "1",
    "sys.boot_completed": "1",
    "persist.sys.locale": "en-US",
}

# Keycodes that type a character (KeyEvent + the virtual keyboard's key character map).
_KEY_CHARS = {62: " ", 55: ",", 56: ".", 68: "`", 69: "-", 70: "=", 71: "[", 72: "]", 73: "\\", 74: ";",
              75: "'", 76: "/", 77: "@", 81: "+", 17: "*", 18: "#"}
_KEY_CHARS.update({7 + d: str(d) for d in range(10)})
_KEY_CHARS.update({29 + i: chr(ord("a") + i) for i in range(26)})

_CONTROL_KEYS = re.compile(r"([\n\t])")
LONG_PRESS_MS = 500  # ViewConfiguration's long-press timeout
TOUCH_SLOP = 24      # movement (design px) below which a swipe is a tap or long press

_LETTER_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_SYMBOL_ROWS = ("1234567890", "@#$_&-+()", "*\"':;!?")


class Phone:
    """The phone model. All public methods are safe to call from several threads."""

    def __init__(self, state: dict | None = None, size: tuple[int, int] = (1080, 2400)) -> None:
        self.initial = copy.deepcopy(state) if state is not None else default_state()
        self.state = copy.deepcopy(self.initial)
        self.m = Metrics(*size)
        self.renderer = Renderer(self.m)
        self.lock = threading.RLock()
        self.props = dict(PROPS)
        self.launcher = Launcher(self)
        self.apps: dict[str, App] = {cls.package: cls(self) for cls in APP_CLASSES}
        self._widgets: tuple[str, list[Widget]] | None = None
        self._captures: dict[str, tuple[str, object]] = {}
        self.version = 0

    # ------------------------------------------------------------ state

    def changed(self) -> None:
        """Note a change (captures are keyed by the state itself; this counts changes for tests)."""
        self.version += 1

    def fingerprint(self) -> str:
        blob = json.dumps(self.state, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()

    def load(self, state: dict) -> None:
        """Replace the whole state (drops every cache: handlers hold the old dicts)."""
        with self.lock:
            self.state = copy.deepcopy(state)
            self._widgets = None
            self._captures.clear()
            self.changed()

    def reset(self) -> None:
        """Back to the state the phone started with."""
        self.load(self.initial)

    def next_id(self, table: str) -> int:
        return max((row["id"] for row in self.state[table]), default=0) + 1

    def settings(self, namespace: str) -> dict[str, str]:
        return self.state["settings"][namespace]

    # ------------------------------------------------------------ packages

    def launchable(self) -> list[App]:
        return list(self.apps.values())

    def app(self, package: str) -> App | None:
        return self.apps.get(package)

    def packages(self) -> list[str]:
        pkgs = set(SYSTEM_PACKAGES) | set(self.apps)
        if ADB_IME in self.state["imes"]:
            pkgs.add(ADB_KEYBOARD_PACKAGE)
        return sorted(pkgs)

    # ------------------------------------------------------------ navigation

    @property
    def foreground(self) -> str:
        return self.state["foreground"]

    def stack(self, package: str | None = None) -> list[dict]:
        package = package or self.foreground
        app = self.apps[package]
        tasks = self.state["tasks"]
        if not tasks.get(package):
            tasks[package] = [app.root_screen()]
        return tasks[package]

    def top(self) -> dict:
        return self.stack()[-1]

    def launch(self, package: str) -> None:
        """Bring an app's task to the front (its screens are kept, as on a phone)."""
        self.stack(package)
        self.state["foreground"] = package
        self.state["ime_shown"] = False
        self.changed()

    def force_stop(self, package: str) -> None:
        self.state["tasks"].pop(package, None)
        if self.foreground == package:
            self.state["foreground"] = LAUNCHER
        self.changed()

    def home(self) -> None:
        self.state["foreground"] = LAUNCHER
        self.state["ime_shown"] = False
        self.changed()

    def push(self, screen: dict) -> None:
        self.stack().append(screen)
        self.state["ime_shown"] = False
        self.changed()

    def pop(self) -> None:
        stack = self.stack()
        if len(stack) > 1:
            stack.pop()
            self.state["ime_shown"] = False
            self.changed()
        else:
            self.home()

    def back_in_app(self) -> None:
        """The app's own "navigate up"/Back: leave the top screen, or the app at its root."""
        if self.foreground != LAUNCHER:
            self.pop()

    def back(self) -> None:
        """The Back key: hide the keyboard first, then leave the top screen."""
        if self.keyboard_visible():
            self.state["ime_shown"] = False
            self.changed()
        else:
            self.back_in_app()

    def focus(self, field: str | None) -> None:
        if self.foreground == LAUNCHER:
            return
        self.top()["focus"] = field
        self.state["ime_shown"] = field is not None
        self.changed()

    def focused_field(self) -> str | None:
        if self.foreground == LAUNCHER or not self.state["screen_on"]:
            return None
        top = self.top()
        field = top.get("focus")
        return field if field and field in top.get("fields", {}) else None

    # ------------------------------------------------------------ keyboard

    def current_ime(self) -> str:
        return self.settings("secure").get("default_input_method", "")

    def keyboard_visible(self) -> bool:
        return bool(self.state["ime_shown"] and self.focused_field())

    def keyboard_height(self) -> int:
        if not self.keyboard_visible():
            return 0
        return self.m.adb_kb_h if self.current_ime() == ADB_IME else self.m.kb_h

    # ------------------------------------------------------------ text

    def type_chars(self, text: str) -> bool:
        """Key events for `text` into the focused field; False when nothing has focus."""
        field = self.focused_field()
        if field is None:
            return False
        # Runs between Enter and Tab are appended whole: one character at a time is quadratic in the text.
        for run in _CONTROL_KEYS.split(text):
            if run == "\n":
                self.enter()
            elif run == "\t":
                self.next_field()
            elif run:
                fields = self.top()["fields"]
                fields[field] = fields[field] + run
        self.changed()
        return True

    def commit_text(self, text: str) -> bool:
        """What an input method commits (ADBKeyboard): the text as is, newlines included."""
        field = self.focused_field()
        if field is None:
            return False
        fields = self.top()["fields"]
        fields[field] = fields[field] + text
        self.changed()
        return True

    def clear_text(self) -> None:
        field = self.focused_field()
        if field is not None:
            self.top()["fields"][field] = ""
            self.changed()

    def delete_char(self) -> None:
        field = self.focused_field()
        if field is not None:
            fields = self.top()["fields"]
            fields[field] = fields[field][:-1]
            self.changed()

    def field_order(self) -> tuple[str, ...]:
        app = self.apps.get(self.foreground)
        return app.fields.get(self.top().get("name", ""), ()) if app else ()

    def next_field(self) -> None:
        field = self.focused_field()
        order = self.field_order()
        if field in order and order.index(field) + 1 < len(order):
            self.focus(order[order.index(field) + 1])
        else:
            self.state["ime_shown"] = False
            self.changed()

    def enter(self) -> None:
        field = self.focused_field()
        if field is None:
            return
        app = self.apps[self.foreground]
        if field in app.multiline:
            fields = self.top()["fields"]
            fields[field] = fields[field] + "\n"
            self.changed()
        else:
            self.next_field()

    # ------------------------------------------------------------ keys

    def key(self, code: int) -> None:
        """One key press (down + up) by keycode."""
        if code in (26, 223, 224):
            self.state["screen_on"] = {26: not self.state["screen_on"], 223: False, 224: True}[code]
            self.changed()
            return
        if not self.state["screen_on"]:
            return
        if code == 3:
            self.home()
        elif code in (4, 111):
            self.back()
        elif code in (66, 160):
            self.enter()
        elif code == 67:
            self.delete_char()
        elif code == 61:
            self.next_field()
        elif code in (24, 25, 164):
            self.state["volume"] = 0 if code == 164 else min(15, max(0, self.state["volume"] + (1 if code == 24 else -1)))
            self.changed()
        elif code in _KEY_CHARS:
            self.type_chars(_KEY_CHARS[code])
        # MENU, APP_SWITCH, DPAD, media and the rest change nothing on this phone.

    # ------------------------------------------------------------ geometry

    def rotation(self) -> int:
        system = self.settings("system")
        if system.get("accelerometer_rotation", "0") != "0":
            return 0  # no accelerometer: auto-rotate keeps the natural orientation
        try:
            return int(system.get("user_rotation", "0")) % 4
        except ValueError:
            return 0

    def natural_size(self) -> tuple[int, int]:
        """The display size in the natural (portrait) orientation: override or physical."""
        size = self.state["wm"].get("size")
        return tuple(size) if size else (self.m.width, self.m.height)

    def display_size(self) -> tuple[int, int]:
        w, h = self.natural_size()
        return (h, w) if self.rotation() % 2 else (w, h)

    def to_layout(self, x: float, y: float) -> tuple[float, float]:
        """Display point -> point in the apps' portrait layout."""
        ow, oh = self.natural_size()
        r = self.rotation()
        if r == 1:
            x, y = ow - y, x
        elif r == 2:
            x, y = ow - x, oh - y
        elif r == 3:
            x, y = y, oh - x
        return x * self.m.width / ow, y * self.m.height / oh

    def to_display_rect(self, rect: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A layout rectangle in display coordinates (the inverse of `to_layout`)."""
        ow, oh = self.natural_size()
        sx, sy = ow / self.m.width, oh / self.m.height
        pts = []
        for x, y in ((rect[0] * sx, rect[1] * sy), (rect[2] * sx, rect[3] * sy)):
            r = self.rotation()
            if r == 1:
                x, y = y, ow - x
            elif r == 2:
                x, y = ow - x, oh - y
            elif r == 3:
                x, y = oh - y, x
            pts.append((round(x), round(y)))
        (x1, y1), (x2, y2) = pts
        return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)

    # ------------------------------------------------------------ widgets

    def widgets(self) -> list[Widget]:
        """Everything on screen, bottom to top."""
        with self.lock:
            fp = self.fingerprint()
            if self._widgets is not None and self._widgets[0] == fp:
                return self._widgets[1]
            widgets = self._build()
            # Building clamps scroll offsets; key the cache by the state as it is now.
            self._widgets = (self.fingerprint(), widgets)
            return widgets

    def _build(self) -> list[Widget]:
        m = self.m
        if not self.state["screen_on"]:
            return [Widget(rect=(0, 0, m.width, m.height), style="off")]
        if self.foreground == LAUNCHER or self.foreground not in self.apps:
            b = Builder(self, LAUNCHER, (255, 255, 255))
            self.launcher.build_home(b)
        else:
            app = self.apps[self.foreground]
            b = Builder(self, app.package, app.color)
            app.build_stack(b, self.stack())
        widgets = b.widgets
        widgets.extend(self._keyboard())
        widgets.extend(self._system_bars())
        return widgets

    def _system_bars(self) -> list[Widget]:
        m = self.m
        g = self.settings("global")
        icons = [name for name, key in (("airplane", "airplane_mode_on"), ("wifi", "wifi_on"), ("bt", "bluetooth_on"))
                 if g.get(key) == "1"]
        ui = "com.android.systemui"
        out = [
            Widget(rect=(0, 0, m.width, m.status_h), cls="android.widget.FrameLayout", style="statusbar",
                   text=" ".join(icons), pkg=ui, rid=f"{ui}:id/status_bar"),
            Widget(rect=(0, m.bottom, m.width, m.height), cls="android.widget.FrameLayout", style="navbar", pkg=ui,
                   rid=f"{ui}:id/navigation_bar_frame"),
        ]
        third = m.width // 3
        for i, (desc, rid, handler) in enumerate((("Back", "back", self.back), ("Home", "home", self.home),
                                                  ("Overview", "recent_apps", lambda: None))):
            out.append(Widget(rect=(i * third, m.bottom, (i + 1) * third, m.height), cls="android.widget.ImageView",
                              desc=desc, rid=f"{ui}:id/{rid}", style="navbutton", clickable=True, pkg=ui,
                              on_tap=handler))
        return out

    def _keyboard(self) -> list[Widget]:
        if not self.keyboard_visible():
            return []
        m = self.m
        top = m.bottom - self.keyboard_height()
        if self.current_ime() == ADB_IME:
            return [Widget(rect=(0, top, m.width, m.bottom), cls="android.view.View", text="ADB Keyboard {ON}",
                           style="adbkeyboard", pkg=ADB_KEYBOARD_PACKAGE)]
        kb = self.state["keyboard"]
        out = [Widget(rect=(0, top, m.width, m.bottom), style="keyboard", pkg=LATIN_PACKAGE)]
        pad = m.s(16)
        row_h = (m.bottom - top - 2 * pad) // 4
        unit = m.width / 10

        def key(x1: float, row: int, width: float, label: str, name: str, handler) -> None:
            y1 = top + pad + row * row_h
            out.append(Widget(rect=(round(x1), y1, round(x1 + width), y1 + row_h), cls="android.inputmethodservice.Key",
                              text=label, rid=f"{LATIN_PACKAGE}:id/key_{name}", style="key", clickable=True,
                              pkg=LATIN_PACKAGE, on_tap=handler))

        rows = _SYMBOL_ROWS if kb["symbols"] else _LETTER_ROWS
        for r, chars in enumerate(rows):
            x = (m.width - len(chars) * unit) / 2
            for ch in chars:
                label = ch.upper() if kb["shift"] and not kb["symbols"] else ch
                key(x, r, unit, label, f"char_{ord(label)}", lambda c=label: self._key_char(c))
                x += unit
        if kb["symbols"]:
            key(0, 2, 1.5 * unit, "/", "char_47", lambda: self._key_char("/"))
        else:
            key(0, 2, 1.5 * unit, "⇧", "shift", self._toggle_shift)
        key(m.width - 1.5 * unit, 2, 1.5 * unit, "⌫", "delete", self.delete_char)
        key(0, 3, 1.5 * unit, "ABC" if kb["symbols"] else "?123", "symbols", self._toggle_symbols)
        key(1.5 * unit, 3, unit, ",", "char_44", lambda: self._key_char(","))
        key(2.5 * unit, 3, 5 * unit, "space", "space", lambda: self._key_char(" "))
        key(7.5 * unit, 3, unit, ".", "char_46", lambda: self._key_char("."))
        key(8.5 * unit, 3, 1.5 * unit, "⏎", "enter", self.enter)
        return out

    def _key_char(self, ch: str) -> None:
        self.type_chars(ch)
        if self.state["keyboard"]["shift"]:
            self.state["keyboard"]["shift"] = False  # one-shot shift, like Gboard
            self.changed()

    def _toggle_shift(self) -> None:
        self.state["keyboard"]["shift"] = not self.state["keyboard"]["shift"]
        self.changed()

    def _toggle_symbols(self) -> None:
        kb = self.state["keyboard"]
        kb["symbols"], kb["shift"] = not kb["symbols"], False
        self.changed()

    def hierarchy(self) -> str:
        """`uiautomator dump` XML of the app windows (the keyboard is another window, left out)."""
        with self.lock:
            widgets = [w for w in self.widgets() if w.pkg not in (LATIN_PACKAGE, ADB_KEYBOARD_PACKAGE)]
            w, h = self.display_size()
            return hierarchy_xml(widgets, self.rotation(), w, h, transform=self.to_display_rect)

    # ------------------------------------------------------------ touch

    def hit(self, x: float, y: float) -> Widget | None:
        """The topmost clickable widget at a layout point."""
        for w in reversed(self.widgets()):
            if w.clickable and w.contains(x, y):
                return w
        return None

    def tap(self, x: float, y: float) -> None:
        with self.lock:
            if not self.state["screen_on"]:
                return
            w = self.hit(*self.to_layout(x, y))
            if w is not None and w.on_tap is not None:
                w.on_tap()

    def long_press(self, x: float, y: float) -> None:
        with self.lock:
            if not self.state["screen_on"]:
                return
            w = self.hit(*self.to_layout(x, y))
            if w is None:
                return
            # A view without a long-click listener gets a plain click on release.
            handler = w.on_long or w.on_tap
            if handler is not None:
                handler()

    def swipe(self, x1: float, y1: float, x2: float, y2: float, duration_ms: int) -> None:
        """A touch from (x1, y1) to (x2, y2): a tap, a long press, or a scroll of the list under it."""
        with self.lock:
            if not self.state["screen_on"]:
                return
            lx1, ly1 = self.to_layout(x1, y1)
            lx2, ly2 = self.to_layout(x2, y2)
            if math.hypot(lx2 - lx1, ly2 - ly1) < self.m.s(TOUCH_SLOP):
                if duration_ms >= LONG_PRESS_MS:
                    self.long_press(x1, y1)
                else:
                    self.tap(x1, y1)
                return
            if abs(ly2 - ly1) < abs(lx2 - lx1):
                return  # horizontal swipes: no pager on this phone
            for w in reversed(self.widgets()):
                if w.style in ("scrim", "dialog"):
                    return
                if w.on_scroll is not None and w.contains(lx1, ly1):
                    w.on_scroll(round(ly1 - ly2))
                    return

    # ------------------------------------------------------------ display

    def image(self) -> Image.Image:
        """The display as `screencap` sees it (override size and rotation applied)."""
        with self.lock:
            return self._capture("image", self._render)

    def _render(self) -> Image.Image:
        widgets = self.widgets()
        img = self.renderer.render(widgets, wallpaper=self.foreground == LAUNCHER)
        ow, oh = self.natural_size()
        if (ow, oh) != (self.m.width, self.m.height):
            img = img.resize((ow, oh), Image.Resampling.BILINEAR)
        r = self.rotation()
        if r:
            img = img.transpose({1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180,
                                 3: Image.Transpose.ROTATE_270}[r])
        return img

    def png(self) -> bytes:
        """`screencap -p`: the display as PNG."""
        def encode() -> bytes:
            buf = io.BytesIO()
            # Level 1: these flat screens compress well anyway, and encoding is 3x faster.
            self.image().save(buf, "PNG", compress_level=1)
            return buf.getvalue()
        with self.lock:
            return self._capture("png", encode)

    def raw(self) -> bytes:
        """`screencap` without -p: width, height, format (2 = RGBX_8888), colour space, then pixels.

        RGBX is how Pillow holds an RGB image, so the pixels go out in one copy, as a phone's
        display buffer does (an RGBA conversion first cost ~10 ms a frame, a cost no phone has).
        """
        def encode() -> bytes:
            img = self.image()
            return struct.pack("<4I", img.width, img.height, 2, 0) + img.tobytes("raw", "RGBX")
        with self.lock:
            return self._capture("raw", encode)

    def _capture(self, kind: str, make):
        fp = self.fingerprint()
        hit = self._captures.get(kind)
        if hit is not None and hit[0] == fp:
            return hit[1]
        value = make()
        self._captures[kind] = (self.fingerprint(), value)
        return value
