"""The launcher and the four apps of the simulated phone: Settings, Notes, Contacts, Clock.

Each app turns its top screen (a dict in the phone state's task stack) into widgets,
and its widgets' handlers change the state. Screens:

- Settings: ``main`` (Wi-Fi, Bluetooth, Airplane mode switches; About phone), ``about``.
- Notes: ``list`` (notes, "+" button), ``edit`` (one text field, Save), ``delete`` dialog
  (long press on a note).
- Contacts: ``list`` (scrollable), ``detail``, ``add`` (Name, Phone, Save).
- Clock: ``alarms`` (time, label, on/off switch; "+" button), ``add`` (Hour, Minute,
  Label, Save), ``delete`` dialog (long press on an alarm).

Back from a form discards it; Save validates and stores it.
"""

from __future__ import annotations

from typing import Any, Protocol

from guiagent.envs.simphone.state import LAUNCHER
from guiagent.envs.simphone.ui import ERROR, SUBTEXT, TEXT, Metrics, Widget


class PhoneView(Protocol):
    """What the apps use of the phone (`guiagent.envs.simphone.phone.Phone` provides it; the apps do not
    import it, so the phone can own its apps without an import cycle)."""

    m: Metrics
    state: dict[str, Any]
    props: dict[str, str]

    def changed(self) -> None: ...

    def next_id(self, table: str) -> int: ...

    def launchable(self) -> list[App]: ...

    def launch(self, package: str) -> None: ...

    def top(self) -> dict: ...

    def push(self, screen: dict) -> None: ...

    def pop(self) -> None: ...

    def back_in_app(self) -> None: ...

    def focus(self, field: str | None) -> None: ...

    def keyboard_height(self) -> int: ...


