"""AndroidEnv against the simulated phone through the real adb server."""

from __future__ import annotations

import pytest
from guiagent.envs.android import AndroidEnv
from guiagent.envs.base import ActionError
from guiagent.envs.simphone.state import LATIN_IME
from guiagent.tools.actions import (
    Click,
    LongPress,
    MobileKey,
    MobileType,
    Open,
    Swipe,
    SystemButton,
    Terminate,
    Wait,
)

from tests.fixtures.android import center, dump, find_widget


def tap_on(env: AndroidEnv, phone, **attrs: str) -> None:
    env.execute(Click(coordinate=center(find_widget(dump(phone.shell), **attrs))))


def new_note(env: AndroidEnv, phone) -> None:
    env.execute(Open(text="Notes"))
    tap_on(env, phone, content_desc="New note")


def note_field(phone) -> str:
    state = phone.state()
    return state["tasks"]["com.simphone.notes"][-1]["fields"]["text"]


# ------------------------------------------------------------ observe


def test_observe_reports_physical_pixels(android_env):
    shot = android_env.observe()
    assert shot.image.size == (1080, 2400) and shot.image.mode == "RGB"
    assert (shot.screen.width, shot.screen.height, shot.screen.scale) == (1080, 2400, 1.0)
    assert (shot.screen.origin_x, shot.screen.origin_y) == (0, 0)
    assert shot.meta["rotation"] == 0 and shot.meta["capture"] in ("png", "raw")
    # auto mode timed both capture paths on the first observation
    assert set(android_env.capture_timings) == {"png", "raw"}


def test_auto_mode_keeps_the_path_that_is_faster_on_new_frames(phone):
    # The first choice is timed on one unchanged screen (the simphone answers it from its PNG
    # cache); after actions the screen is new each time, and that cost decides.
    env = AndroidEnv(phone.serial, adb_port=phone.server.port)
    first = env.observe()
    env.shell("am start -n com.android.settings/.Settings")
    paths = []
    for i in range(4):
        env.shell(f"settings put global wifi_on {i % 2}")
        paths.append(env.observe().meta["capture"])
    assert set(env.new_frame_timings) == {"png", "raw"}
    assert set(paths) == {"png", "raw"}  # the path it did not use was tried on a new frame
    assert env.capture_path == min(env.new_frame_timings, key=env.new_frame_timings.__getitem__)
    assert first.meta["capture"] in ("png", "raw")


def test_png_and_raw_paths_give_the_same_pixels(phone):
    shots = [AndroidEnv(phone.serial, adb_port=phone.server.port, screenshot=p).observe() for p in ("png", "raw")]
    assert shots[0].image.tobytes() == shots[1].image.tobytes()
    assert [s.meta["capture"] for s in shots] == ["png", "raw"]


def test_rotation_and_override_size_are_reread_when_they_change(android_env, phone):
    android_env.observe()
    phone.shell("settings put system user_rotation 1")
    shot = android_env.observe()
    assert (shot.screen.width, shot.screen.height, shot.meta["rotation"]) == (2400, 1080, 1)
    assert shot.image.size == (2400, 1080)
    # a tap in landscape coordinates lands on the widget drawn there
    android_env.execute(Open(text="Settings"))
    tap_on(android_env, phone, resource_id="com.android.settings:id/switch_wifi")
    assert phone.shell("settings get global wifi_on") == "1"
    phone.shell("settings put system user_rotation 0")
    phone.shell("wm size 720x1600")
    shot = android_env.observe()
    assert (shot.screen.width, shot.screen.height, shot.meta["rotation"]) == (720, 1600, 0)


def test_describe(android_env, phone):
    info = android_env.describe()
    assert info["env"] == "android" and info["serial"] == phone.serial
    assert (info["model"], info["android"], info["sdk"]) == ("SimPhone", "14", "34")
    assert info["screen"] == [1080, 2400] and info["rotation"] == 0


# ------------------------------------------------------------ each action's command line on the device


@pytest.mark.parametrize("action, line", [
    (Click(coordinate=(540, 1200)), "input tap 540 1200"),
    (LongPress(coordinate=(100, 900)), "input swipe 100 900 100 900 2000"),
    (LongPress(coordinate=(100, 900), time=0.5), "input swipe 100 900 100 900 500"),
    (Swipe(coordinate=(540, 2000), coordinate2=(540, 500)), "input swipe 540 2000 540 500 300"),
    (MobileKey(text="volume_up"), "input keyevent 24"),
    (MobileKey(text="KEYCODE_CAMERA"), "input keyevent 27"),
    (MobileKey(text="clear"), "input keyevent 28"),
    (SystemButton(button="Back"), "input keyevent 4"),
    (SystemButton(button="Home"), "input keyevent 3"),
    (SystemButton(button="Menu"), "input keyevent 82"),
    (SystemButton(button="Enter"), "input keyevent 66"),
    (MobileType(text="a b&c"), "input text 'a%sb&c'"),
    (Open(text="Settings"), "monkey -p com.android.settings -c android.intent.category.LAUNCHER 1"),
])
def test_action_command_line(android_env, phone, action, line):
    android_env.execute(action)
    assert phone.log()[-1] == line


