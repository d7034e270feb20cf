"""DesktopEnv on a real Xvfb with the Tk logger: every action lands on the exact pixel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import pytest
from guiagent.envs import make_env
from guiagent.envs.base import CHANGED_KEY, SEQ_KEY, ActionError, EnvError
from guiagent.envs.desktop import DesktopEnv, wheel_clicks
from guiagent.model.image import PixelBudget
from guiagent.tools.actions import (
    DoubleClick,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    RightClick,
    Scroll,
    Terminate,
    Type,
    Wait,
)
from guiagent.tools.frame import Frame, ScreenSpace
from guiagent.tools.keys import UnknownKey, resolve_chord
from pydantic import ValidationError

from tests.fixtures.desktop import SCREEN, needs_xvfb

W, H = SCREEN
ROOT = Path(__file__).resolve().parent.parent
POINTS = [(0, 0), (W - 1, 0), (0, H - 1), (W - 1, H - 1), (683, 384), (1, 1), (1000, 123), (37, 700)]


@pytest.fixture
def env(xvfb):
    e = DesktopEnv(settle=False, failsafe=False)
    yield e
    e.close()


def presses(events: list[dict], button: int | None = None) -> list[tuple[int, int]]:
    return [(e["x"], e["y"]) for e in events if e["type"] == "press" and (button is None or e["button"] == button)]


# ---------------------------------------------------------------- observe


def test_observe_returns_the_screen_and_its_space(env, tk_app):
    shot = env.observe()
    assert shot.image.size == (W, H)
    assert shot.image.mode == "RGB"
    assert shot.screen == ScreenSpace(width=W, height=H, scale=1.0, origin_x=0, origin_y=0)
    info = env.describe()
    assert info["env"] == "desktop" and info["display"] == os.environ["DISPLAY"]
    assert info["geometry"] == {"left": 0, "top": 0, "width": W, "height": H}
    assert info["scale"] == 1.0


def test_canvas_pixels_appear_at_their_place_in_the_capture(env, tk_app):
    tk_app.draw(500, 400, 3, 3, "#ff0000")
    tk_app.draw(W - 2, H - 2, 2, 2, "#0000ff")  # blue tells RGB from BGR
    img = env.observe().image
    assert img.getpixel((500, 400)) == (255, 0, 0)
    assert img.getpixel((502, 402)) == (255, 0, 0)
    for p in [(499, 400), (500, 399), (503, 400), (500, 403)]:
        assert img.getpixel(p) == (255, 255, 255), p
    assert img.getpixel((W - 1, H - 1)) == (0, 0, 255)
    assert img.getpixel((W - 3, H - 1)) == (255, 255, 255)


def test_monitor_selection(xvfb):
    one = DesktopEnv(monitor=1, settle=False, failsafe=False)
    assert one.observe().screen == ScreenSpace(width=W, height=H, scale=1.0, origin_x=0, origin_y=0)
    one.close()
    with pytest.raises(ValueError, match=r"monitor 5 does not exist; this display has: 0 = 1366x768\+0\+0"):
        DesktopEnv(monitor=5)
    with pytest.raises(ValueError, match="monitor 7 does not exist"):
        make_env("desktop:7")


def test_settle_waits_only_after_an_action(xvfb, tk_app):
    e = DesktopEnv(settle=True, failsafe=False)
    first = e.observe()
    assert first.meta["settled"] and first.meta["settle_s"] == 0
    e.execute(MouseMove(coordinate=(100, 100)))
    after = e.observe()
    assert after.meta["settled"] and after.meta["settle_s"] > 0
    e.close()


def test_observations_are_numbered_and_say_whether_their_pixels_changed(env, tk_app):
    # the loop's stall rule reads `changed` instead of comparing two images itself
    first = env.observe()
    assert CHANGED_KEY not in first.meta  # nothing to compare with yet
    same = env.observe()
    assert same.meta[SEQ_KEY] == first.meta[SEQ_KEY] + 1 and same.meta[CHANGED_KEY] is False
    tk_app.draw(300, 200, 1, 1, "#00ff00")
    tk_app.sync()
    drawn = env.observe()
    assert drawn.meta[SEQ_KEY] == same.meta[SEQ_KEY] + 1 and drawn.meta[CHANGED_KEY] is True
    assert drawn.image.getpixel((300, 200)) == (0, 255, 0)
    again = env.observe()
    assert again.meta[CHANGED_KEY] is False


def test_settled_observation_compares_with_the_one_before_the_action(xvfb, tk_app):
    e = DesktopEnv(settle=True, failsafe=False)
    e.execute(MouseMove(coordinate=(100, 100)))
    e.observe()  # settled after whatever the app did before
    e.execute(MouseMove(coordinate=(100, 100)))  # nothing to repaint
    before = e.observe()
    assert before.meta["settled"] and before.meta[CHANGED_KEY] is False
    tk_app.draw(10, 10, 2, 2, "#ff0000")
    e.execute(MouseMove(coordinate=(120, 100)))
    drawn = e.observe()
    assert drawn.meta[CHANGED_KEY] is True and drawn.meta[SEQ_KEY] == before.meta[SEQ_KEY] + 1
    e.close()


def test_the_env_lets_pillow_reuse_freed_image_memory(xvfb, monkeypatch):
    # a fresh 8 MB allocation per screenshot cost 8.5 ms of a 10.6 ms capture on a loaded machine
    from PIL import Image

    monkeypatch.delenv("PILLOW_BLOCKS_MAX", raising=False)
    e = DesktopEnv(settle=False, failsafe=False)
    assert Image.core.get_blocks_max() >= 16
    before = Image.core.get_stats()["reused_blocks"]
    for _ in range(3):
        e.observe()
    assert Image.core.get_stats()["reused_blocks"] > before
    e.close()


# ---------------------------------------------------------------- mouse


@pytest.mark.parametrize(("cls", "button"), [(LeftClick, 1), (MiddleClick, 2), (RightClick, 3)])
def test_clicks_land_on_the_exact_pixel(env, tk_app, cls, button):
    for p in POINTS:
        env.execute(cls(coordinate=p))
    events = tk_app.sync()
    assert presses(events, button) == POINTS
    assert [(e["x"], e["y"]) for e in events if e["type"] == "release"] == POINTS
    assert all(e["button"] == button for e in events if e["type"] in ("press", "release"))


def test_click_without_coordinate_uses_the_pointer(env, tk_app):
    env.execute(MouseMove(coordinate=(321, 456)))
    assert tk_app.sync() == []  # a plain move is not a press
    env.execute(LeftClick())
    env.execute(RightClick())
    events = tk_app.sync()
    assert presses(events) == [(321, 456), (321, 456)]
    assert [e["button"] for e in events if e["type"] == "press"] == [1, 3]


def test_double_click(env, tk_app):
    env.execute(DoubleClick(coordinate=(700, 500)))
    events = tk_app.sync()
    assert presses(events, 1) == [(700, 500), (700, 500)]
    assert [(e["x"], e["y"]) for e in events if e["type"] == "double"] == [(700, 500)]


def test_drag_goes_from_the_pointer_to_the_coordinate(env, tk_app):
    env.execute(MouseMove(coordinate=(200, 300)))
    env.execute(LeftClickDrag(coordinate=(800, 600)))
    events = tk_app.sync()
    kinds = [e["type"] for e in events]
    assert kinds[0] == "press" and kinds[-1] == "release"
    assert (events[0]["x"], events[0]["y"]) == (200, 300)
    assert (events[-1]["x"], events[-1]["y"]) == (800, 600)
    motions = [(e["x"], e["y"]) for e in events if e["type"] == "motion"]
    assert len(motions) >= 2 and motions[-1] == (800, 600)
    assert all(200 <= x <= 800 and 300 <= y <= 600 for x, y in motions)


def test_scroll_clicks_and_direction(env, tk_app):
    env.execute(Scroll(pixels=300, coordinate=(640, 400)))
    wheel = tk_app.events("wheel")
    assert [(e["direction"], e["x"], e["y"]) for e in wheel] == [("up", 640, 400)] * 3
    env.execute(Scroll(pixels=-250))  # at the pointer; 2.5 clicks round up to 3
    assert [(e["direction"], e["x"], e["y"]) for e in tk_app.events("wheel")] == [("down", 640, 400)] * 3
    env.execute(Scroll(pixels=5, coordinate=(10, 20)))  # small amounts still move one click
    assert [(e["direction"], e["x"], e["y"]) for e in tk_app.events("wheel")] == [("up", 10, 20)]
    env.execute(Scroll(pixels=0))
    assert tk_app.events("wheel") == []


def test_wheel_click_rule():
    assert [wheel_clicks(p) for p in (0, 1, 49, 50, 100, 149, 150, -1, -100, -151)] == [0, 1, 1, 1, 1, 1, 2, -1, -1, -2]
    assert wheel_clicks(10**9) == 50 and wheel_clicks(-(10**9)) == -50
    assert wheel_clicks(-5, pixels_per_click=1) == -5  # OSWorld's "pixels are clicks"


def test_coordinates_off_screen_are_refused(env, tk_app):
    for p in [(W, 10), (10, H), (-1, 5)]:
        with pytest.raises(ActionError, match="outside the screen"):
            env.execute(LeftClick(coordinate=p))
    assert tk_app.sync() == []


# ---------------------------------------------------------------- keyboard


def test_key_chord_presses_in_order_and_releases_in_reverse(env, tk_app):
    env.execute(Key(keys=["ctrl", "shift", "z"]))
    events = tk_app.sync()
    down = [e for e in events if e["type"] == "key"]
    up = [e["keysym"] for e in events if e["type"] == "key_release"]
    assert [e["keysym"] for e in down] == ["Control_L", "Shift_L", "Z"]
    assert down[-1]["state"] & 0x5 == 0x5  # Shift | Control held when z went down
    assert up == ["Z", "Shift_L", "Control_L"]


@pytest.mark.parametrize(("keys", "keysym", "mask"), [
    (["Return"], "Return", 0),
    (["esc"], "Escape", 0),
    (["Page_Down"], "Next", 0),
    (["ArrowUp"], "Up", 0),
    (["BackSpace"], "BackSpace", 0),
    (["F5"], "F5", 0),
    (["ctrl+a"], "a", 0x4),
    (["cmd", "a"], "a", 0x40),  # Super_L is Mod4 on Xvfb's keymap
    (["alt", "x"], "x", 0x8),
    (["<"], "less", 0),  # pyautogui's own table would type ">" here
])
def test_key_names_reach_the_app(env, tk_app, keys, keysym, mask):
    env.execute(Key(keys=keys))
    last = [e for e in tk_app.sync() if e["type"] == "key"][-1]
    assert last["keysym"] == keysym
    assert last["state"] & mask == mask


def test_unknown_key_is_refused_before_anything_is_pressed(env, tk_app):
    hint = r"unknown key 'xyz'; use names like ctrl, alt, shift, enter, esc, tab, f5, a"
    with pytest.raises(ValidationError, match=hint):
        Key(keys=["ctrl", "xyz"])  # a model's reply fails here, as a parse error with this hint
    with pytest.raises(ActionError, match=hint):  # and a Key built without validation fails in the env
        env.execute(Key.model_construct(keys=["ctrl", "xyz"]))
    assert tk_app.sync() == []


def test_key_table_spellings():
    assert resolve_chord(["Control_L", "SHIFT", "Page_Up"]) == ["ctrl", "shift", "pageup"]
    assert resolve_chord(["super"]) == resolve_chord(["win"]) == resolve_chord(["meta"]) == ["super"]
    assert resolve_chord(["ctrl+C"]) == ["ctrl", "c"]
    assert resolve_chord(["ctrl++"]) == ["ctrl", "+"]
    assert resolve_chord(["A"]) == ["A"]
    with pytest.raises(UnknownKey, match="action=type"):
        resolve_chord(["é"])


def test_type_ascii_with_shell_metacharacters(env, tk_app):
    text = "Hello, World! $HOME `ls` ; rm -rf / && echo \"q\" 'x' | cat > f < g * ? ~ # % ^ {a} [b] (c) \\ =+_"
    env.execute(Type(text=text))
    assert tk_app.entry_text() == text


def test_type_non_ascii_arrives_intact(env, tk_app):
    text = "-n héllo wörld ✓ 你好"  # the leading "-n" must not be read as an xdotool option
    env.execute(Type(text=text))
    assert tk_app.entry_text() == text


def test_type_non_ascii_without_xdotool_says_how_to_install(env, tk_app, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ActionError, match=r"needs xdotool.*apt install xdotool"):
        env.execute(Type(text="héllo"))


def pasted(tk_app, tries: int = 50) -> tuple[str, list[str]]:
    """The Entry's text once a paste has landed, and the keysyms pressed meanwhile. Tk fetches the
    selection in a nested event loop, so the first read may come before the insert (a bounded
    wait, not a timing assertion)."""
    text, keys = "", []
    for _ in range(tries):
        keys += [e["keysym"] for e in tk_app.sync() if e["type"] == "key"]
        if text := tk_app.entry_text():
            break
        time.sleep(0.02)
    keys += [e["keysym"] for e in tk_app.sync() if e["type"] == "key"]
    return text, keys


def _needs_xclip() -> str:
    exe = shutil.which("xclip")
    if exe is None:
        pytest.skip("needs xclip (apt install xclip)")
    return exe


def test_type_non_ascii_through_the_clipboard(xvfb, tk_app):
    _needs_xclip()
    env = DesktopEnv(settle=False, failsafe=False, text_input="clipboard")
    try:
        text = "héllo wörld ✓ 你好 $(echo hi)"
        env.execute(Type(text=text))
        assert pasted(tk_app) == (text, ["Control_L", "v"])  # one paste chord, not keystrokes
    finally:
        env.close()


def test_without_xdotool_auto_falls_back_to_the_clipboard(env, tk_app, monkeypatch, tmp_path):
    (tmp_path / "xclip").symlink_to(_needs_xclip())
    monkeypatch.setenv("PATH", str(tmp_path))
    env.execute(Type(text="naïve café"))
    assert pasted(tk_app)[0] == "naïve café"


def test_wait_and_terminate_never_reach_the_env(env):
    for action in (Wait(time=1), Terminate(status="success")):
        with pytest.raises(ActionError, match="handled by the agent"):
            env.execute(action)


# ---------------------------------------------------------------- safety and sessions


def test_failsafe_stops_when_the_user_puts_the_pointer_in_a_corner(xvfb, tk_app):
    e = DesktopEnv(settle=False)  # failsafe on, the default
    tk_app.move_pointer(0, 0)
    with pytest.raises(EnvError, match="fail-safe") as err:
        e.execute(LeftClick(coordinate=(100, 100)))
    assert err.value.reason == "failsafe"
    assert tk_app.sync() == []
    # A corner the model clicked itself does not trip it.
    tk_app.move_pointer(500, 500)
    e.execute(LeftClick(coordinate=(W - 1, 0)))
    e.execute(LeftClick(coordinate=(10, 10)))
    assert presses(tk_app.sync()) == [(W - 1, 0), (10, 10)]
    e.close()


def test_no_display_is_a_clear_error(monkeypatch):
    for k in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(EnvError, match=r"^no display: DISPLAY is not set; start X or use Xvfb") as err:
        DesktopEnv()
    assert err.value.reason == "no_display"


def test_wayland_is_refused_with_a_way_out(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    with pytest.raises(EnvError, match="Wayland is unsupported.*clicks would land in the wrong place.*X11") as err:
        DesktopEnv()
    assert err.value.reason == "wayland"


def test_xvfb_run_on_a_wayland_desktop_works(xvfb, monkeypatch):
    # xvfb-run keeps the desktop's XDG_SESSION_TYPE=wayland but DISPLAY is a real X server.
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    e = DesktopEnv(settle=False)
    assert e.observe().image.size == (W, H)
    e.close()


def test_dead_display_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":9876")
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    with pytest.raises(EnvError, match=r"no display: cannot open X display ':9876'") as err:
        DesktopEnv()
    assert err.value.reason == "no_display"


def test_missing_xauthority_file_is_replaced_by_an_empty_one_that_needs_no_cleanup(xvfb, monkeypatch, tmp_path):
    monkeypatch.setenv("XAUTHORITY", str(tmp_path / "nope"))
    e = DesktopEnv(settle=False)
    assert os.environ["XAUTHORITY"] == os.devnull
    assert e.observe().image.size == xvfb.size  # connected without a cookie
    e.close()


_LOST = """
import json
from guiagent.envs.base import EnvError
from guiagent.envs.xvfb import start_xvfb
from guiagent.tools.actions import LeftClick
x = start_xvfb(320, 240)
import os
os.environ.update(x.environ())
from guiagent.envs.desktop import DesktopEnv
e = DesktopEnv(settle=False, failsafe=False)
e.execute(LeftClick(coordinate=(10, 10)))
x.stop()
out = {}
for name, call in [("observe", e.observe), ("execute", lambda: e.execute(LeftClick(coordinate=(20, 20))))]:
    try:
        call()
        out[name] = "no error"
    except EnvError as exc:
        out[name] = exc.reason