class Builder:
    """Collects one screen's widgets for an app, with its colour and package."""

    def __init__(self, phone: PhoneView, pkg: str, color: tuple[int, int, int]) -> None:
        self.phone = phone
        self.m = phone.m
        self.pkg = pkg
        self.color = color
        self.widgets: list[Widget] = []
        self.top = self.m.status_h

    def add(self, rect, **kw) -> Widget:
        kw.setdefault("pkg", self.pkg)
        kw.setdefault("color", self.color)
        x, y, width, height = (int(v) for v in rect)
        w = Widget(rect=(x, y, width, height), **kw)
        self.widgets.append(w)
        return w

    def rid(self, name: str) -> str:
        return f"{self.pkg}:id/{name}"

    @property
    def bottom(self) -> int:
        """Bottom of the app's content area (above the keyboard when it is up)."""
        return self.m.bottom - self.phone.keyboard_height()

    def appbar(self, title: str, up: bool = False, action: tuple[str, str, object] | None = None) -> None:
        m = self.m
        y1, y2 = m.status_h, m.status_h + m.appbar_h
        self.add((0, y1, m.width, y2), cls="android.widget.TextView", text=title, rid=self.rid("toolbar_title"),
                 style="appbar_titled" if up else "appbar")
        if up:
            self.add((0, y1, m.s(140), y2), cls="android.widget.ImageButton", desc="Navigate up",
                     rid=self.rid("navigate_up"), style="upbutton", clickable=True, on_tap=self.phone.back_in_app)
        if action is not None:
            text, rid, handler = action
            self.add((m.width - m.s(260), y1, m.width, y2), cls="android.widget.Button", text=text,
                     rid=self.rid(rid), style="barbutton", clickable=True, on_tap=handler)
        self.top = y2

    def field(self, screen: dict, name: str, hint: str, y: int, h: int, multiline: bool = False) -> int:
        """An EditText bound to ``screen["fields"][name]``; tapping focuses it."""
        m = self.m
        focused = screen.get("focus") == name
        self.add((m.pad, y, m.width - m.pad, y + h), cls="android.widget.EditText",
                 text=screen["fields"].get(name, ""), hint=hint, rid=self.rid(name), style="field",
                 clickable=True, focused=focused, on_tap=lambda: self.phone.focus(name))
        return y + h

    def scroll_list(self, screen: dict, rows: list[dict], row_h: int, rid: str, empty: str) -> None:
        """Rows in a scrollable viewport from `self.top` to `self.bottom`; ``screen["scroll"]`` px."""
        m = self.m
        top, bottom = self.top, self.bottom
        view_h = bottom - top
        total = row_h * len(rows)
        max_scroll = max(0, total - view_h)
        scroll = min(max(0, int(screen.get("scroll", 0))), max_scroll)
        screen["scroll"] = scroll

        def on_scroll(dy: int, screen=screen, max_scroll=max_scroll) -> None:
            new = min(max(0, screen.get("scroll", 0) + dy), max_scroll)
            if new != screen.get("scroll", 0):
                screen["scroll"] = new
                self.phone.changed()

        self.add((0, top, m.width, bottom), cls="androidx.recyclerview.widget.RecyclerView", rid=self.rid(rid),
                 scrollable=max_scroll > 0, on_scroll=on_scroll, style="view")
        if not rows:
            self.add((0, top + m.s(200), m.width, top + m.s(320)), cls="android.widget.TextView", text=empty,
                     style="center_label", color=SUBTEXT)
            return
        clip = (0, top, m.width, bottom)
        for i, row in enumerate(rows):
            y = top + i * row_h - scroll
            if y + row_h <= top or y >= bottom:
                continue
            switch = row.pop("switch", None)
            self.add((0, y, m.width, y + row_h), clip=clip, clickable=True, **row)
            if switch is not None:
                checked, handler, srid = switch
                self.add((m.width - m.s(220), y, m.width, y + row_h), cls="android.widget.Switch", clip=clip,
                         checkable=True, checked=checked, clickable=True, on_tap=handler, rid=self.rid(srid),
                         style="switch", text="ON" if checked else "OFF")

    def fab(self, desc: str, rid: str, handler) -> None:
        m = self.m
        x2 = m.width - m.pad
        y2 = self.bottom - m.pad
        self.add((x2 - m.fab, y2 - m.fab, x2, y2), cls="android.widget.ImageButton", desc=desc, rid=self.rid(rid),
                 style="fab", clickable=True, on_tap=handler)

    def error(self, text: str, y: int) -> None:
        if text:
            self.add((self.m.pad, y, self.m.width - self.m.pad, y + self.m.s(80)), cls="android.widget.TextView",
                     text=text, rid=self.rid("error"), style="label", color=ERROR)

    def dialog(self, title: str, message: str, confirm: str, on_confirm, on_cancel) -> None:
        m = self.m
        # Tapping outside a dialog dismisses it, and the scrim keeps taps off the list below.
        self.add((0, 0, m.width, m.height), style="scrim", pkg="android", clickable=True, on_tap=on_cancel)
        dh = m.s(440)
        y1 = (m.height - dh) // 2
        x1, x2 = m.s(80), m.width - m.s(80)
        self.add((x1, y1, x2, y1 + dh), cls="android.widget.FrameLayout", text=title, hint=message, style="dialog",
                 rid="android:id/parentPanel")
        by = y1 + dh - m.s(150)
        self.add((x2 - m.s(560), by, x2 - m.s(300), by + m.s(120)), cls="android.widget.Button", text="Cancel",
                 rid="android:id/button2", style="textbutton", clickable=True, on_tap=on_cancel)
        self.add((x2 - m.s(290), by, x2 - m.s(40), by + m.s(120)), cls="android.widget.Button", text=confirm,
                 rid="android:id/button1", style="textbutton", clickable=True, on_tap=on_confirm, color=ERROR)


class App:
    """An app: identity (package, launcher activity, label, icon colour) and its screens."""

    package = ""
    activity = ""
    label = ""
    color: tuple[int, int, int] = (96, 125, 139)
    root: dict = {}
    # Text fields per screen name, in focus order (Enter/Tab move to the next one).
    fields: dict[str, tuple[str, ...]] = {}
    multiline: frozenset[str] = frozenset()

    def __init__(self, phone: PhoneView) -> None:
        self.phone = phone

    @property
    def component(self) -> str:
        return f"{self.package}/{self.activity}"

    def root_screen(self) -> dict:
        return dict(self.root)

    def build(self, b: Builder, screen: dict) -> None:
        raise NotImplementedError

    def build_stack(self, b: Builder, stack: list[dict]) -> None:
        """Widgets for the task's screens (the top one, unless it is a dialog over another)."""
        self.build(b, stack[-1])


