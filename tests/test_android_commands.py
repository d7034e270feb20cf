"""The adb command lines the Android env sends, checked as text and through a device-faithful shell."""

from __future__ import annotations

import io
import struct

import pytest
from guiagent.envs.adb_keys import UnknownKey, keycode
from guiagent.envs.android import (
    batch,
    decode_raw,
    ime_broadcast_command,
    is_input_text_safe,
    launch_command,
    parse_rotation,
    parse_wm_size,
    swipe_command,
    tap_command,
    text_commands,
)
from guiagent.envs.android_apps import LauncherApp, NoSuchApp, parse_query_activities, resolve
from guiagent.envs.simphone.server import SimPhone
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image


def test_pointer_command_lines():
    assert tap_command(540, 1200) == "input tap 540 1200"
    assert tap_command(10.4, 10.6) == "input tap 10 11"
    assert swipe_command(100, 2000, 100, 500, 300) == "input swipe 100 2000 100 500 300"
    assert swipe_command(5, 6, 5, 6, 2000) == "input swipe 5 6 5 6 2000"  # a long press
    assert launch_command("com.android.settings") == \
        "monkey -p com.android.settings -c android.intent.category.LAUNCHER 1"


@pytest.mark.parametrize("text, lines", [
    ("hello", ["input text hello"]),
    ("hello world", ["input text hello%sworld"]),
    ("a&b;c|d", ["input text 'a&b;c|d'"]),
    ("<x> (y) $z `w`", ["input text '<x>%s(y)%s$z%s`w`'"]),
    ("it's \"q\"", ["input text 'it'\"'\"'s%s\"q\"'"]),
    ("back\\slash", ["input text 'back\\slash'"]),
    ("100%", ["input text 100%"]),
    ("50%s off", ["input text 50%", "input text s%soff"]),
    ("%%s", ["input text %%", "input text s"]),
    ("line1\nline2", ["input text line1", "input keyevent 66", "input text line2"]),
    ("\n", ["input keyevent 66"]),
])
def test_text_command_lines(text, lines):
    assert text_commands(text) == lines


def test_non_ascii_is_not_for_input_text():
    assert not is_input_text_safe("caf\u00e9")
    with pytest.raises(ValueError):
        text_commands("你好")
    cmd = ime_broadcast_command("你好 & 'x'")
    assert cmd == "am broadcast -a ADB_INPUT_B64 --es msg 5L2g5aW9ICYgJ3gn"


def test_batch_joins_under_the_limit():
    cmds = [f"input text {'x' * 40}"] * 5
    lines = batch(cmds, limit=120)
    assert lines == [" && ".join(cmds[:2]), " && ".join(cmds[2:4]), cmds[4]]


def test_long_text_is_split_into_bounded_commands():
    lines = text_commands("a" * 2500)
    assert [len(x) for x in lines] == [len("input text ") + 1000] * 2 + [len("input text ") + 500]


# ---- the real proof: the command lines, run by a shell that parses like the device's
# sh and types like Android's `input text`, put exactly the text into the field.

_PHONE = SimPhone(port=0)
_PHONE.shell.run("am start -n com.simphone.notes/.NotesActivity")
_PHONE.phone.push({"name": "edit", "note_id": None, "fields": {"text": ""}, "focus": "text"})


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126) | st.just("\n"), max_size=80))
@example("& ; | < > ( ) $ ` \" ' \\ %")
@example("%s%%s%s %")
@example("'$(reboot)'")
@example("a\n\nb")
def test_typed_text_arrives_exactly(text):
    fields = _PHONE.phone.top()["fields"]
    fields["text"] = ""
    for line in batch(text_commands(text)):
        out, err, rc = _PHONE.shell.run(line)
        assert rc == 0, (line, err)
    assert fields["text"] == text


# ------------------------------------------------------------ keys


@pytest.mark.parametrize("name, code", [
    ("volume_up", 24), ("VOLUME_DOWN", 25), ("power", 26), ("camera", 27), ("clear", 28), ("enter", 66),
    ("KEYCODE_ENTER", 66), ("keycode_home", 3), ("back", 4), ("Backspace", 67), ("esc", 111), ("tab", 61),
    ("66", 66), ("3", 3), ("KEYCODE_A", 29), ("KEYCODE_9", 16), ("F12", 142), ("recents", 187), ("menu", 82),
    ("volume mute", 164), ("page-down", 93),
])
def test_key_names(name, code):
    assert keycode(name) == code