print(json.dumps(out))
"""


def test_display_that_goes_away_ends_the_run():
    needs_xvfb()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "XDG_SESSION_TYPE", "WAYLAND_DISPLAY")}
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(_LOST)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == {"observe": "display_lost", "execute": "display_lost"}


# ---------------------------------------------------------------- the coordinate round trip


@pytest.mark.parametrize("budget", [PixelBudget(), PixelBudget(max_pixels=500_000)], ids=["default", "500k"])
def test_model_points_land_on_the_expected_screen_pixel(env, tk_app, budget):
    shot = env.observe()
    mw, mh = budget.model_size(shot.image.width, shot.image.height)
    frame = Frame.build(shot, (mw, mh))
    points = [(0, 0), (mw, mh), (mw // 2, mh // 2), (mw - 1, 1), (17, mh - 3), (mw // 3, 2 * mh // 7), (123, 45)]
    for p in points:
        env.execute(frame.action_to_screen(LeftClick(coordinate=p)))
    expected = [(_half_up(x, W, mw), _half_up(y, H, mh)) for x, y in points]
    assert presses(tk_app.sync(), 1) == expected


def _half_up(v: int, screen: int, model: int) -> int:
    # Nearest screen pixel (ties up), and the model image's far edge is the last screen pixel.
    return min(int(Fraction(v * screen, model) + Fraction(1, 2)), screen - 1)