class Launcher(App):
    package = LAUNCHER
    activity = ".uioverrides.QuickstepLauncher"
    label = "Home"

    def build_home(self, b: Builder) -> None:
        m = self.phone.m
        cols = 4
        cell_w = m.width // cols
        cell_h = m.s(300)
        y0 = m.status_h + m.s(260)
        b.add((0, m.status_h + m.s(60), m.width, m.status_h + m.s(200)), cls="android.widget.TextClock",
              text="12:00", style="center_label", color=(255, 255, 255), size=m.s(110), pkg=self.package)
        for i, app in enumerate(self.phone.launchable()):
            col, row = i % cols, i // cols
            x1, y1 = col * cell_w, y0 + row * cell_h
            b.add((x1, y1, x1 + cell_w, y1 + cell_h), cls="android.widget.TextView", text=app.label,
                  desc=app.label, rid=f"{self.package}:id/icon", style="icon", clickable=True, color=app.color,
                  pkg=self.package, on_tap=lambda pkg=app.package: self.phone.launch(pkg))


class SettingsApp(App):
    package = "com.android.settings"
    activity = ".Settings"
    label = "Settings"
    color = (84, 110, 122)
    root = {"name": "main"}

    TOGGLES = (("Wi-Fi", "wifi_on", "switch_wifi"), ("Bluetooth", "bluetooth_on", "switch_bluetooth"),
               ("Airplane mode", "airplane_mode_on", "switch_airplane"))

    def toggle(self, key: str) -> None:
        g = self.phone.state["settings"]["global"]
        on = g.get(key, "0") != "1"
        g[key] = "1" if on else "0"
        if key == "airplane_mode_on" and on:
            # Airplane mode turns the radios off, as on a phone.
            g["wifi_on"] = "0"
            g["bluetooth_on"] = "0"
        self.phone.changed()

    def build(self, b: Builder, screen: dict) -> None:
        m = self.phone.m
        g = self.phone.state["settings"]["global"]
        if screen["name"] == "about":
            b.appbar("About phone", up=True)
            props = self.phone.props
            y = b.top + m.s(20)
            for title, value in (("Device name", g.get("device_name", "SimPhone")),
                                 ("Model", props["ro.product.model"]),
                                 ("Android version", props["ro.build.version.release"]),
                                 ("Build number", props["ro.build.display.id"])):
                b.add((0, y, m.width, y + m.row_h), cls="android.widget.TextView", text=title, hint=value,
                      style="row", rid=b.rid("about_item"))
                y += m.row_h
            return
        b.appbar("Settings")
        rows: list[dict[str, Any]] = []
        for title, key, srid in self.TOGGLES:
            on = g.get(key, "0") == "1"
            rows.append(dict(cls="android.widget.LinearLayout", text=title, hint="On" if on else "Off",
                             style="row", rid=b.rid(srid.replace("switch_", "row_")),
                             on_tap=lambda key=key: self.toggle(key),
                             switch=(on, lambda key=key: self.toggle(key), srid)))
        rows.append(dict(cls="android.widget.LinearLayout", text="About phone", hint="SimPhone", style="row",
                         rid=b.rid("row_about"), on_tap=lambda: self.phone.push({"name": "about"})))
        b.scroll_list(screen, rows, m.row_h, "settings_list", "")


