"""Android key codes (android.view.KeyEvent) and the names models use for them.

`keycode("volume_up")` -> 24. Accepted: ``KEYCODE_*`` names (any case), the same names
without the prefix (``volume_up``, ``ENTER``), common aliases (``backspace``, ``esc``,
``return``, ``recents``), and decimal numbers, which are keycodes as in
``adb shell input keyevent 66``. Characters are typed with the ``type`` action, not
keys, so ``"5"`` is keycode 5 (CALL), like adb's own syntax.
"""

from __future__ import annotations

# KEYCODE_<name> -> value, from android.view.KeyEvent.
_BASE = {
    "UNKNOWN": 0, "SOFT_LEFT": 1, "SOFT_RIGHT": 2, "HOME": 3, "BACK": 4, "CALL": 5, "ENDCALL": 6,
    "STAR": 17, "POUND": 18, "DPAD_UP": 19, "DPAD_DOWN": 20, "DPAD_LEFT": 21, "DPAD_RIGHT": 22,
    "DPAD_CENTER": 23, "VOLUME_UP": 24, "VOLUME_DOWN": 25, "POWER": 26, "CAMERA": 27, "CLEAR": 28,
    "COMMA": 55, "PERIOD": 56, "ALT_LEFT": 57, "ALT_RIGHT": 58, "SHIFT_LEFT": 59, "SHIFT_RIGHT": 60,
    "TAB": 61, "SPACE": 62, "SYM": 63, "EXPLORER": 64, "ENVELOPE": 65, "ENTER": 66, "DEL": 67,
    "GRAVE": 68, "MINUS": 69, "EQUALS": 70, "LEFT_BRACKET": 71, "RIGHT_BRACKET": 72, "BACKSLASH": 73,
    "SEMICOLON": 74, "APOSTROPHE": 75, "SLASH": 76, "AT": 77, "NUM": 78, "HEADSETHOOK": 79, "FOCUS": 80,
    "PLUS": 81, "MENU": 82, "NOTIFICATION": 83, "SEARCH": 84, "MEDIA_PLAY_PAUSE": 85, "MEDIA_STOP": 86,
    "MEDIA_NEXT": 87, "MEDIA_PREVIOUS": 88, "MEDIA_REWIND": 89, "MEDIA_FAST_FORWARD": 90, "MUTE": 91,
    "PAGE_UP": 92, "PAGE_DOWN": 93, "PICTSYMBOLS": 94, "SWITCH_CHARSET": 95,
    "ESCAPE": 111, "FORWARD_DEL": 112, "CTRL_LEFT": 113, "CTRL_RIGHT": 114, "CAPS_LOCK": 115,
    "SCROLL_LOCK": 116, "META_LEFT": 117, "META_RIGHT": 118, "FUNCTION": 119, "SYSRQ": 120, "BREAK": 121,
    "MOVE_HOME": 122, "MOVE_END": 123, "INSERT": 124, "FORWARD": 125, "MEDIA_PLAY": 126,
    "MEDIA_PAUSE": 127, "MEDIA_CLOSE": 128, "MEDIA_EJECT": 129, "MEDIA_RECORD": 130, "NUM_LOCK": 143,
    "NUMPAD_DIVIDE": 154, "NUMPAD_MULTIPLY": 155, "NUMPAD_SUBTRACT": 156, "NUMPAD_ADD": 157,
    "NUMPAD_DOT": 158, "NUMPAD_COMMA": 159, "NUMPAD_ENTER": 160, "NUMPAD_EQUALS": 161,
    "NUMPAD_LEFT_PAREN": 162, "NUMPAD_RIGHT_PAREN": 163, "VOLUME_MUTE": 164, "INFO": 165,
    "CHANNEL_UP": 166, "CHANNEL_DOWN": 167, "ZOOM_IN": 168, "ZOOM_OUT": 169, "SETTINGS": 176,
    "APP_SWITCH": 187, "LANGUAGE_SWITCH": 204, "CONTACTS": 207, "CALENDAR": 208, "MUSIC": 209,
    "CALCULATOR": 210, "ASSIST": 219, "BRIGHTNESS_DOWN": 220, "BRIGHTNESS_UP": 221, "SLEEP": 223,
    "WAKEUP": 224, "VOICE_ASSIST": 231, "CUT": 277, "COPY": 278, "PASTE": 279, "ALL_APPS": 284,
    "REFRESH": 285,
}
_BASE.update({str(d): 7 + d for d in range(10)})                        # KEYCODE_0..9 = 7..16
_BASE.update({chr(ord("A") + i): 29 + i for i in range(26)})            # KEYCODE_A..Z = 29..54
_BASE.update({f"F{i}": 130 + i for i in range(1, 13)})                  # KEYCODE_F1..F12 = 131..142
_BASE.update({f"NUMPAD_{d}": 144 + d for d in range(10)})               # 144..153