def test_unknown_key_is_an_action_error_and_sends_nothing(android_env, phone):
    with pytest.raises(ActionError, match="unknown key 'volume_upp' \\(did you mean volume_up"):
        android_env.execute(MobileKey(text="volume_upp"))
    assert not any(ln.startswith("input") for ln in phone.log())


@pytest.mark.parametrize("action", [Wait(time=1), Terminate(status="success")])
def test_agent_actions_never_reach_the_env(android_env, action):
    with pytest.raises(ActionError, match="handled by the agent"):
        android_env.execute(action)


# ------------------------------------------------------------ typing


def test_ascii_text_with_shell_metacharacters_arrives_exactly(android_env, phone):
    text = "Q3 & \"plan\" (draft); it's $HOME `id` | <b> \\ 100%s 50% off\nline two"
    new_note(android_env, phone)
    android_env.execute(MobileType(text=text))
    assert note_field(phone) == text
    assert not any("ADB_INPUT" in ln for ln in phone.log())  # ASCII goes through input text


def test_unicode_goes_through_the_adbkeyboard_and_the_ime_is_restored(android_env, phone):
    text = "Caf\u00e9 & 'tea' \u4f60\u597d\uff0c\u4e16\u754c \U0001f600 100%s"
    new_note(android_env, phone)
    android_env.execute(MobileType(text=text))
    assert note_field(phone) == text
    log = phone.log()
    assert "ime set com.android.adbkeyboard/.AdbIME" in log
    assert any(ln.startswith("am broadcast -a ADB_INPUT_B64 --es msg ") for ln in log)
    assert phone.shell("settings get secure default_input_method") == LATIN_IME


def test_unicode_without_an_ime_fails_with_instructions(android_env, phone):
    assert phone.shell("pm uninstall com.android.adbkeyboard") == "Success"
    new_note(android_env, phone)
    with pytest.raises(ActionError) as exc:
        android_env.execute(MobileType(text="\u4f60\u597d"))
    msg = str(exc.value)
    assert "ADBKeyboard" in msg and "ime enable com.android.adbkeyboard/.AdbIME" in msg and "\n" not in msg
    assert note_field(phone) == ""


def test_adbkeyboard_installed_but_disabled_is_enabled_first(android_env, phone):
    phone.shell("ime disable com.android.adbkeyboard/.AdbIME")
    new_note(android_env, phone)
    android_env.execute(MobileType(text="\u00fcber"))
    assert note_field(phone) == "\u00fcber"
    assert "ime enable com.android.adbkeyboard/.AdbIME" in phone.log()


# ------------------------------------------------------------ open


@pytest.mark.parametrize("name, package", [
    ("Clock", "com.android.deskclock"),          # a label the device reports
    ("com.simphone.notes", "com.simphone.notes"),  # a package name
    ("contact", "com.android.contacts"),         # fuzzy
    ("the settings app", "com.android.settings"),
])
def test_open_resolves_labels_packages_and_close_matches(android_env, phone, name, package):
    android_env.execute(Open(text=name))
    assert f"u0 {package}/" in phone.shell("dumpsys window | grep mCurrentFocus")


def test_open_unknown_app_lists_the_installed_ones(android_env):
    with pytest.raises(ActionError) as exc:
        android_env.execute(Open(text="Spotify"))
    assert str(exc.value).startswith("no installed app matches 'Spotify'; launchable apps: Settings "
                                     "(com.android.settings), Notes (com.simphone.notes)")


def test_swipe_scrolls_and_long_press_deletes(android_env, phone):
    android_env.execute(Open(text="Contacts"))
    assert "Wendy Hall" not in dump(phone.shell)
    for _ in range(2):
        android_env.execute(Swipe(coordinate=(540, 2000), coordinate2=(540, 400)))
    assert "Wendy Hall" in dump(phone.shell)
    android_env.execute(Open(text="Notes"))
    x, y = center(find_widget(dump(phone.shell), text="Call the dentist on Monday"))
    android_env.execute(LongPress(coordinate=(x, y)))
    tap_on(android_env, phone, text="Delete")
    assert "Call the dentist" not in phone.shell("content query --uri content://com.simphone.notes/notes")
