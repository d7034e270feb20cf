"""A MiniWoB++ browser env: Debian's Chromium through chromedriver, headless, offline.

Seen as screenshots, driven with coordinate actions. Why this design (medians measured
on the 2-core CI machine, under load):

- Input is dispatched with the DevTools protocol (``Input.dispatchMouseEvent`` /
  ``Input.dispatchKeyEvent``) at page coordinates. These are *trusted* events that go
  through Chrome's own hit testing, focus and default actions, exactly like a real
  mouse and keyboard; nothing is clicked "by element". A click (move, press, release)
  takes 18 ms; the same click through Selenium's W3C actions (``ActionBuilder``) 267 ms.
- Headless needs no X display, so every harness worker owns its browser with no
  shared global state. The alternative, a windowed Chromium on Xvfb driven by
  pyautogui, works (reference/this-machine.md §5) but pyautogui binds one display per
  process, so threads could not each drive their own.
- The page is rendered at device scale 2 (``Emulation.setDeviceMetricsOverride``),
  so the screenshot is 320x420 physical pixels for MiniWoB's 160x210 CSS-pixel task
  area. The env reports screen units in CSS pixels with ``scale=2``: the model sees a
  sharp image, the executor works in CSS pixels, and `Frame` does the mapping (the
  HiDPI path of the coordinate model, exercised on every step).
- After an action the env waits for the page itself (no jQuery animation running),
  then captures once (``Page.captureScreenshot`` clipped to the task area), and reports
  `settles`, so the loop's screenshot-comparing settle is skipped for this env: a capture
  costs Chromium ~28 ms of CPU, and CPU is what bounds how many workers two cores feed.

MiniWoB's JavaScript episode timer (``core.EPISODE_MAX_TIME``, 10 s) ends an episode
at reward -1 while a slow model is still thinking, so `load` raises it before the
episode starts (default one hour). The score is MiniWoB's own ``WOB_RAW_REWARD_GLOBAL``.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.envs.base import ActionError, Env, EnvError
from guiagent.tools.actions import (
    DoubleClick,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    RightClick,
    Scroll,
    Type,
)
from guiagent.tools.frame import Screenshot, ScreenSpace
from guiagent.tools.keys import SHIFTED, UnknownKey, normalize_newlines, resolve_chord

if TYPE_CHECKING:
    from guiagent.tools.actions import Action

TASK_WIDTH, TASK_HEIGHT = 160, 210  # MiniWoB's task area in CSS pixels (miniwob.constants)
WINDOW_WIDTH, WINDOW_HEIGHT = 500, 320
DEFAULT_EPISODE_MS = 3_600_000
INSTALL_HINT = "apt install chromium chromium-driver"

# canonical key (guiagent.tools.keys) -> (DOM key, DOM code, Windows key code).
_SPECIAL_KEYS: dict[str, tuple[str, str, int]] = {
    "enter": ("Enter", "Enter", 13), "tab": ("Tab", "Tab", 9), "backspace": ("Backspace", "Backspace", 8),
    "delete": ("Delete", "Delete", 46), "esc": ("Escape", "Escape", 27), "space": (" ", "Space", 32),
    "up": ("ArrowUp", "ArrowUp", 38), "down": ("ArrowDown", "ArrowDown", 40),
    "left": ("ArrowLeft", "ArrowLeft", 37), "right": ("ArrowRight", "ArrowRight", 39),
    "home": ("Home", "Home", 36), "end": ("End", "End", 35), "pageup": ("PageUp", "PageUp", 33),
    "pagedown": ("PageDown", "PageDown", 34), "insert": ("Insert", "Insert", 45),
    **{f"f{i}": (f"F{i}", f"F{i}", 111 + i) for i in range(1, 25)},
}
# canonical modifier -> (DOM key, DOM code, key code, CDP modifier bit)
_MODIFIERS: dict[str, tuple[str, str, int, int]] = {
    "alt": ("Alt", "AltLeft", 18, 1), "alt_r": ("Alt", "AltRight", 18, 1),
    "ctrl": ("Control", "ControlLeft", 17, 2), "ctrl_r": ("Control", "ControlRight", 17, 2),
    "super": ("Meta", "MetaLeft", 91, 4), "super_r": ("Meta", "MetaRight", 92, 4),
    "shift": ("Shift", "ShiftLeft", 16, 8), "shift_r": ("Shift", "ShiftRight", 16, 8),
}
SETTLE_MAX_MS = 2000
SETTLE_POLL_S = 0.02
# MiniWoB's moving parts are jQuery UI animations (dialogs, accordions, tabs).
_ANIMATING_JS = "return window.jQuery ? jQuery(':animated').length : 0;"


def miniwob_html_dir() -> Path:
    """The task pages shipped in the `miniwob` package (no network needed)."""
    try:
        import miniwob
    except ImportError:
        raise EnvError("the miniwob package is not installed (pip install miniwob)") from None
    return Path(miniwob.__file__).parent / "html" / "miniwob"


def find_browser() -> tuple[str, str]:
    """(chromium binary, chromedriver): $MINIWOB_CHROME_BINARY / $MINIWOB_CHROMEDRIVER, else PATH."""
    chrome = os.environ.get("MINIWOB_CHROME_BINARY") or next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None)
    driver = os.environ.get("MINIWOB_CHROMEDRIVER") or shutil.which("chromedriver")
    if not chrome or not driver:
        missing = "chromium" if not chrome else "chromedriver"
        raise EnvError(f"{missing} not found ({INSTALL_HINT}, or set MINIWOB_CHROME_BINARY and MINIWOB_CHROMEDRIVER)")
    return chrome, driver


class BrowserEnv(Env):
    """Headless Chromium showing one MiniWoB++ task; `load(task, seed)` starts an episode.

    >>> env = BrowserEnv()
    >>> env.load("click-button", seed=3)
    'Click on the "no" button.'
    """

    space = "computer_use"
    name = "miniwob"

    def __init__(self, *, scale: int = 2, episode_ms: int = DEFAULT_EPISODE_MS, start_timeout: float = 30.0) -> None:
        self.scale = scale
        self.episode_ms = episode_ms
        self.task: str | None = None
        self.seed: Any = None
        self._pointer = (0.0, 0.0)
        self._acted = False
        self._utterance: str | None = None
        self._fields: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._profile = tempfile.mkdtemp(prefix="guiagent-chromium-")
        self._driver = self._start(start_timeout)

    # ------------------------------------------------------------------ lifecycle

    def _start(self, timeout: float):
        chrome, driver_path = find_browser()
        os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for downloads
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = chrome
        # Local file:// pages only: site isolation and the browser's online features are pure CPU
        # cost here (measured: 10-20% less Chromium CPU per episode without them).
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
                    "--disable-site-isolation-trials", "--renderer-process-limit=1",
                    "--disable-features=site-per-process,IsolateOrigins,Translate,OptimizationHints,MediaRouter",
                    f"--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT + 200}", f"--user-data-dir={self._profile}"):
            opts.add_argument(arg)
        try:
            # chromedriver's output (and Debian's chromium wrapper's shell noise) stays out of the user's terminal
            # TMPDIR inside the profile: Chromium's singleton socket folders go with it at close
            service = Service(executable_path=driver_path, log_output=subprocess.DEVNULL,
                              env={**os.environ, "TMPDIR": self._profile})
            drv = webdriver.Chrome(service=service, options=opts)
        except WebDriverException as exc:
            shutil.rmtree(self._profile, ignore_errors=True)
            first = (exc.msg or str(exc)).strip().splitlines()[0] if (exc.msg or str(exc)).strip() else type(exc).__name__
            raise EnvError(f"chromium did not start: {first}") from None
        drv.set_page_load_timeout(timeout)
        drv.set_script_timeout(timeout)
        # A fixed viewport at device scale `scale`: screenshots are sharp and the same size everywhere.
        drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": WINDOW_WIDTH, "height": WINDOW_HEIGHT, "deviceScaleFactor": self.scale, "mobile": False})
        return drv

    def close(self) -> None:
        """Quit chromium and remove its profile; safe to call twice."""
        drv, self._driver = getattr(self, "_driver", None), None
        if drv is not None:
            try:
                drv.quit()
            except Exception:  # noqa: BLE001 - the browser may already be gone
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    @property
    def settles(self) -> bool:
        """True: `observe` waits for the page itself (see `_settle`), so the loop does not poll captures."""
        return True

    def alive(self) -> bool:
        try:
            self._cdp("Runtime.evaluate", {"expression": "1"})
            return True
        except EnvError:
            return False

    # ------------------------------------------------------------------ MiniWoB

    def load(self, task: str, seed: Any = None) -> str:
        """Open `task`'s page (once per task name), raise the timer, seed and start an episode.

        Returns the utterance (the instruction).
        """
        page = miniwob_html_dir() / f"{task}.html"
        if not page.is_file():
            raise ActionError(f"unknown MiniWoB task {task!r} (no {page.name} in the miniwob package)")
        if self.task != task:
            self._get(page.as_uri())
            self.task = task
        self.seed = seed
        seed_js = "" if seed is None else f"Math.seedrandom({_js_str(str(seed))});"
        self._js(
            "if (core.EP_TIMER !== null) { core.endEpisode(0); }"
            f"core.EPISODE_MAX_TIME = {int(self.episode_ms)}; {seed_js} core.startEpisodeReal();"
        )
        deadline = time.monotonic() + 5
        while not self._js("return WOB_TASK_READY;"):
            if time.monotonic() > deadline:
                raise EnvError(f"MiniWoB task {task} did not become ready")
            time.sleep(0.05)
        self._pointer = (0.0, 0.0)
        self._acted = True  # the first observation waits for the new episode to be painted
        self._utterance = self.utterance()
        self._fields = None
        return self._utterance

    def utterance(self) -> str:
        return str(self._js("return core.getUtterance();"))

    def fields(self) -> dict[str, str]:
        """The episode's fields as MiniWoB's own extractor reads them from the utterance (cached per episode)."""
        if self._fields is None:
            from miniwob.fields import get_field_extractor

            self._fields = dict(get_field_extractor(self.task)(self._utterance or self.utterance()))
        return dict(self._fields)

    def dom(self) -> dict:
        """``core.getDOMInfo()``: the visible elements with CSS-pixel rectangles (ground truth)."""
        return self._js("return core.getDOMInfo();")

    def reward(self) -> dict:
        """MiniWoB's own episode outcome: done, raw_reward, env_reward, reason."""
        return self._js(
            'return {"done": WOB_DONE_GLOBAL, "env_reward": WOB_REWARD_GLOBAL, '
            '"raw_reward": WOB_RAW_REWARD_GLOBAL, "reason": WOB_REWARD_REASON};'
        )

    def js(self, script: str, *args: Any) -> Any:
        """Run a script in the task page (ground-truth reads for tests and the oracle)."""
        return self._js(script, *args)

    # ------------------------------------------------------------------ Env

    def describe(self) -> dict:
        return {"env": self.name, "task": self.task, "seed": self.seed, "browser": "chromium headless",
                "viewport": [TASK_WIDTH, TASK_HEIGHT], "scale": self.scale}

    def observe(self) -> Screenshot:
        from PIL import Image

        if self._acted:
            self._settle()
        # optimizeForSpeed: still lossless PNG, with faster compression (28 instead of 44 ms of CPU)
        data = self._cdp("Page.captureScreenshot", {
            "format": "png", "optimizeForSpeed": True,
            "clip": {"x": 0, "y": 0, "width": TASK_WIDTH, "height": TASK_HEIGHT, "scale": 1}})
        image = Image.open(io.BytesIO(base64.b64decode(data["data"]))).convert("RGB")
        return Screenshot(image=image, screen=ScreenSpace(width=TASK_WIDTH, height=TASK_HEIGHT, scale=self.scale),
                          meta={"task": self.task})

    def execute(self, action: Action) -> None:
        self._acted = True
        if isinstance(action, (LeftClick, RightClick, MiddleClick, DoubleClick)):
            x, y = action.coordinate if action.coordinate is not None else self._pointer
            button = {LeftClick: "left", RightClick: "right", MiddleClick: "middle", DoubleClick: "left"}[type(action)]
            self._move(x, y)
            self._click(x, y, button, 1)
            if isinstance(action, DoubleClick):
                self._click(x, y, button, 2)
        elif isinstance(action, MouseMove):
            self._move(*action.coordinate)
        elif isinstance(action, LeftClickDrag):
            self._drag(action.coordinate)
        elif isinstance(action, Scroll):
            x, y = action.coordinate if action.coordinate is not None else self._pointer
            self._move(x, y)
            # positive pixels scroll up (the tool's convention); a wheel's deltaY > 0 scrolls down
            self._mouse("mouseWheel", x, y, deltaX=0, deltaY=-float(action.pixels))
        elif isinstance(action, Type):
            self._type(action.text)
        elif isinstance(action, Key):
            self._chord(action.keys)
        else:
            raise ActionError(f"the browser cannot do {getattr(action, 'action', type(action).__name__)!r}")

    def _settle(self) -> None:
        """Wait until no jQuery animation runs (at most `SETTLE_MAX_MS`).

        The page knows when it is still, so one capture suffices: comparing successive
        screenshots (what the agent loop does for envs that cannot tell) costs two or more
        captures, and each costs Chromium ~28 ms of CPU. Event handlers have already run
        when an input event is acknowledged, and a capture paints the current DOM, so no
        frame needs waiting for.
        """
        self._acted = False
        deadline = time.monotonic() + SETTLE_MAX_MS / 1000
        while self._js(_ANIMATING_JS) and time.monotonic() < deadline:
            time.sleep(SETTLE_POLL_S)

    # ------------------------------------------------------------------ input

    def _move(self, x: float, y: float) -> None:
        self._mouse("mouseMoved", x, y)
        self._pointer = (x, y)

    def _click(self, x: float, y: float, button: str, count: int) -> None:
        self._mouse("mousePressed", x, y, button=button, clickCount=count)
        self._mouse("mouseReleased", x, y, button=button, clickCount=count)

    def _drag(self, to: tuple[float, float]) -> None:
        (x0, y0), (x1, y1) = self._pointer, to
        self._mouse("mousePressed", x0, y0, button="left", clickCount=1)
        steps = 8
        for i in range(1, steps + 1):
            self._mouse("mouseMoved", x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps, button="left",
                        buttons=1)
        self._mouse("mouseReleased", x1, y1, button="left", clickCount=1)
        self._pointer = (x1, y1)

    def _mouse(self, kind: str, x: float, y: float, **extra: Any) -> None:
        self._cdp("Input.dispatchMouseEvent", {"type": kind, "x": float(x), "y": float(y), **extra})

    def _type(self, text: str) -> None:
        for ch in normalize_newlines(text):
            if ch == "\n":
                self._key_event("enter", 0)
                continue
            if ch == "\t":
                self._key_event("tab", 0)
                continue
            code, vk = _char_code(ch)
            base = {"key": ch, "code": code, "windowsVirtualKeyCode": vk}
            self._cdp("Input.dispatchKeyEvent", {"type": "keyDown", "text": ch, "unmodifiedText": ch, **base})
            self._cdp("Input.dispatchKeyEvent", {"type": "keyUp", **base})

    def _chord(self, keys: list[str]) -> None:
        try:
            names = resolve_chord(keys)  # a no-op for a validated Key, whose keys are canonical
        except UnknownKey as exc:
            raise ActionError(str(exc)) from None
        mods = [n for n in names if n in _MODIFIERS]
        rest = [n for n in names if n not in _MODIFIERS]
        for n in rest:
            if n not in _SPECIAL_KEYS and len(n) != 1:
                raise ActionError(f"key {n!r} cannot be pressed in the browser")
        bits = 0
        for m in mods:
            key, code, vk, bit = _MODIFIERS[m]
            bits |= bit
            self._cdp("Input.dispatchKeyEvent", {"type": "rawKeyDown", "key": key, "code": code,
                                                 "windowsVirtualKeyCode": vk, "modifiers": bits})
        for n in rest:
            self._key_event(n, bits)
        for m in reversed(mods):
            key, code, vk, bit = _MODIFIERS[m]
            bits &= ~bit
            self._cdp("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code,
                                                 "windowsVirtualKeyCode": vk, "modifiers": bits})

    def _key_event(self, name: str, modifiers: int) -> None:
        if name in _SPECIAL_KEYS:
            key, code, vk = _SPECIAL_KEYS[name]
            text = {"enter": "\r", "space": " "}.get(name, "")
        else:
            code, vk = _char_code(name)
            key = name
            text = name
        base = {"key": key, "code": code, "windowsVirtualKeyCode": vk, "modifiers": modifiers}
        down: dict[str, Any] = {"type": "keyDown" if text and not modifiers & 7 else "rawKeyDown", **base}
        if text and not modifiers & 7:  # with ctrl/alt/meta held, a key is a shortcut, not text
            down["text"] = text
        self._cdp("Input.dispatchKeyEvent", down)
        self._cdp("Input.dispatchKeyEvent", {"type": "keyUp", **base})

    # ------------------------------------------------------------------ plumbing

    def _get(self, url: str) -> None:
        from selenium.common.exceptions import WebDriverException

        drv = self._require()
        try:
            drv.get(url)
        except WebDriverException as exc:
            raise EnvError(f"chromium could not open {url}: {_first_line(exc)}", "env_error") from None

    def _js(self, script: str, *args: Any) -> Any:
        from selenium.common.exceptions import JavascriptException, WebDriverException

        drv = self._require()
        try:
            with self._lock:
                return drv.execute_script(script, *args)
        except JavascriptException as exc:
            raise EnvError(f"MiniWoB page script failed: {_first_line(exc)}") from None
        except WebDriverException as exc:
            raise EnvError(f"the browser is gone: {_first_line(exc)}", "env_error") from None

    def _cdp(self, cmd: str, params: dict) -> Any:
        from selenium.common.exceptions import WebDriverException

        drv = self._require()
        try:
            with self._lock:
                return drv.execute_cdp_cmd(cmd, params)
        except WebDriverException as exc:
            raise EnvError(f"the browser is gone ({cmd}): {_first_line(exc)}", "env_error") from None

    def _require(self):
        if self._driver is None:
            raise EnvError("the browser was closed", "env_error")
        return self._driver