class NotesApp(App):
    package = "com.simphone.notes"
    activity = ".NotesActivity"
    label = "Notes"
    color = (245, 166, 35)
    root = {"name": "list", "scroll": 0}
    fields = {"edit": ("text",)}
    multiline = frozenset({"text"})

    def notes(self) -> list[dict]:
        return self.phone.state["notes"]

    def new_note(self) -> None:
        self.phone.push({"name": "edit", "note_id": None, "fields": {"text": ""}, "focus": "text"})
        self.phone.state["ime_shown"] = True

    def open_note(self, note: dict) -> None:
        self.phone.push({"name": "edit", "note_id": note["id"], "fields": {"text": note["text"]}, "focus": None})

    def save(self) -> None:
        screen = self.phone.top()
        text = screen["fields"]["text"]
        if screen["note_id"] is None:
            if text.strip():
                self.notes().append({"id": self.phone.next_id("notes"), "text": text})
        else:
            for note in self.notes():
                if note["id"] == screen["note_id"]:
                    note["text"] = text
        self.phone.pop()

    def delete(self, note_id: int) -> None:
        self.phone.state["notes"] = [n for n in self.notes() if n["id"] != note_id]
        self.phone.pop()

    def build(self, b: Builder, screen: dict) -> None:
        m = self.phone.m
        if screen["name"] == "edit":
            b.appbar("New note" if screen["note_id"] is None else "Edit note", up=True,
                     action=("Save", "save", self.save))
            b.field(screen, "text", "Note", b.top + m.s(24), b.bottom - b.top - m.s(48), multiline=True)
            return
        b.appbar("Notes")
        rows = [dict(cls="android.widget.LinearLayout", text=n["text"].split("\n", 1)[0] or " ",
                     hint=(n["text"].split("\n", 1) + [""])[1].replace("\n", " "), style="row",
                     rid=b.rid("note_item"), on_tap=lambda n=n: self.open_note(n),
                     on_long=lambda n=n: self.phone.push({"name": "delete", "note_id": n["id"]}))
                for n in self.notes()]
        b.scroll_list(screen, rows, m.row_h, "notes_list", "No notes yet")
        b.fab("New note", "fab_new", self.new_note)
        if screen["name"] == "delete":
            b.dialog("Delete this note?", "This cannot be undone.", "Delete",
                     lambda: self.delete(screen["note_id"]), self.phone.pop)

    def build_stack(self, b: Builder, stack: list[dict]) -> None:
        # The delete dialog draws over the list it came from.
        if stack[-1]["name"] == "delete" and len(stack) > 1:
            base = dict(stack[-2], name="delete", note_id=stack[-1]["note_id"])
            self.build(b, base)
            stack[-2]["scroll"] = base["scroll"]
        else:
            self.build(b, stack[-1])


class ContactsApp(App):
    package = "com.android.contacts"
    activity = ".activities.PeopleActivity"
    label = "Contacts"
    color = (25, 118, 210)
    root = {"name": "list", "scroll": 0}
    fields = {"add": ("name", "phone")}

    def contacts(self) -> list[dict]:
        return sorted(self.phone.state["contacts"], key=lambda c: (c["name"].casefold(), c["id"]))

    def add(self) -> None:
        self.phone.push({"name": "add", "fields": {"name": "", "phone": ""}, "focus": "name", "error": ""})
        self.phone.state["ime_shown"] = True

    def save(self) -> None:
        screen = self.phone.top()
        name = screen["fields"]["name"].strip()
        if not name:
            screen["error"] = "Name is required"
            self.phone.changed()
            return
        self.phone.state["contacts"].append(
            {"id": self.phone.next_id("contacts"), "name": name, "phone": screen["fields"]["phone"].strip()})
        self.phone.pop()

    def build(self, b: Builder, screen: dict) -> None:
        m = self.phone.m
        if screen["name"] == "add":
            b.appbar("Create contact", up=True, action=("Save", "save", self.save))
            y = b.field(screen, "name", "Name", b.top + m.s(40), m.s(140))
            y = b.field(screen, "phone", "Phone", y + m.s(40), m.s(140))
            b.error(screen.get("error", ""), y + m.s(20))
            return
        if screen["name"] == "detail":
            contact = next((c for c in self.phone.state["contacts"] if c["id"] == screen["contact_id"]), None)
            b.appbar(contact["name"] if contact else "Contact", up=True)
            if contact:
                y = b.top + m.s(40)
                b.add((0, y, m.width, y + m.row_h), cls="android.widget.TextView", text=contact["phone"] or "No phone",
                      hint="Mobile", style="row", rid=b.rid("phone"))
            return
        b.appbar("Contacts")
        rows = [dict(cls="android.widget.LinearLayout", text=c["name"], avatar=c["name"], style="row",
                     rid=b.rid("contact_item"),
                     on_tap=lambda c=c: self.phone.push({"name": "detail", "contact_id": c["id"]}))
                for c in self.contacts()]
        b.scroll_list(screen, rows, m.row_h, "contacts_list", "No contacts")
        b.fab("Add contact", "fab_add", self.add)


