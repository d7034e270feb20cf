"""Android key codes (android.view.KeyEvent) and the names models use for them.

`keycode("volume_up")` -> 24. Accepted: ``KEYCODE_*`` names (any case), every spelling of the
shared key vocabulary (`guiagent.tools.keys`: ``backspace``, ``esc``, ``Return``, ``recents`` ...,
mapped here from canonical name to keycode), the KeyEvent names without the prefix (``camera``,
``MEDIA_PLAY``), and decimal numbers, which are keycodes as in ``adb shell input keyevent 66``.
Characters are typed with the ``type`` action, not keys, so ``"5"`` is keycode 5 (CALL), like
adb's own syntax. The guard resolves denied phone keys through this same function, so a denied
key is denied in every spelling.
"""

from __future__ import annotations

import string

from guiagent.tools.keys import UnknownKey, resolve_key

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
    "WAKEUP": 224, "VOICE_ASSIST": 231, "HELP": 259, "SOFT_SLEEP": 276, "CUT": 277, "COPY": 278, "PASTE": 279, "ALL_APPS": 284,
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

# canonical key (guiagent.tools.keys) -> keycode, where the KeyEvent name differs from the canonical
# name; canonical names that are KeyEvent names (back, volume_up, power, f1 ...) need no entry.
ANDROID_KEYS: dict[str, int] = {
    "enter": 66, "esc": 111, "tab": 61, "space": 62,
    # Android's DEL is the keyboard's backspace; its FORWARD_DEL (112) is what a PC calls Delete. Models
    # on a phone mean backspace by "delete" and "del" (adb's own name, KEYCODE_DEL), so both are 67.
    "backspace": 67, "delete": 67, "insert": 124, "home": 3, "end": 123, "pageup": 92, "pagedown": 93,
    "up": 19, "down": 20, "left": 21, "right": 22, "dpad_center": 23,
    "ctrl": 113, "ctrl_r": 114, "alt": 57, "alt_r": 58, "shift": 59, "shift_r": 60, "super": 117, "super_r": 118,
    "capslock": 115, "scrolllock": 116, "numlock": 143, "printscreen": 120, "pause": 121, "menu": 82,
    "app_switch": 187, "volume_mute": 164,
    **{f"kp_{d}": 144 + d for d in range(10)},
    "kp_add": 157, "kp_subtract": 156, "kp_multiply": 155, "kp_divide": 154, "kp_decimal": 158,
    **{c: 29 + i for i, c in enumerate(string.ascii_lowercase)},
    **{c: 29 + i for i, c in enumerate(string.ascii_uppercase)},
    **{str(d): 7 + d for d in range(10)},
    ",": 55, ".": 56, "`": 68, "-": 69, "=": 70, "[": 71, "]": 72, "\\": 73, ";": 74, "'": 75, "/": 76,
    "@": 77, "+": 81, "*": 17, "#": 18,
}

MAX_KEYCODE = 400  # keycodes are small integers; anything larger is a typo, not a key


def android_code(canonical: str) -> int | None:
    """The keycode of a canonical key name, or None when a phone has no such key."""
    if canonical in ANDROID_KEYS:
        return ANDROID_KEYS[canonical]
    return KEYCODES.get("KEYCODE_" + canonical.upper()) if len(canonical) > 1 else None


def keycode(name: str) -> int:
    """The keycode a name means; raises `UnknownKey` with a one-line hint.

    Tried in order: a decimal number (the keycode itself, as ``adb shell input keyevent 66``),
    a ``KEYCODE_*`` name, a name of the shared key vocabulary (`guiagent.tools.keys`), and a
    KeyEvent name without its prefix (``camera``, ``MEDIA_PLAY``).
    """
    raw = name.strip()
    if raw.isascii() and raw.isdigit():
        code = int(raw)
        if code > MAX_KEYCODE:
            raise UnknownKey(f"keycode {code} is out of range (Android keycodes are 0..{MAX_KEYCODE})")
        return code
    upper = raw.upper().replace("-", "_").replace(" ", "_")
    if not upper.startswith("KEYCODE_"):
        try:
            named = android_code(resolve_key(raw))
        except UnknownKey:
            named = None
        if named is not None:
            return named
        upper = "KEYCODE_" + upper
    if upper in KEYCODES:
        return KEYCODES[upper]
    import difflib

    close = difflib.get_close_matches(upper, KEYCODES, n=3, cutoff=0.75)
    hint = f" (did you mean {', '.join(c.removeprefix('KEYCODE_').lower() for c in close)}?)" if close else ""
    raise UnknownKey(
        f"unknown key {name[:40]!r}{hint}; use an Android key name (volume_up, power, camera, clear, "
        f"enter, back, home, KEYCODE_*) or a keycode number"
    )


__all__ = ["ANDROID_KEYS", "KEYCODES", "NAMES", "UnknownKey", "android_code", "keycode"]