def _char_code(ch: str) -> tuple[str, int]:
    """DOM ``code`` and Windows virtual key code of a printable character (US layout)."""
    if ch.isascii() and ch.isalpha():
        return f"Key{ch.upper()}", ord(ch.upper())
    if ch.isascii() and ch.isdigit():
        return f"Digit{ch}", ord(ch)
    if ch == " ":
        return "Space", 32
    ch = SHIFTED.get(ch, ch)
    codes = {"`": ("Backquote", 192), "-": ("Minus", 189), "=": ("Equal", 187), "[": ("BracketLeft", 219),
             "]": ("BracketRight", 221), "\\": ("Backslash", 220), ";": ("Semicolon", 186), "'": ("Quote", 222),
             ",": ("Comma", 188), ".": ("Period", 190), "/": ("Slash", 191)}
    if ch in codes:
        return codes[ch]
    if ch.isdigit():
        return f"Digit{ch}", ord(ch)
    return "", 0  # non-ASCII: the text is still inserted, with no physical key


def _js_str(s: str) -> str:
    import json

    return json.dumps(s)


def _first_line(exc: Exception) -> str:
    text = (getattr(exc, "msg", None) or str(exc) or type(exc).__name__).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["BrowserEnv", "DEFAULT_EPISODE_MS", "TASK_HEIGHT", "TASK_WIDTH", "find_browser", "miniwob_html_dir"]