KEYCODES: dict[str, int] = {f"KEYCODE_{name}": code for name, code in _BASE.items()}
"""Every known ``KEYCODE_*`` name and its value."""

NAMES: dict[int, str] = {code: name for name, code in KEYCODES.items()}
"""Keycode value -> ``KEYCODE_*`` name."""

# Names models and people use that are not KeyEvent names.
ALIASES: dict[str, str] = {
    "backspace": "DEL", "delete": "DEL", "del": "DEL", "forward_delete": "FORWARD_DEL",
    "return": "ENTER", "esc": "ESCAPE", "up": "DPAD_UP", "down": "DPAD_DOWN", "left": "DPAD_LEFT",
    "right": "DPAD_RIGHT", "center": "DPAD_CENTER", "ok": "DPAD_CENTER", "select": "DPAD_CENTER",
    "recent": "APP_SWITCH", "recents": "APP_SWITCH", "recent_apps": "APP_SWITCH", "overview": "APP_SWITCH",
    "vol_up": "VOLUME_UP", "vol_down": "VOLUME_DOWN", "volumeup": "VOLUME_UP", "volumedown": "VOLUME_DOWN",
    "volume_mute": "VOLUME_MUTE", "mute": "VOLUME_MUTE", "lock": "POWER", "sleep": "SLEEP",
    "wake": "WAKEUP", "wakeup": "WAKEUP", "pageup": "PAGE_UP", "pagedown": "PAGE_DOWN",
    "play_pause": "MEDIA_PLAY_PAUSE", "playpause": "MEDIA_PLAY_PAUSE", "next": "MEDIA_NEXT",
    "previous": "MEDIA_PREVIOUS", "notifications": "NOTIFICATION", "apps": "ALL_APPS",
}

MAX_KEYCODE = 400  # keycodes are small integers; anything larger is a typo, not a key


class UnknownKey(ValueError):
    """A key name that is no Android keycode; the message suggests close names."""


def keycode(name: str) -> int:
    """The keycode a name means; raises `UnknownKey` with a one-line hint."""
    raw = name.strip()
    if raw.isdigit():
        code = int(raw)
        if code > MAX_KEYCODE:
            raise UnknownKey(f"keycode {code} is out of range (Android keycodes are 0..{MAX_KEYCODE})")
        return code
    norm = raw.replace("-", "_").replace(" ", "_")
    lowered = norm.lower()
    if lowered in ALIASES:
        return KEYCODES["KEYCODE_" + ALIASES[lowered]]
    upper = norm.upper()
    if not upper.startswith("KEYCODE_"):
        upper = "KEYCODE_" + upper
    if upper in KEYCODES:
        return KEYCODES[upper]
    import difflib

    close = difflib.get_close_matches(upper, KEYCODES, n=3, cutoff=0.75)
    hint = f" (did you mean {', '.join(c.removeprefix('KEYCODE_').lower() for c in close)}?)" if close else ""
    raise UnknownKey(
        f"unknown key {name!r}{hint}; use an Android key name (volume_up, power, camera, clear, "
        f"enter, back, home, KEYCODE_*) or a keycode number"
    )


__all__ = ["ALIASES", "KEYCODES", "NAMES", "UnknownKey", "keycode"]
