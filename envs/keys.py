"""Key names as models write them -> pyautogui key names (the one table).

Models write keys in many spellings: ``ctrl``/``Control``, ``Return``/``enter``,
``ArrowUp``, ``Page_Down``/``pgdn``, xdotool keysyms (``BackSpace``, ``Prior``),
``cmd``/``super``/``win``. Names are case-insensitive and ``_``, ``-`` and spaces
inside them are ignored. Only names that pyautogui can press on X11 are listed
(its media and IME keys map to nothing there and would be dropped silently).

Single characters are printable ASCII (``a``, ``Z``, ``5``, ``/``, ``+``). A lone
upper-case letter types that letter (pyautogui adds shift); inside a chord with
other keys a letter is lower-cased, because shortcut notation writes ``ctrl+C``
for ctrl+c (ask for ``ctrl+shift+c`` to get shift).
"""

from __future__ import annotations

import string

from guiagent.envs.base import ActionError

# normalized spelling -> pyautogui name. Normalized = lower-case, "_", "-" and " " removed.
KEY_ALIASES: dict[str, str] = {
    # modifiers
    "ctrl": "ctrl", "control": "ctrl", "ctl": "ctrl", "controll": "ctrlleft", "controlr": "ctrlright",
    "ctrlleft": "ctrlleft", "ctrlright": "ctrlright", "lctrl": "ctrlleft", "rctrl": "ctrlright",
    "alt": "alt", "option": "alt", "opt": "alt", "altl": "altleft", "altr": "altright", "altleft": "altleft",
    "altright": "altright", "altgr": "altright",
    "shift": "shift", "shiftl": "shiftleft", "shiftr": "shiftright", "shiftleft": "shiftleft",
    "shiftright": "shiftright", "lshift": "shiftleft", "rshift": "shiftright",
    # cmd/super/win/meta all become Super_L on X11 (pyautogui's 'win'); it is Mod4 on Xvfb's keymap.
    "win": "win", "windows": "win", "super": "win", "superl": "winleft", "superr": "winright", "cmd": "win",
    "command": "win", "meta": "win", "metal": "win", "winleft": "winleft", "winright": "winright",
    "capslock": "capslock", "numlock": "numlock", "scrolllock": "scrolllock",
    # editing and navigation
    "enter": "enter", "return": "enter", "kpenter": "enter", "ret": "enter",
    "esc": "esc", "escape": "esc",
    "tab": "tab", "space": "space", "spacebar": "space",
    "backspace": "backspace", "bksp": "backspace",
    "delete": "delete", "del": "delete",
    "insert": "insert", "ins": "insert",
    "home": "home", "end": "end",
    "pageup": "pageup", "pgup": "pageup", "prior": "pageup",
    "pagedown": "pagedown", "pgdn": "pagedown", "pgdown": "pagedown", "next": "pagedown",
    "up": "up", "down": "down", "left": "left", "right": "right",
    "arrowup": "up", "arrowdown": "down", "arrowleft": "left", "arrowright": "right",
    "uparrow": "up", "downarrow": "down", "leftarrow": "left", "rightarrow": "right",
    "print": "printscreen", "printscreen": "printscreen", "prtsc": "printscreen", "prtscr": "printscreen",
    "sysrq": "printscreen", "pause": "pause", "break": "pause",
    "menu": "apps", "apps": "apps", "contextmenu": "apps", "help": "help",
    # keypad
    **{f"kp{i}": f"num{i}" for i in range(10)}, **{f"num{i}": f"num{i}" for i in range(10)},
    "kpadd": "add", "kpsubtract": "subtract", "kpmultiply": "multiply", "kpdivide": "divide",
    "kpdecimal": "decimal",
    # function keys
    **{f"f{i}": f"f{i}" for i in range(1, 13)},
    # xdotool keysym names of punctuation
    "plus": "+", "minus": "-", "equal": "=", "equals": "=", "comma": ",", "period": ".", "dot": ".",
    "slash": "/", "backslash": "\\", "semicolon": ";", "colon": ":", "apostrophe": "'", "quote": "'",
    "quotedbl": '"', "grave": "`", "backtick": "`", "asciitilde": "~", "tilde": "~", "exclam": "!",
    "at": "@", "numbersign": "#", "hash": "#", "dollar": "$", "percent": "%", "asciicircum": "^",
    "ampersand": "&", "asterisk": "*", "parenleft": "(", "parenright": ")", "bracketleft": "[",
    "bracketright": "]", "braceleft": "{", "braceright": "}", "less": "<", "greater": ">",
    "question": "?", "underscore": "_", "bar": "|", "pipe": "|",
}

# Printable ASCII, space included; pyautogui's X11 table has every one of them.
_CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation + " ")

_HINT = "use names like ctrl, alt, shift, enter, esc, tab, f5, a"


def normalize(name: str) -> str:
    """The lookup form of a multi-character key name."""
    return name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")


def resolve_key(name: str) -> str:
    """The pyautogui name of one key; raises ActionError for an unknown name."""
    if not isinstance(name, str) or not name:
        raise ActionError(f"unknown key {name!r}; {_HINT}")
    if len(name) == 1:
        if name in _CHARS:
            return name
        raise ActionError(f"key {name!r} cannot be pressed; type text with action=type, or {_HINT}")
    key = KEY_ALIASES.get(normalize(name))
    if key is None:
        stripped = name.strip()
        if len(stripped) == 1:  # " a " -> "a"
            return resolve_key(stripped)
        raise ActionError(f"unknown key {name[:40]!r}; {_HINT}")
    return key


def resolve_keys(keys: list[str]) -> list[str]:
    """pyautogui names for a chord, pressed in this order.

    An element such as ``"ctrl+c"`` is split at ``+`` (``"+"`` alone is the plus
    key). Every name is checked before anything is pressed, so an unknown name
    never leaves a modifier held down.
    """
    names: list[str] = []
    for k in keys:
        names += _split(k) if isinstance(k, str) else [k]
    resolved = [resolve_key(n) for n in names]
    if len(resolved) > 1:
        resolved = [k.lower() if len(k) == 1 and k.isalpha() else k for k in resolved]
    return resolved


def _split(chord: str) -> list[str]:
    # "ctrl+c" -> ["ctrl", "c"]; "ctrl++" -> ["ctrl", "+"]; "+" -> ["+"].
    if len(chord) < 2 or "+" not in chord:
        return [chord]
    tail = ["+"] if chord.endswith("++") else []
    head = chord[:-2] if tail else chord
    return [p for p in head.split("+") if p.strip()] + tail


__all__ = ["KEY_ALIASES", "normalize", "resolve_key", "resolve_keys"]
