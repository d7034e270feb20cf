"""The one key vocabulary: every key name a model may send, resolved to canonical names once.

Models write keys in many spellings: ``ctrl``/``Control_L``/``lctrl``, ``Return``/``enter``,
``ArrowUp``, ``Page_Down``/``pgdn``, xdotool keysyms (``BackSpace``, ``Prior``),
``cmd``/``super``/``win``/``Super_L``, Android names (``recents``, ``vol_up``). `resolve_key`
maps one name to its canonical name (a key of `NAMED_KEYS`, or a printable ASCII character);
`resolve_chord` does it for a chord. Names are case-insensitive and ``_``, ``-`` and spaces
inside them are ignored. Each executor maps canonical names to its own codes (the desktop to
pyautogui names, the browser to DOM keys, Android to keycodes); none of them reads a model's
spelling, so the guard, which decides on canonical names too, sees exactly what is pressed.

Rules chosen here:

* Left and right modifiers: ``ctrl``, ``alt``, ``shift``, ``super`` are the left-hand keys
  (what ``Control_L``, ``altleft``, ``Super_L`` … press); ``ctrl_r``, ``alt_r``, ``shift_r``,
  ``super_r`` the right-hand ones. ``cmd``, ``win``, ``meta`` and ``option`` are ``super`` and ``alt``.
* Characters are printable ASCII. A lone upper-case letter is that letter (the desktop adds
  shift); in a chord with other keys letters are lower-cased, because shortcut notation
  writes ``ctrl+C`` for ctrl+c (ask for ``ctrl+shift+c`` to get shift). ``" "`` is ``space``,
  a newline ``enter``, a tab ``tab``.
* A chord may be a list, a string such as ``"ctrl+alt+delete"``, or list items holding
  ``+`` (``["ctrl+shift", "t"]``). ``"+"`` alone is the plus key, and so is a ``+`` right after
  a separator: ``"ctrl++"`` is ctrl and plus. A key named twice is pressed once
  (``["ctrl", "Q", "q"]`` is ctrl+q), and a chord has at most `MAX_CHORD_KEYS` keys after
  splitting, however few list items carry them.
* ``next``/``prior`` are xdotool's names of page down/up; ``apps`` is the context-menu key.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Sequence

MAX_CHORD_KEYS = 8
"""The most keys one chord may name (after splitting items at ``+``)."""


class UnknownKey(ValueError):
    """A key name outside the vocabulary (or a chord that breaks its rules); the message is one line
    that says what to use instead."""


# canonical name -> the other spellings of it. Spellings are matched after `normalize`.
NAMED_KEYS: dict[str, tuple[str, ...]] = {
    # modifiers: the plain name is the left-hand key on every executor
    "ctrl": ("control", "ctl", "ctrl_l", "control_l", "lctrl", "lcontrol", "ctrlleft", "leftctrl", "controlleft",
             "ctrl_left"),
    "ctrl_r": ("control_r", "rctrl", "rcontrol", "ctrlright", "rightctrl", "controlright"),
    "alt": ("alt_l", "lalt", "altleft", "leftalt", "option", "opt"),
    "alt_r": ("ralt", "altright", "rightalt", "altgr", "option_r"),
    "shift": ("shift_l", "lshift", "shiftleft", "leftshift"),
    "shift_r": ("rshift", "shiftright", "rightshift"),
    "super": ("super_l", "superleft", "win", "windows", "winleft", "lwin", "leftwin", "cmd", "command", "meta",
              "meta_l", "metaleft", "os"),
    "super_r": ("superright", "winright", "rwin", "rightwin", "cmd_r", "command_r", "meta_r", "metaright"),
    "capslock": ("caps",), "numlock": (), "scrolllock": (),
    # editing and navigation
    "enter": ("return", "ret", "kp_enter", "\n", "\r", "\r\n"),
    "esc": ("escape",),
    "tab": ("\t",),
    "space": ("spacebar", " "),
    "backspace": ("bksp", "back_space"),
    "delete": ("del",),
    "insert": ("ins",),
    "home": (), "end": (),
    "pageup": ("pgup", "prior", "page_up"),
    "pagedown": ("pgdn", "pgdown", "next", "page_down"),
    "up": ("arrowup", "uparrow", "dpad_up"), "down": ("arrowdown", "downarrow", "dpad_down"),
    "left": ("arrowleft", "leftarrow", "dpad_left"), "right": ("arrowright", "rightarrow", "dpad_right"),
    "printscreen": ("print", "prtsc", "prtscr", "prntscrn", "sysrq"),
    "pause": ("break",),
    "menu": ("apps", "contextmenu"),
    "help": (),
    # keypad
    **{f"kp_{i}": (f"num{i}", f"numpad{i}") for i in range(10)},
    "kp_add": ("add", "numpad_add"), "kp_subtract": ("subtract", "numpad_subtract"),
    "kp_multiply": ("multiply", "numpad_multiply"), "kp_divide": ("divide", "numpad_divide"),
    "kp_decimal": ("decimal", "numpad_dot"),
    # function keys
    **{f"f{i}": () for i in range(1, 25)},
    # phone keys (Android); a desktop cannot press them
    "back": (), "app_switch": ("recent", "recents", "recent_apps", "overview"),
    "volume_up": ("vol_up",), "volume_down": ("vol_down",), "volume_mute": ("mute",),
    "power": ("lock",), "sleep": (), "soft_sleep": (), "wakeup": ("wake",),
    "dpad_center": ("center", "ok", "select"), "notification": ("notifications",), "all_apps": (),
    "media_play_pause": ("play_pause",), "media_next": ("next_track",),
    "media_previous": ("previous", "prev", "previous_track"),
}

# Names of printable characters (xdotool keysyms and plain words) -> the character.
CHAR_NAMES: dict[str, str] = {
    "plus": "+", "minus": "-", "equal": "=", "equals": "=", "comma": ",", "period": ".", "dot": ".",
    "slash": "/", "backslash": "\\", "semicolon": ";", "colon": ":", "apostrophe": "'", "quote": "'",
    "quotedbl": '"', "grave": "`", "backtick": "`", "asciitilde": "~", "tilde": "~", "exclam": "!",
    "at": "@", "numbersign": "#", "hash": "#", "pound": "#", "dollar": "$", "percent": "%", "asciicircum": "^",
    "ampersand": "&", "asterisk": "*", "star": "*", "parenleft": "(", "parenright": ")", "bracketleft": "[",
    "left_bracket": "[", "bracketright": "]", "right_bracket": "]", "braceleft": "{", "braceright": "}",
    "less": "<", "greater": ">", "question": "?", "underscore": "_", "bar": "|", "pipe": "|",
}

CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation)
"""The single characters that are keys (space is `space`)."""

MODIFIERS = frozenset({"ctrl", "ctrl_r", "alt", "alt_r", "shift", "shift_r", "super", "super_r"})

# US layout: a character typed with shift -> the key that carries it.
SHIFTED: dict[str, str] = dict(zip('~!@#$%^&*()_+{}|:"<>?', "`1234567890-=[]\\;',./", strict=True))

_HINT = "use names like ctrl, alt, shift, enter, esc, tab, f5, a"


def normalize(name: str) -> str:
    """The lookup form of a multi-character key name: lower case, no ``_``, ``-`` or spaces."""
    return name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")


def _lookup_table() -> dict[str, str]:
    table: dict[str, str] = {}

    def add(spelling: str, canonical: str) -> None:
        key = spelling if spelling.isspace() else normalize(spelling)
        if table.setdefault(key, canonical) != canonical:
            raise AssertionError(f"key spelling {spelling!r} names both {table[key]} and {canonical}")

    for canonical, aliases in NAMED_KEYS.items():
        for spelling in (canonical, *aliases):
            add(spelling, canonical)
    for spelling, char in CHAR_NAMES.items():
        add(spelling, char)
    return table


_LOOKUP = _lookup_table()


def resolve_key(name: str) -> str:
    """The canonical name of one key; raises `UnknownKey` with a hint for an unknown name.

    A lone upper-case letter stays upper case (see `resolve_chord` for chords).
    """
    if not isinstance(name, str) or not name:
        raise UnknownKey(f"unknown key {name!r}; {_HINT}")
    if name in _LOOKUP:  # whitespace keys: " ", "\n", "\t", "\r\n"
        return _LOOKUP[name]
    stripped = name.strip()
    if len(stripped) == 1:
        if stripped in CHARS:
            return stripped
        raise UnknownKey(f"key {name!r} cannot be pressed; type text with action=type, or {_HINT}")
    key = _LOOKUP.get(normalize(name))
    if key is None:
        close = difflib.get_close_matches(normalize(name), _LOOKUP, n=3, cutoff=0.75)
        names = list(dict.fromkeys(_LOOKUP[c] for c in close))
        hint = f" (did you mean {', '.join(names)}?)" if names else ""
        raise UnknownKey(f"unknown key {name[:40]!r}{hint}; {_HINT}")
    return key


def split_chord(chord: str) -> list[str]:
    """The key names of one chord string: ``"ctrl+c"`` -> ``["ctrl", "c"]``, ``"ctrl++"`` ->
    ``["ctrl", "+"]``, ``"+"`` -> ``["+"]``. Raises `UnknownKey` for a dangling ``+`` or too many keys."""
    names: list[str] = []
    i, n = 0, len(chord)
    while True:
        if chord.startswith("+", i):  # a "+" where a name starts is the plus key
            names.append("+")
            i += 1
        else:
            j = chord.find("+", i)
            j = n if j < 0 else j
            names.append(chord[i:j])
            i = j
        if len(names) > MAX_CHORD_KEYS:
            raise UnknownKey(f"a key chord has at most {MAX_CHORD_KEYS} keys; {chord[:40]!r} has more")
        if i >= n:
            return names
        if chord[i] != "+":
            raise UnknownKey(f"cannot read the chord {chord[:40]!r}: write keys joined by +, e.g. ctrl+shift+t")
        i += 1
        if i >= n:
            raise UnknownKey(f"the chord {chord[:40]!r} ends with a +; write ctrl++ for ctrl and the plus key")


def resolve_chord(keys: Sequence[str] | str) -> list[str]:
    """The canonical keys of a chord, in pressing order, each once.

    `keys` is a list of names (items may hold ``+``-joined chords) or one chord string.
    Every name is checked before anything is pressed, so an unknown name never leaves a
    modifier held down. Raises `UnknownKey`.
    """
    items = [keys] if isinstance(keys, str) else list(keys)
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise UnknownKey(f"unknown key {item!r}; {_HINT}")
        names += split_chord(item) if len(item) > 1 else [item]
        if len(names) > MAX_CHORD_KEYS:
            raise UnknownKey(f"a key chord has at most {MAX_CHORD_KEYS} keys, not {len(names)} or more")
    if not names:
        raise UnknownKey(f"a key chord needs at least one key; {_HINT}")
    resolved = [resolve_key(n) for n in names]
    if len(resolved) > 1:
        resolved = [k.lower() if len(k) == 1 else k for k in resolved]
    return list(dict.fromkeys(resolved))


def family(key: str) -> str:
    """A canonical key with a right-hand modifier read as its left-hand one (``ctrl_r`` -> ``ctrl``)."""
    return key[:-2] if key in MODIFIERS and key.endswith("_r") else key


def held_keys(chord: Sequence[str] | str) -> frozenset[str]:
    """The keys that are down once a chord is pressed, as a shortcut sees them.

    Left and right modifiers are one key (`family`); a shifted character is shift plus the
    key that carries it on a US layout (``"A"`` is shift+a, ``"?"`` shift+/), because that
    is what the desktop presses for it. Order, case and repeats do not matter.
    """
    held: set[str] = set()
    for key in resolve_chord(chord):
        key = family(key)
        if len(key) == 1 and (key.isupper() or key in SHIFTED):
            held.update(("shift", SHIFTED.get(key, key.lower())))
        else:
            held.add(key)
    return frozenset(held)


def normalize_newlines(text: str) -> str:
    """Text with every line break (``\\r\\n``, ``\\r``, ``\\n``) as one ``\\n``: one Enter each when typed."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


__all__ = [
    "CHARS", "CHAR_NAMES", "MAX_CHORD_KEYS", "MODIFIERS", "NAMED_KEYS", "SHIFTED", "UnknownKey", "family",
    "held_keys", "normalize", "normalize_newlines", "resolve_chord", "resolve_key", "split_chord",
]
