"""Unmodified AndroidWorld-style tasks (android_env's real AdbRequest protos and AdbCallParser) on the
simulated phone through the real adb server: setup, correct / no / wrong action, scoring; seeds."""

from __future__ import annotations

import hashlib
import random
import textwrap
from types import SimpleNamespace

import pytest
from guiagent.harness.loader import load_suite

pytest.importorskip("android_env", reason="android_env (the [androidworld] extra) is not installed")

# Written as AndroidWorld's task_evals/single/system.py and adb_utils are: every call is an AdbRequest
# through env.controller, and initialize_task sets the device time as TaskEval does (root, date, alarm).
TASKS = textwrap.dedent(r'''
    import random
    import re
    from android_env.proto import adb_pb2

    def generic(args, env):
        return env.execute_adb_call(adb_pb2.AdbRequest(
            generic=adb_pb2.AdbRequest.GenericRequest(args=args), timeout_sec=10))

    def put_settings(ns, key, value, env):
        return env.execute_adb_call(adb_pb2.AdbRequest(settings=adb_pb2.AdbRequest.SettingsRequest(
            name_space=ns, put=adb_pb2.AdbRequest.SettingsRequest.Put(key=key, value=value))))

    class _Base:
        app_names = ("settings",)
        complexity = 1
        schema = {}
        start_on_home_screen = True

        def __init__(self, params):
            self.initialized = False
            self._params = params

        @property
        def params(self):
            return self._params

        @property
        def goal(self):
            return self.template.format(**self.params)

        @classmethod
        def set_device_time(cls, env):
            del env

        def initialize_task(self, env):
            env.interaction_cache = ""
            c = env.controller
            if generic(["shell", "whoami"], c).generic.output.decode().strip() != "root":
                generic(["root"], c)
            put_settings(adb_pb2.AdbRequest.SettingsRequest.Namespace.GLOBAL, "auto_time", "0", c)
            generic(["shell", "service", "call", "alarm", "3", "s16", "UTC"], c)
            generic(["shell", "date", "101515342023.00"], c)
            for app in self.app_names:  # app_snapshot.restore_snapshot: close, look for the snapshot
                generic(["shell", "am", "force-stop", "com.android.settings"], c)
                script = (f'\n  if [ -d "/data/data/android_world/snapshots/com.android.settings" ]; then\n'
                          '      echo "Exists"\n  else\n      echo "Does not exist"\n  fi\n  ')
                out = generic(["shell", script], c).generic.output.decode()
                if "Does not exist" not in out:
                    raise RuntimeError("unexpected output from file check")  # Exists: no snapshot here
            self.initialized = True
            random.seed(self.params.get("seed"))

        def tear_down(self, env):  # adb_utils.close_recents
            out = generic("shell dumpsys activity recents".split(" "), env.controller).generic.output.decode()
            for task_id in re.findall(r"id=(\d+)", out):
                generic(["shell", "am", "stack", "remove", task_id], env.controller)
            self.initialized = False

    def toggle(service, on, env):
        return generic(["shell", "svc", service, "enable" if on else "disable"], env.controller)

    def setting(ns, key, env):
        return generic(["shell", "settings", "get", ns, key], env.controller).generic.output.decode().strip()

    class TurnOffWifiAndTurnOnBluetooth(_Base):
        template = "Turn off WiFi, then enable bluetooth"
        complexity = 2

        @classmethod
        def generate_random_params(cls):
            return {}

        def initialize_task(self, env):
            super().initialize_task(env)
            toggle("wifi", True, env)
            toggle("bluetooth", False, env)

        def is_successful(self, env):
            wifi = 1.0 if setting("global", "wifi_on", env) == "0" else 0.0
            bluetooth = 1.0 if setting("global", "bluetooth_on", env) == "1" else 0.0
            return (wifi + bluetooth) / 2.0

    class ContactsListed(_Base):
        template = "Is {name} in the contacts?"

        @classmethod
        def generate_random_params(cls):
            return {"name": "Alice Johnson"}

        def is_successful(self, env):  # contacts_utils.list_contacts
            out = generic(["shell", "content query --uri content://contacts/phones/ --projection display_name:number"],
                          env.controller).generic.output.decode()
            names = [m.group(1) for m in re.finditer(r"display_name=(.*), number=(.*)", out)]
            return 1.0 if self.params["name"] in names and env.interaction_cache == "yes" else 0.0

    class SystemWifiTurnOn(_Base):
        template = "Turn wifi {on_or_off}."

        @classmethod
        def generate_random_params(cls):
            return {"on_or_off": "on"}

        def initialize_task(self, env):
            super().initialize_task(env)
            generic(["shell", "svc", "wifi", "disable"], env.controller)

        def is_successful(self, env):
            res = generic(["shell", "settings", "get", "global", "wifi_on"], env.controller)
            return 1.0 if res.generic.output.decode().strip() in ("1", "2") else 0.0

    class SystemBrightnessToggle(_Base):
        template = "Turn brightness to the {max_or_min} value."

        @classmethod
        def generate_random_params(cls):
            return {"max_or_min": "max" if random.choice([True, False]) else "min"}

        def initialize_task(self, env):
            super().initialize_task(env)
            level = "1" if self.params["max_or_min"] == "max" else "255"
            generic(["shell", "settings", "put", "system", "screen_brightness", level], env.controller)

        def is_successful(self, env):
            res = generic(["shell", "settings", "get", "system", "screen_brightness"], env.controller)
            want = 255 if self.params["max_or_min"] == "max" else 1
            return 1.0 if int(res.generic.output.decode().strip()) == want else 0.0

    class OpenSettings(_Base):
        template = "Open the settings app."

        @classmethod
        def generate_random_params(cls):
            return {}

        def is_successful(self, env):
            res = env.controller.execute_adb_call(adb_pb2.AdbRequest(
                get_current_activity=adb_pb2.AdbRequest.GetCurrentActivity()))
            return 1.0 if res.get_current_activity.full_activity.split("/")[0] == "com.android.settings" else 0.0

    class BrokenCheck(_Base):
        template = "Anything."

        @classmethod
        def generate_random_params(cls):
            return {}

        def is_successful(self, env):
            res = generic(["shell", "settings", "get", "global", "no_such"], env.controller)
            return 1.0 / 0
''')

