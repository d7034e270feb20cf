"""The simphone's shell and apps, in process: sh quoting, Android commands, app flows, pixels."""

from __future__ import annotations

import io
import json

import pytest
from guiagent.envs.android import decode_raw
from guiagent.envs.simphone.server import SimPhone
from guiagent.envs.simphone.state import ADB_IME, default_state, load_state, merge_state, save_state
from PIL import Image

from guiagent.cli.simphone import main as simphone_main
from tests.fixtures.android import center, dump, find_widget


@pytest.fixture
def sim() -> SimPhone:
    return SimPhone(port=0)  # never started: the shell is called directly


def sh(sim: SimPhone, line: str) -> str:
    out, err, rc = sim.shell.run(line)
    assert rc == 0, (line, err)
    return out.decode()


def tap_widget(sim: SimPhone, **attrs: str) -> None:
    x, y = center(find_widget(dump(lambda c: sh(sim, c)), **attrs))
    sh(sim, f"input tap {x} {y}")


def field_text(sim: SimPhone) -> dict:
    state = sim.phone.state
    return state["tasks"][state["foreground"]][-1]["fields"]


# ------------------------------------------------------------ the sh parser


@pytest.mark.parametrize("line, expected", [
    ("echo 'a  b'  \"c d\" e\\ f", "a  b c d e f\n"),
    ("echo \"$?\" '$?'", "0 $?\n"),
    ("false; echo $?", "1\n"),
    ("false && echo no || echo yes", "yes\n"),
    ("echo a && echo b", "a\nb\n"),
    ("echo 'it'\"'\"'s'", "it's\n"),
    ("echo \"a\\\"b\\$c\"", "a\"b$c\n"),
    ("echo one | grep -c one", "1\n"),
    ("echo x > /sdcard/f; cat /sdcard/f", "x\n"),
    ("nosuch 2>&1 | grep -o 'not found'", "not found\n"),
    ("echo a & echo b", "a\nb\n"),
    ("echo a # comment", "a\n"),
])
def test_sh_quoting_and_operators(sim, line, expected):
    out, _, _ = sim.shell.run(line)
    assert out.decode() == expected


@pytest.mark.parametrize("line, message", [
    ("echo (a)", "syntax error: '(' unexpected"),
    ("echo a; ; echo b", "syntax error: ';' unexpected"),
    ("echo $(id)", "command substitution"),
    ("echo `id`", "command substitution"),
    ("echo 'open", "no closing quote"),
    ("echo a &&", "unexpected end of line"),
])
def test_sh_rejects_what_a_device_shell_rejects(sim, line, message):
    out, err, rc = sim.shell.run(line)
    assert rc == 2 and out == b"" and message in err.decode()


def test_unknown_command_is_127(sim):
    _, err, rc = sim.shell.run("frobnicate")
    assert rc == 127 and b"frobnicate: inaccessible or not found" in err


# ------------------------------------------------------------ input text, exactly as Android's


@pytest.mark.parametrize("arg, typed", [
    ("a%sb", "a b"),
    ("100%", "100%"),
    ("%%s", "% "),
    ("a%%sb", "a% b"),
    ("%s%s", "  "),
    ("x%y", "x%y"),
])
def test_input_text_turns_percent_s_into_space(sim, arg, typed):
    sh(sim, "am start -n com.simphone.notes/.NotesActivity")
    tap_widget(sim, content_desc="New note")
    sh(sim, "input text " + "'" + arg + "'")
    assert field_text(sim) == {"text": typed}


def test_input_text_types_only_its_first_argument(sim):
    sh(sim, "am start -n com.simphone.notes/.NotesActivity")
    tap_widget(sim, content_desc="New note")
    sh(sim, "input text hello world")
    assert field_text(sim) == {"text": "hello"}


def test_input_text_cannot_type_non_ascii(sim):
    sh(sim, "am start -n com.simphone.notes/.NotesActivity")
    tap_widget(sim, content_desc="New note")
    out, err, rc = sim.shell.run("input text 'caf\u00e9'")
    assert rc == 255 and b"NullPointerException" in err
    assert field_text(sim) == {"text": ""}


