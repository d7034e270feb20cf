"""Helpers of the simphone tasks: device state through adb, and the oracle's view of the UI.

The oracle reads the widget tree that ``uiautomator dump`` prints over adb (text,
resource id, content description, bounds in device pixels), the same way it would on
a real phone, and answers with actions in device pixels (the screen units of adb).
"""

from __future__ import annotations

import re
from typing import Any

from guiagent.tools.actions import Answer, Click, LongPress, MobileType, Swipe, SystemButton

LAUNCHER = "com.android.launcher3"
SETTINGS = ("com.android.settings", "Settings")
NOTES = ("com.simphone.notes", "Notes")
CONTACTS = ("com.android.contacts", "Contacts")
CLOCK = ("com.android.deskclock", "Clock")

FIRST_NAMES = ("Ava", "Ben", "Chloe", "Dmitri", "Elena", "Felix", "Hana", "Ivan", "Jonas", "Keiko", "Lucas",
               "Maya", "Nadia", "Omar", "Priya", "Rosa", "Sven", "Tariq", "Uma", "Yusuf")
LAST_NAMES = ("Abbott", "Becker", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallo", "Haddad", "Ito", "Kowalski",
              "Larsen", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Sato", "Tanaka", "Weber")
WORDS = ("pick up the dry cleaning", "water the plants", "book a table for friday", "renew the passport",
         "call grandma", "buy a birthday card", "return the library books", "pay the electricity bill",
         "clean the garage", "order printer ink")
LABELS = ("Gym", "Medicine", "Laundry", "Meeting", "Pick up kids", "Yoga", "Bus", "Study")


# ---------------------------------------------------------------------- device state


def setting(env: Any, table: str, key: str) -> str:
    return env.shell(f"settings get {table} {key}").strip()


def put_setting(env: Any, table: str, key: str, value: str) -> None:
    env.shell(f"settings put {table} {key} {value}")


def rows(env: Any, uri: str) -> list[dict[str, str]]:
    """``content query`` rows as dicts (values as strings; "NULL" for null)."""
    out = env.shell(f"content query --uri {uri}")
    result = []
    for line in out.splitlines():
        m = re.match(r"Row: \d+ (.*)", line.strip())
        if not m:
            continue
        row: dict[str, str] = {}
        # values may contain ", " themselves: split only before "key=" tokens
        for part in re.split(r", (?=[A-Za-z_][A-Za-z0-9_]*=)", m.group(1)):
            k, _, v = part.partition("=")
            row[k] = v
        result.append(row)
    return result


def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


# ---------------------------------------------------------------------- UI for the oracle


def find(nodes: list[dict], **match: str) -> dict | None:
    """The first node whose attributes match: text, id (suffix), desc, summary-of (a row's text)."""
    for n in nodes:
        if "text" in match and n.get("text") != match["text"]:
            continue
        if "id" in match and not n.get("resource-id", "").endswith("/" + match["id"]):
            continue
        if "desc" in match and n.get("content-desc") != match["desc"]:
            continue
        return n
    return None


def center(n: dict) -> tuple[int, int]:
    x1, y1, x2, y2 = n["rect"]
    return (x1 + x2) // 2, (y1 + y2) // 2


def required(n: dict | None, what: str = "the widget") -> dict:
    """`n`, found by `find`; a clear error when it is not on screen (the oracle's episode then fails)."""
    if n is None:
        raise LookupError(f"{what} is not on screen")
    return n


def tap(n: dict | None) -> Click:
    return Click(coordinate=center(required(n, "the widget to tap")))


def title(nodes: list[dict]) -> str | None:
    n = find(nodes, id="toolbar_title")
    return n.get("text") if n else None


def foreground(nodes: list[dict]) -> str:
    return nodes[0].get("package", "") if nodes else ""


def goto(nodes: list[dict], app: tuple[str, str]) -> Click | SystemButton | None:
    """The action that brings `app` forward (Home, then its launcher icon); None when it is there."""
    package, label = app
    if foreground(nodes) == package:
        return None
    if foreground(nodes) != LAUNCHER:
        return SystemButton(button="Home")
    icon = find(nodes, desc=label)
    if icon is None:
        raise RuntimeError(f"no launcher icon {label!r}")
    return tap(icon)


def fill(nodes: list[dict], field_id: str, text: str) -> Click | MobileType | None:
    """Focus the field, then type; None when it already holds `text`."""
    n = find(nodes, id=field_id)
    if n is None:
        raise RuntimeError(f"no field {field_id!r} on screen")
    if n.get("text") == text:
        return None
    if n.get("focused") != "true":
        return tap(n)
    return MobileType(text=text[len(n.get("text") or ""):] if text.startswith(n.get("text") or "") else text)


def scroll_down() -> Swipe:
    """Reveal the rows below (finger moves up)."""
    return Swipe(coordinate=(540, 1800), coordinate2=(540, 900))


def long_press(n: dict) -> LongPress:
    return LongPress(coordinate=center(n), time=1.0)


def answer(text: str) -> Answer:
    return Answer(text=text)


def row_switch(nodes: list[dict], row: dict, switch_id: str) -> dict | None:
    """The switch on the same row as `row` (its vertical centre lies inside the row)."""
    _, y1, _, y2 = row["rect"]
    for n in nodes:
        if n.get("resource-id", "").endswith("/" + switch_id):
            cy = (n["rect"][1] + n["rect"][3]) // 2
            if y1 <= cy <= y2:
                return n
    return None


def fully_visible(n: dict, nodes: list[dict]) -> bool:
    """A list row whose whole height is on screen (a clipped row is scrolled to first)."""
    x1, y1, x2, y2 = n["rect"]
    return y2 - y1 >= 150