DONE = SimpleNamespace(status="success", answer=None)


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    from guiagent.harness.sandboxes.android import AndroidSandbox

    sb = AndroidSandbox(tmp_path_factory.mktemp("aw"))
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    f = tmp_path_factory.mktemp("awtasks") / "aw_system.py"
    f.write_text(TASKS)
    return {t.id: t for t in load_suite(str(f), instances=2).tasks}


def _episode(task, phone, act):
    phone.prepare(task.id)
    goal = task.setup(phone)
    if act:
        phone.shell(act)
    try:
        return goal, task.evaluate(phone, DONE)
    finally:
        task.teardown(phone)


def test_seeds_and_params_are_androidworlds(tasks):
    def aw_seed(name, i):  # android_world/suite_utils.py create_suite, base seed 30
        return int(hashlib.sha256(f"30_{name}_{i}".encode()).hexdigest(), 16) % (2**32)

    for i in range(2):
        t = tasks[f"SystemBrightnessToggle_{i}"]
        assert t.seed == aw_seed("SystemBrightnessToggle", i) == t.params["seed"]
        random.seed(t.seed)
        assert t.params["max_or_min"] == ("max" if random.choice([True, False]) else "min")


@pytest.mark.parametrize(("act", "score"), [("svc wifi enable", 1.0), (None, 0.0), ("svc bluetooth enable", 0.0)])
def test_wifi_task_scores_correct_no_and_wrong_actions(tasks, phone, act, score):
    goal, outcome = _episode(tasks["SystemWifiTurnOn_0"], phone, act)
    assert goal == "Turn wifi on."
    assert outcome.score == score
    state = phone.simphone_state()
    assert state["root"] is True and state["timezone"] == "UTC"  # TaskEval's device-time setup ran
    assert phone.shell("date").strip().endswith("2023") and phone.shell("date").startswith("Sun Oct 15 15:3")


