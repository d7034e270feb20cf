"""AndroidWorld-style tasks on the simulated phone, checked through adb state.

Each class follows the TaskEval protocol (goal template, seeded parameters,
initialize_task / is_successful / tear_down, complexity -> 10 x complexity steps).
`is_successful` reads the phone over adb (``settings get``, ``content query``), never
the screen. `oracle_action` is this suite's ground truth for the oracle model: it reads
the ``uiautomator dump`` widget tree and answers in device pixels.
"""

from __future__ import annotations

import random
from typing import Any

from guiagent.harness.androidworld import TaskEval
from guiagent.harness.suites.simphone import _ui as ui
from guiagent.tools.actions import Action


class _Toggle(TaskEval):
    """Turn a global setting on or off from the Settings app."""

    key = ""
    switch = ""
    complexity = 1
    app_names = ("settings",)
    tags = ("settings",)

    @classmethod
    def generate_random_params(cls, seed: int) -> dict[str, Any]:
        return {"on_or_off": random.Random(seed).choice(["on", "off"])}

    @property
    def want(self) -> str:
        return "1" if self.params["on_or_off"] == "on" else "0"

    def initialize_task(self, env) -> None:
        super().initialize_task(env)
        ui.put_setting(env, "global", "airplane_mode_on", "0")
        ui.put_setting(env, "global", self.key, "0" if self.want == "1" else "1")  # start in the other state

    def is_successful(self, env) -> float:
        return 1.0 if ui.setting(env, "global", self.key) == self.want else 0.0

    def oracle_action(self, env, step: int) -> Action | None:
        nodes = env.ui_nodes()
        go = ui.goto(nodes, ui.SETTINGS)
        if go is not None:
            return go
        if ui.setting(env, "global", self.key) == self.want:
            return None
        return ui.tap(ui.find(nodes, id=self.switch))


class SystemWifiToggle(_Toggle):
    template = "Turn Wi-Fi {on_or_off}."
    key, switch = "wifi_on", "switch_wifi"


class SystemBluetoothToggle(_Toggle):
    template = "Turn Bluetooth {on_or_off}."
    key, switch = "bluetooth_on", "switch_bluetooth"


class SystemAirplaneModeToggle(_Toggle):
    template = "Turn airplane mode {on_or_off}."
    key, switch = "airplane_mode_on", "switch_airplane"

    def initialize_task(self, env) -> None:
        TaskEval.initialize_task(self, env)
        ui.put_setting(env, "global", self.key, "0" if self.want == "1" else "1")


class ContactsAddContact(TaskEval):
    template = "Create a new contact for {name}. Their number is {number}."
    complexity = 2
    app_names = ("contacts",)
    tags = ("contacts",)

    @classmethod
    def generate_random_params(cls, seed: int) -> dict[str, Any]:
        rng = random.Random(seed)
        name = f"{rng.choice(ui.FIRST_NAMES)} {rng.choice(ui.LAST_NAMES)}"
        number = f"+1 555-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
        return {"name": name, "number": number}

    def is_successful(self, env) -> float:
        for row in ui.rows(env, "content://com.android.contacts/data/phones"):
            if row.get("display_name") == self.params["name"] and \
                    ui.digits(row.get("number")) == ui.digits(self.params["number"]):
                return 1.0
        return 0.0

    def oracle_action(self, env, step: int) -> Action | None:
        nodes = env.ui_nodes()
        if self.is_successful(env):
            return None
        go = ui.goto(nodes, ui.CONTACTS)
        if go is not None:
            return go
        if ui.title(nodes) == "Contacts":
            return ui.tap(ui.find(nodes, desc="Add contact"))
        if ui.title(nodes) == "Create contact":
            return (ui.fill(nodes, "name", self.params["name"]) or ui.fill(nodes, "phone", self.params["number"])
                    or ui.tap(ui.find(nodes, id="save")))
        return ui.SystemButton(button="Back")


class NotesCreateNote(TaskEval):
    template = "Create a new note in the Notes app that says: {text}"
    complexity = 1.5
    app_names = ("notes",)
    tags = ("notes",)

    @classmethod
    def generate_random_params(cls, seed: int) -> dict[str, Any]:
        return {"text": random.Random(seed).choice(ui.WORDS).capitalize()}

    def is_successful(self, env) -> float:
        texts = [r.get("text", "").strip() for r in ui.rows(env, "content://com.simphone.notes/notes")]
        return 1.0 if self.params["text"] in texts else 0.0

    def oracle_action(self, env, step: int) -> Action | None:
        if self.is_successful(env):
            return None
        nodes = env.ui_nodes()
        go = ui.goto(nodes, ui.NOTES)
        if go is not None:
            return go
        if ui.title(nodes) == "Notes":
            return ui.tap(ui.find(nodes, desc="New note"))
        if ui.title(nodes) == "New note":
            return ui.fill(nodes, "text", self.params["text"]) or ui.tap(ui.find(nodes, id="save"))
        return ui.SystemButton(button="Back")


