"""The one coordinate model: smart_resize numbers and the Frame's mapping."""

from __future__ import annotations

import pytest
from guiagent.model.image import PixelBudget, _smart_resize_reference, smart_resize
from guiagent.tools.actions import Click, LeftClick
from guiagent.tools.frame import Frame, OutOfFrame, Screenshot, ScreenSpace
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image


@pytest.mark.parametrize(("screen", "budget", "expected"), [
    # qwen25vl-formats.md §5 table and this-machine.md §2(f)
    ((1920, 1080), 12845056, (1932, 1092)), ((2560, 1440), 12845056, (2548, 1428)),
    ((1080, 2400), 12845056, (1092, 2408)), ((3456, 2160), 12845056, (3444, 2156)),
    ((1920, 1080), 1003520, (1316, 728)), ((2560, 1440), 1003520, (1316, 728)),
    ((1080, 2400), 1003520, (672, 1484)), ((3456, 2160), 1003520, (1260, 784)),
    ((1280, 800), 1003520, (1260, 784)), ((160, 210), 1003520, (168, 224)),
    ((1280, 720), 12845056, (1288, 728)), ((720, 1280), 1003520, (728, 1288)),
])
def test_model_size_matches_the_reference_numbers(screen, budget, expected):
    assert PixelBudget(max_pixels=budget).model_size(*screen) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(28, 4000), st.integers(28, 4000), st.sampled_from([(3136, 12845056), (3136, 1003520),
                                                                      (200704, 1003520), (3136, 50000)]))
def test_reference_smart_resize_equals_transformers(h, w, budget):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as theirs

    lo, hi = budget
    assert _smart_resize_reference(h, w, 28, lo, hi) == theirs(h, w, factor=28, min_pixels=lo, max_pixels=hi)
    assert smart_resize(h, w, 28, lo, hi) == theirs(h, w, factor=28, min_pixels=lo, max_pixels=hi)


def _frame(screen=(1366, 768), model=(1372, 756), scale=1.0, origin=(0, 0)) -> Frame:
    return Frame(image_width=int(screen[0] * scale), image_height=int(screen[1] * scale),
                 screen=ScreenSpace(width=screen[0], height=screen[1], scale=scale, origin_x=origin[0],
                                    origin_y=origin[1]),
                 model_width=model[0], model_height=model[1])


def test_to_screen_rounds_to_nearest_and_far_edge_is_last_pixel():
    f = _frame(screen=(1366, 768), model=PixelBudget().model_size(1366, 768))
    assert f.model_size == (1372, 756)
    assert f.to_screen(0, 0) == (0, 0)
    assert f.to_screen(1372, 756) == (1365, 767)
    assert f.to_screen(686, 378) == (683, 384)
    assert f.to_screen(100, 100) == (100, 102)  # 99.56 -> 100, 101.59 -> 102


def test_outside_points_are_rejected_not_clamped():
    f = _frame()
    for p in [(-1, 5), (5, -0.5), (1373, 5), (5, 757)]:
        with pytest.raises(OutOfFrame, match="outside the screen"):
            f.to_screen(*p)


def test_hidpi_and_monitor_origin():
    # a 2x HiDPI monitor placed right of a 1920-wide one: model pixels -> logical points + origin
    f = _frame(screen=(1440, 900), model=(2884, 1792), scale=2.0, origin=(1920, 0))
    assert f.to_screen(0, 0) == (1920, 0)
    assert f.to_screen(1442, 896) == (1920 + 720, 450)
    assert f.to_model(1920 + 720, 450) == (1442, 896)


@settings(max_examples=200, deadline=None)
@given(st.integers(100, 4000), st.integers(100, 4000), st.sampled_from([1003520, 12845056, 500000]))
def test_round_trip_model_screen_model(w, h, budget):
    mw, mh = PixelBudget(max_pixels=budget).model_size(w, h)
    f = _frame(screen=(w, h), model=(mw, mh))
    step_x, step_y = max(1, mw // 37), max(1, mh // 41)
    for x in range(0, mw, step_x):
        for y in range(0, mh, step_y):
            sx, sy = f.to_screen(x, y)
            assert 0 <= sx < w and 0 <= sy < h
            if w >= mw and h >= mh:  # screen at least as fine as the model image: exact inverse
                assert f.to_model(sx, sy) == (x, y)
            else:  # coarser screen: back within one model pixel of rounding
                bx, by = f.to_model(sx, sy)
                assert abs(bx - x) <= mw / w + 1 and abs(by - y) <= mh / h + 1


def test_action_mapping_keeps_non_coordinate_fields():
    f = _frame(screen=(1080, 2400), model=(1092, 2408))
    assert f.action_to_screen(Click(coordinate=(935, 406))) == Click(coordinate=(925, 405))
    assert f.action_to_screen(LeftClick()) == LeftClick()


def test_frame_build_from_screenshot():
    shot = Screenshot(image=Image.new("RGB", (2732, 1536)), screen=ScreenSpace(width=1366, height=768, scale=2.0))
    f = Frame.build(shot, PixelBudget().model_size(2732, 1536))
    assert (f.image_width, f.image_height, f.model_size) == (2732, 1536, (2744, 1540))
    assert f.to_screen(2744, 1540) == (1365, 767)


def test_bad_budget_is_a_clear_error():
    with pytest.raises(ValueError, match="must not exceed"):
        PixelBudget(min_pixels=10_000, max_pixels=5_000)