def test_adbkeyboard_broadcast_types_unicode_only_while_it_is_the_ime(sim):
    sh(sim, "am start -n com.simphone.notes/.NotesActivity")
    tap_widget(sim, content_desc="New note")
    msg = "5L2g5aW9IMOpIPCfmIA="  # "你好 é 😀"
    sh(sim, f"am broadcast -a ADB_INPUT_B64 --es msg {msg}")
    assert field_text(sim) == {"text": ""}  # LatinIME is current: nobody listens
    assert "Input method" in sh(sim, f"ime set {ADB_IME}")
    sh(sim, f"am broadcast -a ADB_INPUT_B64 --es msg {msg}")
    assert field_text(sim) == {"text": "你好 é 😀"}
    assert "mInputShown=true" in sh(sim, "dumpsys input_method")


def test_keyevents_edit_the_focused_field(sim):
    sh(sim, "am start -n com.android.contacts/.activities.PeopleActivity")
    tap_widget(sim, content_desc="Add contact")
    sh(sim, "input text Bob")
    sh(sim, "input keyevent KEYCODE_DEL 67")
    sh(sim, "input keyevent 66")  # Enter: next field
    sh(sim, "input text 123")
    assert field_text(sim) == {"name": "B", "phone": "123"}
    _, err, rc = sim.shell.run("input keyevent NO_SUCH_KEY")
    assert rc == 1 and b"Unknown keycode" in err


# ------------------------------------------------------------ system commands


def test_settings_wm_and_rotation(sim):
    assert sh(sim, "settings get global wifi_on") == "0\n"
    assert sh(sim, "settings get global no_such_key") == "null\n"
    sh(sim, "settings put system user_rotation 1")
    assert "orientation=1" in sh(sim, "dumpsys display")
    assert Image.open(io.BytesIO(sim.phone.png())).size == (2400, 1080)
    sh(sim, "settings put system user_rotation 0")
    sh(sim, "wm size 720x1600")
    assert sh(sim, "wm size") == "Physical size: 1080x2400\nOverride size: 720x1600\n"
    assert Image.open(io.BytesIO(sim.phone.png())).size == (720, 1600)
    sh(sim, "wm size reset")
    assert sh(sim, "wm size") == "Physical size: 1080x2400\n"


def test_taps_follow_rotation_and_override_size(sim):
    sh(sim, "am start -n com.android.settings/.Settings")
    sh(sim, "settings put system user_rotation 1")
    sh(sim, "wm size 720x1600")
    xml = dump(lambda c: sh(sim, c))
    assert 'rotation="1"' in xml and "bounds=\"[0,0][1600,720]\"" in xml
    x, y = center(find_widget(xml, resource_id="com.android.settings:id/switch_wifi"))
    sh(sim, f"input tap {x} {y}")
    assert sh(sim, "settings get global wifi_on") == "1\n"


def test_raw_screencap_header_and_pixels_match_the_png(sim):
    raw = sim.phone.raw()
    w, h, fmt = int.from_bytes(raw[0:4], "little"), int.from_bytes(raw[4:8], "little"), raw[8]
    assert (w, h, fmt) == (1080, 2400, 2) and len(raw) == 16 + w * h * 4  # 2: RGBX_8888
    png = Image.open(io.BytesIO(sim.phone.png())).convert("RGB")
    assert decode_raw(raw).tobytes() == png.tobytes()  # the env's own reader: same colours as the PNG


def test_packages_activities_and_launch(sim):
    pkgs = sh(sim, "pm list packages").split()
    assert {"package:com.android.settings", "package:com.simphone.notes", "package:com.android.contacts",
            "package:com.android.deskclock", "package:com.android.adbkeyboard"} <= set(pkgs)
    acts = sh(sim, "cmd package query-activities -a android.intent.action.MAIN -c android.intent.category.LAUNCHER")
    assert "nonLocalizedLabel=Clock" in acts and "packageName=com.android.deskclock" in acts
    out = sh(sim, "monkey -p com.android.deskclock -c android.intent.category.LAUNCHER 1")
    assert "Events injected: 1" in out
    assert "mCurrentFocus=Window{5e1a0c2 u0 com.android.deskclock/com.android.deskclock.DeskClock}" in sh(
        sim, "dumpsys window windows")
    out, _, rc = sim.shell.run("monkey -p com.nope -c android.intent.category.LAUNCHER 1")
    assert rc != 0 and b"No activities found" in out
    _, err, rc = sim.shell.run("am start -n com.android.settings/.Nope")
    assert rc == 1 and b"does not exist" in err
    sh(sim, "am start -a android.intent.action.MAIN -c android.intent.category.HOME")
    assert "com.android.launcher3" in sh(sim, "dumpsys window | grep mCurrentFocus")