class NotesDeleteNote(TaskEval):
    template = 'Delete the note "{title}" from the Notes app.'
    complexity = 1.5
    app_names = ("notes",)
    tags = ("notes",)

    @classmethod
    def generate_random_params(cls, seed: int) -> dict[str, Any]:
        rng = random.Random(seed)
        titles = rng.sample(ui.WORDS, 3)
        return {"title": titles[0].capitalize(), "others": [t.capitalize() for t in titles[1:]]}

    def initialize_task(self, env) -> None:
        super().initialize_task(env)
        texts = [self.params["title"], *self.params["others"]]
        random.Random(self.params["seed"]).shuffle(texts)
        env.simphone_load({"notes": [{"id": i + 1, "text": t} for i, t in enumerate(texts)]})

    def is_successful(self, env) -> float:
        texts = [r.get("text", "").strip() for r in ui.rows(env, "content://com.simphone.notes/notes")]
        ok = self.params["title"] not in texts and all(o in texts for o in self.params["others"])
        return 1.0 if ok else 0.0

    def oracle_action(self, env, step: int) -> Action | None:
        if self.is_successful(env):
            return None
        nodes = env.ui_nodes()
        go = ui.goto(nodes, ui.NOTES)
        if go is not None:
            return go
        confirm = ui.find(nodes, id="button1")
        if confirm is not None:
            return ui.tap(confirm)
        row = ui.find(nodes, text=self.params["title"])
        if row is not None:
            return ui.long_press(row)
        return ui.SystemButton(button="Back")


class ClockAddAlarm(TaskEval):
    template = 'Set an alarm for {hour}:{minute:02d} labeled "{label}".'
    complexity = 2
    app_names = ("clock",)
    tags = ("clock",)

    @classmethod
    def generate_random_params(cls, seed: int) -> dict[str, Any]:
        rng = random.Random(seed)
        return {"hour": rng.randint(5, 22), "minute": rng.choice([0, 5, 15, 20, 30, 40, 45, 50]),
                "label": rng.choice(ui.LABELS)}

    def _match(self, row: dict) -> bool:
        p = self.params
        return (row.get("hour") == str(p["hour"]) and row.get("minutes") == str(p["minute"])
                and row.get("label") == p["label"] and row.get("enabled") == "1")

    def is_successful(self, env) -> float:
        return 1.0 if any(self._match(r) for r in ui.rows(env, "content://com.android.deskclock/alarms")) else 0.0

    def oracle_action(self, env, step: int) -> Action | None:
        if self.is_successful(env):
            return None
        nodes = env.ui_nodes()
        go = ui.goto(nodes, ui.CLOCK)
        if go is not None:
            return go
        if ui.title(nodes) == "Alarms":
            return ui.tap(ui.find(nodes, desc="Add alarm"))
        if ui.title(nodes) == "Add alarm":
            p = self.params
            return (ui.fill(nodes, "hour", str(p["hour"])) or ui.fill(nodes, "minute", f"{p['minute']:02d}")
                    or ui.fill(nodes, "label", p["label"]) or ui.tap(ui.find(nodes, id="save")))
        return ui.SystemButton(button="Back")


class ClockDisableAlarm(TaskEval):
    template = 'Turn off the "{label}" alarm in the Clock app, and leave the other alarms as they are.'
    complexity = 1
    app_names = ("clock",)
    tags = ("clock",)

    @classmethod
    def generate_random_params(cls, seed: int) -> dict[str, Any]:
        rng = random.Random(seed)
        labels = rng.sample(ui.LABELS, 3)
        times = rng.sample([(6, 0), (6, 45), (7, 15), (8, 30), (12, 0), (18, 30), (21, 0)], 3)
        alarms = [{"id": i + 1, "hour": h, "minute": m, "label": lab, "enabled": True}
                  for i, ((h, m), lab) in enumerate(zip(times, labels, strict=True))]
        return {"label": labels[0], "alarms": alarms}

    def initialize_task(self, env) -> None:
        super().initialize_task(env)
        env.simphone_load({"alarms": self.params["alarms"]})

    def is_successful(self, env) -> float:
        rows = {r.get("label"): r.get("enabled") for r in ui.rows(env, "content://com.android.deskclock/alarms")}
        others = [a["label"] for a in self.params["alarms"] if a["label"] != self.params["label"]]
        ok = rows.get(self.params["label"]) == "0" and all(rows.get(o) == "1" for o in others)
        return 1.0 if ok else 0.0

    def oracle_action(self, env, step: int) -> Action | None:
        if self.is_successful(env):
            return None
        nodes = env.ui_nodes()
        go = ui.goto(nodes, ui.CLOCK)
        if go is not None:
            return go
        target = next(a for a in self.params["alarms"] if a["label"] == self.params["label"])
        row = ui.find(nodes, text=f"{target['hour']:02d}:{target['minute']:02d}")
        switch = ui.row_switch(nodes, row, "onoff") if row else None
        if switch is None:
            raise RuntimeError(f"alarm {self.params['label']!r} is not on screen")
        return ui.tap(switch)