@pytest.mark.parametrize("name, hint", [("volume_upp", "volume_up"), ("frobnicate", None), ("99999", "out of range")])
def test_unknown_keys_say_what_to_use(name, hint):
    with pytest.raises(UnknownKey) as exc:
        keycode(name)
    msg = str(exc.value)
    assert "\n" not in msg and ("keycode" in msg)
    if hint:
        assert hint in msg


# ------------------------------------------------------------ device output parsing


def test_parse_wm_size_and_rotation():
    assert parse_wm_size("Physical size: 1080x2400\n") == ((1080, 2400), None)
    assert parse_wm_size("Physical size: 1080x2400\nOverride size: 720x1600\n") == ((1080, 2400), (720, 1600))
    with pytest.raises(ValueError):
        parse_wm_size("error: no display")
    assert parse_rotation("mViewports=[DisplayViewport{type=INTERNAL, orientation=3, logicalFrame=...}]") == 3
    assert parse_rotation("DisplayInfo{\"Built-in\", real 2400 x 1080, rotation 1, density 420}") == 1
    assert parse_rotation("    SurfaceOrientation: 2") == 2
    assert parse_rotation("nothing here") is None


def test_decode_raw_handles_both_header_sizes_and_formats():
    img = Image.new("RGB", (3, 2), (10, 20, 30))
    rgba = img.convert("RGBA").tobytes()
    for header in (struct.pack("<3I", 3, 2, 1), struct.pack("<4I", 3, 2, 1, 0)):
        out = decode_raw(header + rgba)
        assert out.mode == "RGB" and out.tobytes() == img.tobytes()
    bgra = bytes(b for px in zip(*[iter(rgba)] * 4, strict=True) for b in (px[2], px[1], px[0], px[3]))
    assert decode_raw(struct.pack("<3I", 3, 2, 5) + bgra).tobytes() == img.tobytes()
    with pytest.raises(ValueError, match="size mismatch"):
        decode_raw(struct.pack("<3I", 3, 2, 1) + rgba[:-1])


def test_png_and_raw_captures_decode_to_the_same_image():
    sim = SimPhone(port=0)
    png = Image.open(io.BytesIO(sim.phone.png())).convert("RGB")
    assert decode_raw(sim.phone.raw()).tobytes() == png.tobytes()


# ------------------------------------------------------------ app resolution

_QUERY = """2 activities found:
  Activity #0:
    priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false
    ActivityInfo:
      name=com.android.settings.Settings
      packageName=com.android.settings
      labelRes=0x7f1200a1 nonLocalizedLabel=null icon=0x7f0800c2 banner=0x0
  Activity #1:
    priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false
    ActivityInfo:
      name=org.example.todo.MainActivity
      packageName=org.example.todo
      labelRes=0x0 nonLocalizedLabel=My Tasks icon=0x7f0800c2 banner=0x0
"""


def test_parse_query_activities_reads_literal_labels():
    apps = parse_query_activities(_QUERY)
    assert apps == [LauncherApp("com.android.settings", ".Settings", None),
                    LauncherApp("org.example.todo", ".MainActivity", "My Tasks")]
    brief = parse_query_activities("priority=0 preferredOrder=0\ncom.android.deskclock/.DeskClock\n")
    assert brief == [LauncherApp("com.android.deskclock", ".DeskClock", None)]


@pytest.mark.parametrize("name, package", [
    ("org.example.todo", "org.example.todo"),        # package name
    ("my tasks", "org.example.todo"),               # device label
    ("Settings", "com.android.settings"),           # well-known name, label not reported
    ("the settings app", "com.android.settings"),
    ("todo", "org.example.todo"),                   # package word
    ("My Task", "org.example.todo"),                # fuzzy label
    ("setings", "com.android.settings"),            # fuzzy package word
])
def test_resolve_app(name, package):
    apps = parse_query_activities(_QUERY)
    assert resolve(name, apps, ["com.android.settings", "org.example.todo", "android"])[0] == package


def test_resolve_app_lists_what_exists_when_nothing_matches():
    with pytest.raises(NoSuchApp) as exc:
        resolve("Spotify", parse_query_activities(_QUERY), [])
    assert str(exc.value) == ("no installed app matches 'Spotify'; launchable apps: com.android.settings, "
                              "My Tasks (org.example.todo)")