def test_content_query_reads_notes_contacts_alarms_and_settings(sim):
    out = sh(sim, "content query --uri content://com.simphone.notes/notes --projection _id:text --where '_id=2'")
    assert out == "Row: 0 _id=2, text=Call the dentist on Monday\n"
    out = sh(sim, "content query --uri content://com.android.contacts/data/phones "
                  "--projection display_name:number --where \"display_name='Bob Smith'\"")
    assert out == "Row: 0 display_name=Bob Smith, number=+1 555-0102\n"
    out = sh(sim, "content query --uri content://com.android.deskclock/alarms --projection hour:minutes:enabled")
    assert out.splitlines() == ["Row: 0 hour=7, minutes=30, enabled=1", "Row: 1 hour=9, minutes=0, enabled=0"]
    out = sh(sim, "content query --uri content://settings/global --projection value --where \"name='wifi_on'\"")
    assert out == "Row: 0 value=0\n"
    assert sh(sim, "content query --uri content://com.simphone.notes/notes --where '_id=99'") == "No result found.\n"


# ------------------------------------------------------------ apps


def test_settings_switch_toggles_wifi_and_airplane_mode_turns_radios_off(sim):
    sh(sim, "monkey -p com.android.settings -c android.intent.category.LAUNCHER 1")
    tap_widget(sim, resource_id="com.android.settings:id/switch_wifi")
    tap_widget(sim, text="Bluetooth")
    assert sh(sim, "settings get global wifi_on") == "1\n"
    assert sh(sim, "settings get global bluetooth_on") == "1\n"
    tap_widget(sim, resource_id="com.android.settings:id/switch_airplane")
    g = sim.phone.state["settings"]["global"]
    assert (g["airplane_mode_on"], g["wifi_on"], g["bluetooth_on"]) == ("1", "0", "0")


def test_notes_new_note_save_and_keyboard_follows_focus(sim):
    tap_widget(sim, text="Notes")  # from the home screen
    assert "mInputShown=false" in sh(sim, "dumpsys input_method")
    tap_widget(sim, content_desc="New note")
    assert "mInputShown=true" in sh(sim, "dumpsys input_method")
    sh(sim, "input text 'Buy%smilk'")
    sh(sim, "input keyevent 4")  # Back hides the keyboard first
    assert "mInputShown=false" in sh(sim, "dumpsys input_method")
    tap_widget(sim, text="Save")
    assert sim.phone.state["notes"][-1] == {"id": 3, "text": "Buy milk"}
    assert "text=Buy milk" in sh(sim, "content query --uri content://com.simphone.notes/notes")


def test_notes_long_press_deletes_after_confirmation(sim):
    sh(sim, "am start -n com.simphone.notes/.NotesActivity")
    x, y = center(find_widget(dump(lambda c: sh(sim, c)), text="Call the dentist on Monday"))
    sh(sim, f"input swipe {x} {y} {x} {y} 2000")
    tap_widget(sim, text="Delete")
    assert [n["id"] for n in sim.phone.state["notes"]] == [1]


def test_contacts_list_scrolls_and_add_contact_form_validates(sim):
    sh(sim, "am start -n com.android.contacts/.activities.PeopleActivity")
    assert "Wendy Hall" not in dump(lambda c: sh(sim, c))
    sh(sim, "input swipe 540 2000 540 400 300")  # the list follows the finger (no fling)
    assert "Wendy Hall" not in dump(lambda c: sh(sim, c))
    sh(sim, "input swipe 540 2000 540 400 300")
    assert "Wendy Hall" in dump(lambda c: sh(sim, c))
    tap_widget(sim, content_desc="Add contact")
    tap_widget(sim, text="Save")
    assert "Name is required" in dump(lambda c: sh(sim, c))
    sh(sim, "input text 'Zoe%sAdams'")
    tap_widget(sim, resource_id="com.android.contacts:id/phone")
    sh(sim, "input text 555-0199")
    tap_widget(sim, text="Save")
    assert {"id": 23, "name": "Zoe Adams", "phone": "555-0199"} in sim.phone.state["contacts"]


