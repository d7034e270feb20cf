"""The qwen3-vl dialect: the cookbooks' prompts byte for byte, the 0..1000 grid through Frame, defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from guiagent.model import dialects
from guiagent.model.base import HistoryItem, ImagePart, ParseError
from guiagent.model.image import PixelBudget, _smart_resize_reference
from guiagent.model.qwen3vl import Qwen3VL
from guiagent.model.scripted import ReplayModel, ScriptedModel
from guiagent.model.spec import load_model
from guiagent.tools.frame import Frame, OutOfFrame, Screenshot, ScreenSpace
from PIL import Image

GOLDEN = Path(__file__).parent / "data" / "golden"
MUSK = "Search for Musk in X and go to his homepage to open the first post."
# The cookbook's history entry, as the model's own "Action:" line (the cookbook strips the quotes).
MUSK_REPLY = ('Thought: The X app is open.\nAction: "I opened the X app from the home screen."\n<tool_call>\n'
              '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [500, 900]}}\n</tool_call>')
OK = "Click the OK button in the dialog"
SCREEN = (1366, 767)  # not a multiple of 32 (nor 28)
BUDGETS = [PixelBudget(), PixelBudget(min_pixels=3136, max_pixels=256 * 32 * 32)]


def _part(w: int, h: int) -> ImagePart:
    return ImagePart(image=Image.new("RGB", (8, 8)), size=(w, h))


def test_mobile_prompt_is_the_mobile_cookbooks_byte_for_byte():
    # qwen3vl_mobile_cookbook.txt: mobile_agent.ipynb's system_prompt and user_query (with its one history
    # step) rendered through the Qwen3-VL chat template — transcribed, not produced by this code.
    d = Qwen3VL()
    msgs = d.messages(MUSK, "mobile_use", _part(1440, 3136), [HistoryItem(calls=["{}"], reply=MUSK_REPLY)])
    assert d.render(msgs) == (GOLDEN / "qwen3vl_mobile_cookbook.txt").read_text(encoding="utf-8")


def test_computer_prompt_is_the_computer_use_cookbooks_byte_for_byte():
    # qwen3vl_computer_cookbook.txt: agent_function_call.py's ComputerUse at 1000x1000 through qwen-agent's
    # NousFnCallPrompt after "You are a helpful assistant.", the screenshot then the query (computer_use.ipynb).
    d = Qwen3VL()
    msgs = d.messages(OK, "computer_use", _part(1376, 768), [])
    assert d.render(msgs) == (GOLDEN / "qwen3vl_computer_cookbook.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(("env", "instruction", "golden"), [
    ("desktop", OK, "qwen3vl_computer_cookbook.txt"),
    ("android", MUSK, "qwen3vl_mobile_cookbook.txt"),
])
def test_cli_prompt_with_dialect_prints_the_cookbook_prompt(tmp_path, env, instruction, golden):
    out = subprocess.run([sys.executable, "-m", "guiagent", "prompt", instruction, "--env", env, "--screen",
                          "1366x767", "--dialect", "qwen3-vl"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, check=True,
                         cwd=Path(__file__).parents[1])
    expected = (GOLDEN / golden).read_text(encoding="utf-8").replace(
        "Step 1: I opened the X app from the home screen.; ", "")
    assert out.stdout == expected


def test_cli_rejects_an_unknown_dialect(tmp_path):
    out = subprocess.run([sys.executable, "-m", "guiagent", "prompt", "x", "--env", "desktop", "--screen",
                          "100x100", "--dialect", "qwen4"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, cwd=Path(__file__).parents[1])
    assert out.returncode == 2 and "qwen3-vl" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("budget", BUDGETS, ids=["hub-budget", "small-budget"])
def test_grid_edges_map_to_first_and_last_pixel_and_outside_is_rejected(budget):
    w, h = SCREEN
    shot = Screenshot(image=Image.new("RGB", SCREEN), screen=ScreenSpace(width=w, height=h))
    frame = Frame.build(shot, Qwen3VL().image_size(w, h, budget))
    assert frame.coord_size == (1000, 1000)
    assert frame.model_size[0] % 32 == 0 and frame.model_size[1] % 32 == 0
    assert frame.to_screen(0, 0) == (0, 0)
    assert frame.to_screen(1000, 1000) == (w - 1, h - 1)
    assert frame.to_screen(500, 500) == (683, 384)  # 500 * 1366 / 1000 = 683, 500 * 767 / 1000 = 383.5 -> 384
    for bad in [(1000.5, 0), (-1, 5), (0, 1001)]:
        with pytest.raises(OutOfFrame, match="0..1000"):
            frame.to_screen(*bad)
    # the budget changes the image the model sees, never the grid's mapping
    assert frame.to_model(683, 384) == (500, 501)
    assert Frame.model_validate(frame.model_dump()).to_screen(1000, 0) == (w - 1, 0)


def test_qwen25_frames_stay_pixel_frames():
    shot = Screenshot(image=Image.new("RGB", SCREEN), screen=ScreenSpace(width=SCREEN[0], height=SCREEN[1]))
    frame = Frame.build(shot, dialects.get("qwen2.5-vl").image_size(*SCREEN, PixelBudget()))
    assert frame.coords is None and frame.coord_size == frame.model_size == (1372, 756)
    old = frame.model_dump(exclude={"coord_width", "coord_height"})  # a frame recorded before grids existed
    assert Frame.model_validate(old).coord_size == (1372, 756)


@pytest.mark.parametrize("budget", BUDGETS, ids=["hub-budget", "small-budget"])
def test_image_size_is_smart_resize_with_factor_32(budget):
    w, h = Qwen3VL().image_size(*SCREEN, budget)
    assert (h, w) == _smart_resize_reference(SCREEN[1], SCREEN[0], 32, budget.min_pixels, budget.max_pixels)
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    assert (h, w) == smart_resize(SCREEN[1], SCREEN[0], factor=32, min_pixels=budget.min_pixels,
                                  max_pixels=budget.max_pixels)


def test_parser_maps_the_tools_own_aliases_and_refuses_what_cannot_run():
    d = Qwen3VL()
    [c] = d.parse('<tool_call>\n{"name": "computer_use", "arguments": {"action": "triple_click", '
                  '"coordinate": [10, 20]}}\n</tool_call>', "computer_use")
    assert c.action.action == "double_click" and c.action.coordinate == (10, 20)
    [c] = d.parse('<tool_call>{"name": "computer_use", "arguments": {"action": "hscroll", "pixels": -3}}'
                  '</tool_call>', "computer_use")
    assert c.action.action == "scroll"
    with pytest.raises(ParseError, match="cannot be carried out"):
        d.parse('<tool_call>{"name": "computer_use", "arguments": {"action": "answer", "text": "4"}}</tool_call>',
                "computer_use")
    with pytest.raises(ParseError, match="Unknown action"):  # not in the Qwen3-VL mobile tool
        d.parse('<tool_call>{"name": "mobile_use", "arguments": {"action": "open", "text": "X"}}</tool_call>',
                "mobile_use")
    [c] = d.parse('<tool_call>{"name": "mobile_use", "arguments": {"action": "answer", "text": "42"}}</tool_call>',
                  "mobile_use")
    assert c.action.action == "answer"


def test_defaults_come_from_the_model_and_an_explicit_dialect_wins(tmp_path):
    assert dialects.for_model_type("qwen3_vl") == "qwen3-vl" == dialects.for_model_type("qwen3_vl_moe")
    assert dialects.for_model_type("qwen2_5_vl") == "qwen2.5-vl" == dialects.for_model_type("llava")
    assert dialects.for_served_name("Qwen/Qwen3-VL-8B-Instruct") == "qwen3-vl"
    assert dialects.for_served_name("qwen3-vl-plus") == "qwen3-vl"
    assert dialects.for_served_name("qwen2.5-vl-72b-instruct") == "qwen2.5-vl"
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen3_vl"}))
    assert dialects.for_checkpoint(tmp_path) == "qwen3-vl"
    script = tmp_path / "s.json"
    script.write_text('["no tool call"]')
    assert load_model(f"scripted:{script}").dialect.name == "qwen2.5-vl"
    assert load_model(f"scripted:{script}", dialect="qwen3-vl").dialect.name == "qwen3-vl"
    with pytest.raises(ValueError, match="unknown dialect"):
        load_model(f"scripted:{script}", dialect="qwen4")


def test_replay_uses_the_recorded_dialect(tmp_path):
    (tmp_path / "trajectory.json").write_text(json.dumps({"meta": {"dialect": "qwen3-vl"}, "steps": []}))
    assert ReplayModel.from_dir(tmp_path).dialect.name == "qwen3-vl"
    assert ReplayModel.from_dir(tmp_path, dialect="qwen2.5-vl").dialect.name == "qwen2.5-vl"
    (tmp_path / "trajectory.json").write_text(json.dumps({"meta": {"dialect": "nope"}, "steps": []}))
    with pytest.raises(ValueError, match="meta.dialect"):
        ReplayModel.from_dir(tmp_path)
    assert ScriptedModel([], dialect="qwen3-vl").dialect.name == "qwen3-vl"