def test_brightness_and_foreground_tasks(tasks, phone):
    t = tasks["SystemBrightnessToggle_0"]
    want = "255" if t.params["max_or_min"] == "max" else "1"
    wrong = "1" if want == "255" else "255"
    assert _episode(t, phone, f"settings put system screen_brightness {want}")[1].score == 1.0
    assert _episode(t, phone, f"settings put system screen_brightness {wrong}")[1].score == 0.0
    open_settings = tasks["OpenSettings_0"]
    assert _episode(open_settings, phone, "am start -n com.android.settings/.Settings")[1].score == 1.0
    assert _episode(open_settings, phone, None)[1].score == 0.0
    assert phone.foreground_activity_name.startswith("com.android.launcher3/")
    assert phone.logical_screen_size == phone.device_screen_size == (1080, 2400)
    assert phone.orientation == 0


@pytest.mark.parametrize(("act", "score"), [("svc wifi disable; svc bluetooth enable", 1.0),
                                           ("svc bluetooth enable", 0.5), (None, 0.0)])
def test_composite_system_task_scores_halves(tasks, phone, act, score):
    assert _episode(tasks["TurnOffWifiAndTurnOnBluetooth_0"], phone, act)[1].score == score
    assert tasks["TurnOffWifiAndTurnOnBluetooth_0"].max_steps == 20


def test_information_retrieval_reads_the_answer_and_the_contacts_provider(tasks, phone):
    task = tasks["ContactsListed_0"]
    for answer, score in (("yes", 1.0), ("no", 0.0)):
        phone.prepare(task.id)
        task.setup(phone)
        try:
            assert task.evaluate(phone, SimpleNamespace(status="success", answer=answer)).score == score
        finally:
            task.teardown(phone)


def test_an_episode_the_agent_did_not_end_scores_zero(tasks, phone):
    task = tasks["SystemWifiTurnOn_0"]
    phone.prepare(task.id)
    task.setup(phone)
    phone.shell("svc wifi enable")
    try:
        outcome = task.evaluate(phone, SimpleNamespace(status="max_steps", answer=None))
    finally:
        task.teardown(phone)
    assert outcome.score == 0.0 and "not done" in outcome.detail["reason"]


def test_an_exception_in_is_successful_is_a_failed_episode_with_the_exception(tasks, phone):
    outcome = _episode(tasks["BrokenCheck_0"], phone, None)[1]
    assert outcome.score == 0.0 and outcome.detail["exception"] == "ZeroDivisionError: float division by zero"


def test_the_controller_never_restarts_the_adb_server(phone):
    from android_env.components import errors
    from android_env.proto import adb_pb2

    before = phone.shell("echo alive")
    with pytest.raises(errors.AdbControllerError, match="never restarts"):
        phone.controller.adb_controller._restart_server()
    with pytest.raises(errors.AdbControllerError, match="does not run adb server commands"):
        phone.controller.adb_controller.execute_command(["kill-server"])
    # a failing command fails once, as android_env's controller does after its retries, and the server lives on
    with pytest.raises(errors.AdbControllerError, match="exit status 1"):
        phone.controller.execute_adb_call(adb_pb2.AdbRequest(
            generic=adb_pb2.AdbRequest.GenericRequest(args=["shell", "false"])))
    assert phone.shell("echo alive") == before


def test_the_real_adb_root_returns_and_the_phone_comes_back(phone):
    import shutil
    import subprocess
    import time

    adb = shutil.which("adb")
    if adb is None:
        pytest.skip("the adb binary is not installed")
    phone.prepare("root-check")  # a reset phone: adbd runs as shell
    t0 = time.monotonic()
    out = subprocess.run([adb, "-P", str(phone.env.adb_port), "-s", phone.serial, "root"], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0 and "restarting adbd as root" in out.stdout
    assert time.monotonic() - t0 < 10  # `adb root` waits for the drop; the simulated adbd drops as a real one
    deadline = time.monotonic() + 15
    while True:
        try:
            if phone.shell("whoami").strip() == "root":
                break
        except Exception:  # noqa: BLE001 - the connection is coming back
            pass
        assert time.monotonic() < deadline, "the phone did not come back after adb root"
        time.sleep(0.2)
