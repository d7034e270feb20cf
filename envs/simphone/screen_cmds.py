"""The simulated phone's screen and input commands: input, screencap, uiautomator and wm."""

from __future__ import annotations

import base64
import re

from guiagent.envs.adb_keys import KEYCODES
from guiagent.envs.simphone.command import CommandFn, Context, Result, b

_SOURCES = {"keyboard", "gamepad", "touchscreen", "touchpad", "mouse", "stylus", "dpad", "trackball", "joystick",
            "touchnavigation", "rotaryencoder"}
_USAGE = "Usage: input [<source>] [-d DISPLAY_ID] <command> [<arg>...]\n"


def keycode(arg: str) -> int | None:
    """A key event's code from a number or a name (``ENTER``, ``KEYCODE_ENTER``); None when unknown."""
    if re.fullmatch(r"[0-9]{1,9}", arg):
        return int(arg)
    name = arg.upper()
    if not name.startswith("KEYCODE_"):
        name = "KEYCODE_" + name
    return KEYCODES.get(name)


def input_(ctx: Context, args: list[str], stdin: bytes) -> Result:
    args = list(args)
    if args and args[0] in _SOURCES:
        args.pop(0)
    if len(args) >= 2 and args[0] == "-d":
        args = args[2:]
    if not args:
        return b"", _USAGE.encode(), 1
    command, rest = args[0], args[1:]
    phone = ctx.phone
    try:
        if command == "text":
            if not rest:
                raise ValueError
            return _input_text(ctx, rest[0])
        if command == "keyevent":
            codes = []
            for a in rest:
                if a.startswith("--"):
                    continue
                code = keycode(a)
                if code is None:
                    return b"", b(f"Error: Unknown keycode: {a}\n"), 1
                codes.append(code)
            if not codes:
                raise ValueError
            for code in codes:
                phone.key(code)
            return b"", b"", 0
        if command == "tap":
            phone.tap(float(rest[0]), float(rest[1]))
            return b"", b"", 0
        if command in ("swipe", "draganddrop"):
            x1, y1, x2, y2 = (float(v) for v in rest[:4])
            ms = int(float(rest[4])) if len(rest) > 4 else 300
            phone.swipe(x1, y1, x2, y2, ms)
            return b"", b"", 0
        if command == "press":
            phone.key(23)
            return b"", b"", 0
        if command in ("roll", "motionevent", "keycombination"):
            return b"", b"", 0
    except (ValueError, IndexError, OverflowError):
        return b"", b(f"Error: Invalid arguments for command: {command}\n{_USAGE}"), 1
    return b"", b(f"Error: Unknown command: {command}\n"), 1


def _input_text(ctx: Context, arg: str) -> Result:
    # Android's InputShellCommand.sendText: "%s" becomes a space, then every character
    # goes through the virtual keyboard's key map, which has no non-ASCII keys.
    chars: list[str] = []
    escape = False
    for ch in arg:
        if escape:
            escape = False
            if ch == "s":
                chars[-1] = " "  # the '%' before it
                continue
        chars.append(ch)
        escape = ch == "%"
    text = "".join(chars)
    if any(not (" " <= ch <= "~" or ch in "\n\t") for ch in text):
        return b"", (b"Exception occurred while executing 'text':\n"
                     b"java.lang.NullPointerException: Attempt to get length of null array\n"
                     b"\tat com.android.server.input.InputShellCommand.sendText(InputShellCommand.java:420)\n"), 255
    ctx.phone.type_chars(text)
    return b"", b"", 0


def screencap(ctx: Context, args: list[str], stdin: bytes) -> Result:
    phone = ctx.phone
    png = "-p" in args
    positional = []
    it = iter(args)
    for a in it:
        if a == "-d":
            next(it, None)
        elif not a.startswith("-"):
            positional.append(a)
    if positional:
        path = positional[0]
        data = phone.png() if png or path.endswith(".png") else phone.raw()
        # Files hold text; a capture is kept base64-encoded so `simphone state` stays JSON.
        phone.state["files"][path] = "base64:" + base64.b64encode(data).decode()
        return b"", b"", 0
    return (phone.png() if png else phone.raw()), b"", 0


def uiautomator(ctx: Context, args: list[str], stdin: bytes) -> Result:
    if not args or args[0] != "dump":
        return b"", b"Usage: uiautomator dump [--compressed] [FILE]\n", 1
    paths = [a for a in args[1:] if not a.startswith("--")]
    path = paths[0] if paths else "/sdcard/window_dump.xml"
    xml = ctx.phone.hierarchy()
    # (sic) "hierchary": the real tool's message.
    if path in ("/dev/tty", "/dev/stdout"):
        return (xml + f"UI hierchary dumped to: {path}\n").encode(), b"", 0
    ctx.phone.state["files"][path] = xml
    return f"UI hierchary dumped to: {path}\n".encode(), b"", 0


def wm(ctx: Context, args: list[str], stdin: bytes) -> Result:
    phone = ctx.phone
    pw, ph = phone.m.width, phone.m.height
    state = phone.state["wm"]
    if not args:
        return b"", b"usage: wm [size|density|user-rotation] ...\n", 1
    sub, rest = args[0], args[1:]
    if sub == "size":
        if not rest:
            out = f"Physical size: {pw}x{ph}\n"
            if state.get("size"):
                out += f"Override size: {state['size'][0]}x{state['size'][1]}\n"
            return out.encode(), b"", 0
        if rest[0] == "reset":
            state["size"] = None
        else:
            m = re.fullmatch(r"([0-9]{1,5})x([0-9]{1,5})", rest[0])
            if not m or not (100 <= int(m.group(1)) <= 8192 and 100 <= int(m.group(2)) <= 8192):
                return b"", b(f"Error: bad size {rest[0]}\n"), 1
            state["size"] = [int(m.group(1)), int(m.group(2))]
        phone.changed()
        return b"", b"", 0
    if sub == "density":
        if not rest:
            out = f"Physical density: {phone.props['ro.sf.lcd_density']}\n"
            if state.get("density"):
                out += f"Override density: {state['density']}\n"
            return out.encode(), b"", 0
        state["density"] = None if rest[0] == "reset" else int(rest[0])
        return b"", b"", 0
    if sub == "user-rotation":
        system = phone.settings("system")
        if not rest:
            mode = "free" if system.get("accelerometer_rotation") == "1" else "lock"
            return f"{mode} {system.get('user_rotation', '0')}\n".encode(), b"", 0
        if rest[0] == "free":
            system["accelerometer_rotation"] = "1"
        else:
            system["accelerometer_rotation"] = "0"
            system["user_rotation"] = str(int(rest[-1]) % 4)
        phone.changed()
        return b"", b"", 0
    return b"", b(f"Error: unknown command '{sub}'\n"), 1


COMMANDS: dict[str, CommandFn] = {
    "input": input_, "screencap": screencap, "uiautomator": uiautomator, "wm": wm,
}