def test_clock_add_alarm_and_toggle(sim):
    sh(sim, "am start -n com.android.deskclock/.DeskClock")
    tap_widget(sim, content_desc="Add alarm")
    sh(sim, "input text 25")
    tap_widget(sim, text="Save")
    assert "Enter an hour 0-23" in dump(lambda c: sh(sim, c))
    sh(sim, "input keyevent 67 67")
    sh(sim, "input text 6")
    tap_widget(sim, resource_id="com.android.deskclock:id/minute")
    sh(sim, "input text 45")
    tap_widget(sim, text="Save")
    assert sim.phone.state["alarms"][-1] == {"id": 3, "hour": 6, "minute": 45, "label": "", "enabled": True}
    tap_widget(sim, text="06:45")
    assert sim.phone.state["alarms"][-1]["enabled"] is False


def test_back_and_home(sim):
    sh(sim, "am start -n com.android.settings/.Settings")
    tap_widget(sim, text="About phone")
    assert "SimPhone" in dump(lambda c: sh(sim, c))
    sh(sim, "input keyevent 4")
    assert "Airplane mode" in dump(lambda c: sh(sim, c))
    sh(sim, "input keyevent 3")
    assert sim.phone.foreground == "com.android.launcher3"
    tap_widget(sim, content_desc="Back")  # the navigation bar button
    assert sim.phone.foreground == "com.android.launcher3"


def test_on_screen_keyboard_types_by_taps(sim):
    sh(sim, "am start -n com.simphone.notes/.NotesActivity")
    tap_widget(sim, content_desc="New note")
    phone = sim.phone
    keys = {w.text: w for w in phone.widgets() if w.style == "key"}
    for label in ("h", "i"):
        x1, y1, x2, y2 = keys[label].rect
        sh(sim, f"input tap {(x1 + x2) // 2} {(y1 + y2) // 2}")
    assert field_text(sim) == {"text": "hi"}


# ------------------------------------------------------------ determinism, state, CLI


def test_same_inputs_give_the_same_pixels():
    script = ["am start -n com.android.contacts/.activities.PeopleActivity", "input swipe 540 1800 540 900 300",
              "input keyevent 3", "am start -n com.android.settings/.Settings", "input tap 900 340"]
    a, b = SimPhone(port=0), SimPhone(port=0)
    for line in script:
        a.shell.run(line)
        b.shell.run(line)
    assert a.phone.png() == b.phone.png()
    assert a.phone.raw() == b.phone.raw()
    b.shell.run("input tap 900 340")
    assert a.phone.png() != b.phone.png()


def test_state_save_load_round_trip(tmp_path, sim):
    sh(sim, "settings put global wifi_on 1")
    path = tmp_path / "state.json"
    save_state(sim.phone.state, path)
    again = SimPhone(port=0, state=load_state(path))
    assert again.phone.state == sim.phone.state
    assert again.phone.png() == sim.phone.png()


def test_simphone_reset_and_load_commands(sim):
    import base64

    sh(sim, "settings put global wifi_on 1")
    assert sh(sim, "simphone reset") == "OK\n"
    assert json.loads(sh(sim, "simphone state"))["settings"]["global"]["wifi_on"] == "0"
    blob = base64.b64encode(json.dumps({"notes": [{"id": 5, "text": "seeded"}]}).encode()).decode()
    assert sh(sim, f"simphone load {blob}") == "OK\n"
    assert sim.phone.state["notes"] == [{"id": 5, "text": "seeded"}]
    assert sim.phone.state["contacts"] == default_state()["contacts"]


def test_bad_state_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="unknown state field 'nots'"):
        merge_state({"nots": []})
    bad = tmp_path / "s.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"s\.json: not a readable JSON state file"):
        load_state(bad)


