"""The simulated phone's state: one JSON-able dict, saved and loaded with --state FILE.

Everything the screen shows and the shell reports comes from this dict, so the same
state and the same inputs always give the same pixels. Layout of the dict:

- ``settings``: ``{"global": {...}, "secure": {...}, "system": {...}}``, the tables that
  ``settings get/put`` read and write (``global wifi_on``, ``bluetooth_on``,
  ``airplane_mode_on``; ``secure default_input_method``; ``system user_rotation``).
- ``notes``: ``[{"id", "text"}]``; ``contacts``: ``[{"id", "name", "phone"}]``;
  ``alarms``: ``[{"id", "hour", "minute", "label", "enabled"}]``.
- ``foreground``: the package on screen; ``tasks``: per package, its stack of screens
  (``{"name": ..., "scroll": ..., "fields": {...}, "focus": ...}``); ``ime_shown``.
- ``imes``: installed input methods; ``screen_on``; ``wm``: override size and density.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

LAUNCHER = "com.android.launcher3"
LATIN_IME = "com.android.inputmethod.latin/.LatinIME"
ADB_IME = "com.android.adbkeyboard/.AdbIME"

STATE_VERSION = 1

_CONTACTS = [
    ("Alice Johnson", "+1 555-0101"), ("Bob Smith", "+1 555-0102"), ("Carol White", "+1 555-0103"),
    ("David Brown", "+1 555-0104"), ("Emma Davis", "+1 555-0105"), ("Frank Miller", "+1 555-0106"),
    ("Grace Wilson", "+1 555-0107"), ("Henry Moore", "+1 555-0108"), ("Isabel Taylor", "+1 555-0109"),
    ("Jack Anderson", "+1 555-0110"), ("Karen Thomas", "+1 555-0111"), ("Liam Jackson", "+1 555-0112"),
    ("Mia Harris", "+1 555-0113"), ("Noah Martin", "+1 555-0114"), ("Olivia Garcia", "+1 555-0115"),
    ("Paul Martinez", "+1 555-0116"), ("Quinn Robinson", "+1 555-0117"), ("Rachel Clark", "+1 555-0118"),
    ("Samuel Lewis", "+1 555-0119"), ("Tina Lee", "+1 555-0120"), ("Victor Walker", "+1 555-0121"),
    ("Wendy Hall", "+1 555-0122"),
]


def default_state() -> dict:
    """The phone as it starts: radios off, two notes, a scrollable contact list, two alarms."""
    return {
        "version": STATE_VERSION,
        "settings": {
            "global": {
                "wifi_on": "0", "bluetooth_on": "0", "airplane_mode_on": "0", "adb_enabled": "1",
                "development_settings_enabled": "1", "auto_time": "1", "device_name": "SimPhone",
            },
            "secure": {
                "default_input_method": LATIN_IME,
                "enabled_input_methods": f"{LATIN_IME}:{ADB_IME}",
                "android_id": "51a7e5e0c0ffee00",
            },
            "system": {
                "screen_brightness": "128", "screen_off_timeout": "60000", "user_rotation": "0",
                "accelerometer_rotation": "0", "font_scale": "1.0",
            },
        },
        "imes": [LATIN_IME, ADB_IME],
        "notes": [
            {"id": 1, "text": "Shopping list\nMilk, eggs, bread"},
            {"id": 2, "text": "Call the dentist on Monday"},
        ],
        "contacts": [{"id": i + 1, "name": n, "phone": p} for i, (n, p) in enumerate(_CONTACTS)],
        "alarms": [
            {"id": 1, "hour": 7, "minute": 30, "label": "Wake up", "enabled": True},
            {"id": 2, "hour": 9, "minute": 0, "label": "Standup", "enabled": False},
        ],
        "foreground": LAUNCHER,
        "tasks": {},
        "ime_shown": False,
        "keyboard": {"shift": False, "symbols": False},
        "screen_on": True,
        "wm": {"size": None, "density": None},
        "volume": 8,
        "files": {},
        "root": False,  # `adb root` makes adbd (and so the shell) run as root
        "clock_offset": 0.0,  # device time - host time, in seconds (`date MMDDhhmmYY.ss` sets it)
        "timezone": "UTC",  # persist.sys.timezone (`service call alarm 3 s16 TZ` sets it)
    }


def load_state(path: str | Path) -> dict:
    """Read a state file (a full state, or a partial one merged over the default).

    Raises ValueError with a one-line message naming the file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: state file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable JSON state file ({exc})") from None
    return merge_state(data, source=str(path))


def merge_state(data: object, source: str = "state") -> dict:
    """A full state from `data` laid over the default state (settings merge per key)."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a simphone state must be a JSON object")
    version = data.get("version", STATE_VERSION)
    if version != STATE_VERSION:
        raise ValueError(f"{source}: state version {version!r} is not supported (expected {STATE_VERSION})")
    state = default_state()
    for key, value in data.items():
        if key not in state:
            raise ValueError(f"{source}: unknown state field {key!r}; known: {', '.join(sorted(state))}")
        if key == "settings":
            if not isinstance(value, dict):
                raise ValueError(f"{source}: 'settings' must be an object of namespaces")
            for ns, table in value.items():
                if ns not in state["settings"] or not isinstance(table, dict):
                    raise ValueError(f"{source}: settings namespace {ns!r} must be one of global, secure, system")
                state["settings"][ns].update({str(k): str(v) for k, v in table.items()})
        else:
            state[key] = copy.deepcopy(value)
    return state


def save_state(state: dict, path: str | Path) -> None:
    """Write the state as pretty JSON (atomically, via a temporary file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