class ClockApp(App):
    package = "com.android.deskclock"
    activity = ".DeskClock"
    label = "Clock"
    color = (63, 81, 181)
    root = {"name": "alarms", "scroll": 0}
    fields = {"add": ("hour", "minute", "label")}

    def alarms(self) -> list[dict]:
        return sorted(self.phone.state["alarms"], key=lambda a: (a["hour"], a["minute"], a["id"]))

    def toggle(self, alarm_id: int) -> None:
        for a in self.phone.state["alarms"]:
            if a["id"] == alarm_id:
                a["enabled"] = not a["enabled"]
        self.phone.changed()

    def add(self) -> None:
        self.phone.push({"name": "add", "fields": {"hour": "", "minute": "", "label": ""}, "focus": "hour",
                         "error": ""})
        self.phone.state["ime_shown"] = True

    def save(self) -> None:
        screen = self.phone.top()
        f = screen["fields"]
        try:
            hour, minute = int(f["hour"].strip()), int(f["minute"].strip())
            if not (0 <= hour <= 23 and 0 <= minute <= 59):
                raise ValueError
        except ValueError:
            screen["error"] = "Enter an hour 0-23 and a minute 0-59"
            self.phone.changed()
            return
        self.phone.state["alarms"].append({"id": self.phone.next_id("alarms"), "hour": hour, "minute": minute,
                                           "label": f["label"].strip(), "enabled": True})
        self.phone.pop()

    def delete(self, alarm_id: int) -> None:
        self.phone.state["alarms"] = [a for a in self.phone.state["alarms"] if a["id"] != alarm_id]
        self.phone.pop()

    def build(self, b: Builder, screen: dict) -> None:
        m = self.phone.m
        if screen["name"] == "add":
            b.appbar("Add alarm", up=True, action=("Save", "save", self.save))
            y = b.field(screen, "hour", "Hour (0-23)", b.top + m.s(40), m.s(140))
            y = b.field(screen, "minute", "Minute (0-59)", y + m.s(40), m.s(140))
            y = b.field(screen, "label", "Label", y + m.s(40), m.s(140))
            b.error(screen.get("error", ""), y + m.s(20))
            return
        b.appbar("Alarms")
        rows = [dict(cls="android.widget.LinearLayout", text=f"{a['hour']:02d}:{a['minute']:02d}",
                     hint=a["label"] or "Alarm", checked=a["enabled"], style="bigrow", rid=b.rid("alarm_item"),
                     on_tap=lambda a=a: self.toggle(a["id"]),
                     on_long=lambda a=a: self.phone.push({"name": "delete", "alarm_id": a["id"]}),
                     switch=(a["enabled"], lambda a=a: self.toggle(a["id"]), "onoff"))
                for a in self.alarms()]
        b.scroll_list(screen, rows, m.s(230), "alarm_list", "No alarms")
        b.fab("Add alarm", "fab", self.add)
        if screen["name"] == "delete":
            b.dialog("Delete this alarm?", "", "Delete", lambda: self.delete(screen["alarm_id"]), self.phone.pop)

    def build_stack(self, b: Builder, stack: list[dict]) -> None:
        if stack[-1]["name"] == "delete" and len(stack) > 1:
            base = dict(stack[-2], name="delete", alarm_id=stack[-1]["alarm_id"])
            self.build(b, base)
            stack[-2]["scroll"] = base["scroll"]
        else:
            self.build(b, stack[-1])


APP_CLASSES: tuple[type[App], ...] = (SettingsApp, NotesApp, ContactsApp, ClockApp)

# Installed packages with no launcher icon (what `pm list packages` also shows).
SYSTEM_PACKAGES = (
    "android", "com.android.systemui", "com.android.shell", "com.android.providers.settings",
    "com.android.providers.contacts", "com.android.inputmethod.latin", LAUNCHER,
)
ADB_KEYBOARD_PACKAGE = "com.android.adbkeyboard"

__all__ = ["ADB_KEYBOARD_PACKAGE", "APP_CLASSES", "App", "Builder", "Launcher", "SYSTEM_PACKAGES", "TEXT"]