@pytest.mark.parametrize("argv, message", [
    (["--size", "big"], "--size 'big': expected WxH"),
    (["--size", "2400x1080"], "expected a portrait size"),
    (["--state", "/nonexistent/state.json"], "state file not found"),
    (["--port", "70000"], "must be 0..65535"),
])
def test_cli_bad_options_exit_2_with_one_line(capsys, argv, message):
    assert simphone_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# ------------------------------------------------------------ what AndroidWorld's system tasks send


@pytest.mark.parametrize("line, expected", [
    # file_utils.check_file_exists, verbatim in form: a multi-line if/then/else/fi
    ('\n  if [ -d "/data/data/android_world/snapshots/x" ]; then\n      echo "Exists"\n  else\n'
     '      echo "Does not exist"\n  fi\n  ', "Does not exist\n"),
    ("if [ -d /sdcard ]; then echo yes; else echo no; fi", "yes\n"),
    ("echo x > /sdcard/Download/a.txt; if [ -d /sdcard/Download ]; then echo dir; fi", "dir\n"),
    ("if false; then echo a; elif true; then echo b; else echo c; fi; echo after", "b\nafter\n"),
    ("if true; then if false; then echo x; else echo nested; fi; fi", "nested\n"),
    ("if true\nthen\n echo multi\nfi", "multi\n"),
    ("if true; then echo a; fi && echo ok", "a\nok\n"),
    ("echo if then fi", "if then fi\n"),  # keywords only as a command's first word
])
def test_sh_if_then_elif_else_fi(sim, line, expected):
    assert sh(sim, line) == expected


@pytest.mark.parametrize("line, message", [
    ("fi", "'fi' unexpected"),
    ("then echo", "'then' unexpected"),
    ("if true; then echo a", "expecting 'fi'"),
    ("if true; fi", "'fi' unexpected"),
])
def test_sh_rejects_broken_if(sim, line, message):
    out, err, rc = sim.shell.run(line)
    assert rc == 2 and out == b"" and message in err.decode()


def test_adb_root_date_and_alarm_time_zone(sim):
    assert sh(sim, "whoami") == "shell\n"
    out, err, rc = sim.shell.run("date 101515342023.00")
    assert rc == 1 and b"Operation not permitted" in err  # setting the clock needs root
    assert sim.server.service("root:") == [b"restarting adbd as root\n"]
    assert sim.server.service("root:") == [b"adbd is already running as root\n"]
    assert sh(sim, "whoami") == "root\n" and sh(sim, "id").startswith("uid=0(root)")
    assert sh(sim, "service call alarm 3 s16 UTC").startswith("Result: Parcel(")
    assert sim.phone.state["timezone"] == "UTC"
    assert sh(sim, "date 101515342023.00") == "Sun Oct 15 15:34:00 UTC 2023\n"
    assert sh(sim, "date").startswith("Sun Oct 15 15:3") and sh(sim, "date +%Y-%m-%d") == "2023-10-15\n"
    sh(sim, "simphone reset")
    assert sh(sim, "whoami") == "shell\n" and not sh(sim, "date").endswith("2023\n")


def test_am_stack_list_names_the_visible_task_as_android_env_parses_it(sim):
    import re

    sh(sim, "am start -n com.android.settings/.Settings")
    line = [ln for ln in sh(sim, "am stack list").splitlines() if "visible=true" in ln][0]
    m = re.search(r"^\ *taskId=(?P<id>[0-9]*): (?P<base>[^\s]*) .*visible=true.*topActivity=ComponentInfo{(?P<top>[^\s]*)}$",
                  line)  # android_env's adb_call_parser._fetch_current_task_id regex
    assert m and m.group("top") == "com.android.settings/com.android.settings.Settings"
    sh(sim, f"am stack remove {m.group('id')}")
    assert sim.phone.foreground == "com.android.launcher3"


def test_legacy_contacts_phones_uri(sim):
    out = sh(sim, "content query --uri content://contacts/phones/ --projection display_name:number")
    assert out.startswith("Row: 0 display_name=Alice Johnson, number=+1 555-0101\n")