class ContactsPhoneNumberQA(TaskEval):
    template = "What is the phone number of {name}? Answer with the number."
    complexity = 1.5
    app_names = ("contacts",)
    tags = ("information_retrieval",)
    answer = True

    @classmethod
    def generate_random_params(cls, seed: int) -> dict[str, Any]:
        from guiagent.envs.simphone.state import default_state

        contact = random.Random(seed).choice(default_state()["contacts"])
        return {"name": contact["name"], "phone": contact["phone"]}

    def is_successful(self, env) -> float:
        return 1.0 if ui.digits(env.interaction_cache) == ui.digits(self.params["phone"]) else 0.0

    def oracle_action(self, env, step: int) -> Action | None:
        nodes = env.ui_nodes()
        go = ui.goto(nodes, ui.CONTACTS)
        if go is not None:
            return go
        if ui.title(nodes) == self.params["name"]:
            return ui.answer(ui.required(ui.find(nodes, id="phone"), "the phone number")["text"])
        row = ui.find(nodes, text=self.params["name"], id="contact_item")
        if row is not None and ui.fully_visible(row, nodes):
            return ui.tap(row)
        if ui.title(nodes) == "Contacts":
            return ui.scroll_down()
        return ui.SystemButton(button="Back")


class NotesCountQA(TaskEval):
    template = "How many notes are there in the Notes app? Answer with a number."
    complexity = 1
    app_names = ("notes",)
    tags = ("information_retrieval",)
    answer = True

    @classmethod
    def generate_random_params(cls, seed: int) -> dict[str, Any]:
        rng = random.Random(seed)
        return {"count": rng.randint(1, 6), "texts": rng.sample(ui.WORDS, 6)}

    def initialize_task(self, env) -> None:
        super().initialize_task(env)
        texts = self.params["texts"][: self.params["count"]]
        env.simphone_load({"notes": [{"id": i + 1, "text": t.capitalize()} for i, t in enumerate(texts)]})

    def is_successful(self, env) -> float:
        return 1.0 if ui.digits(env.interaction_cache) == str(self.params["count"]) else 0.0

    def oracle_action(self, env, step: int) -> Action | None:
        nodes = env.ui_nodes()
        go = ui.goto(nodes, ui.NOTES)
        if go is not None:
            return go
        items = [n for n in nodes if n.get("resource-id", "").endswith("/note_item")]
        return ui.answer(str(len(items)))


class SettingsDeviceNameQA(TaskEval):
    template = "What is this phone's device name? It is listed under About phone in Settings."
    complexity = 1
    app_names = ("settings",)
    tags = ("information_retrieval",)
    answer = True

    @classmethod
    def generate_random_params(cls, seed: int) -> dict[str, Any]:
        rng = random.Random(seed)
        return {"device_name": f"{rng.choice(ui.FIRST_NAMES)}s-Phone-{rng.randint(10, 99)}"}

    def initialize_task(self, env) -> None:
        super().initialize_task(env)
        ui.put_setting(env, "global", "device_name", self.params["device_name"])

    def is_successful(self, env) -> float:
        return 1.0 if (env.interaction_cache or "").strip().strip('."') == self.params["device_name"] else 0.0

    def oracle_action(self, env, step: int) -> Action | None:
        nodes = env.ui_nodes()
        go = ui.goto(nodes, ui.SETTINGS)
        if go is not None:
            return go
        if ui.title(nodes) == "About phone":
            label = ui.find(nodes, text="Device name")
            value = next((n for n in nodes if n.get("resource-id") == "android:id/summary"
                          and label is not None and n["rect"][1] >= label["rect"][1]
                          and n["rect"][3] <= label["rect"][3]), None)
            return ui.answer(value["text"] if value else self.params["device_name"])
        return ui.tap(ui.find(nodes, text="About phone"))
