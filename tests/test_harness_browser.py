"""The MiniWoB browser env: real headless Chromium, coordinate input, MiniWoB's own reward."""

from __future__ import annotations

import shutil
import time

import pytest
from guiagent.tools.actions import Key, LeftClick, Scroll, Type


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("needs Debian's chromium and chromium-driver (apt install chromium chromium-driver)")
    from guiagent.envs.browser import BrowserEnv

    env = BrowserEnv()
    try:
        yield env
    finally:
        env.close()


def _rect(env, selector: str) -> dict:
    return env.js("var b = document.querySelector(arguments[0]).getBoundingClientRect();"
                  "return {x: b.left + b.width / 2, y: b.top + b.height / 2};", selector)


def test_observation_is_the_task_area_at_device_scale(browser):
    utterance = browser.load("click-test", seed=1)
    assert utterance == "Click the button."
    shot = browser.observe()
    assert shot.image.size == (320, 420)  # 160x210 CSS pixels at scale 2
    assert (shot.screen.width, shot.screen.height, shot.screen.scale) == (160, 210, 2)


def test_a_coordinate_click_earns_miniwobs_reward(browser):
    browser.load("click-test", seed=2)
    r = _rect(browser, "#subbtn")
    assert browser.reward()["done"] is False
    browser.execute(LeftClick(coordinate=(r["x"], r["y"])))
    reward = browser.reward()
    assert reward["done"] is True and reward["raw_reward"] == 1


def test_a_click_on_the_wrong_button_scores_minus_one(browser):
    browser.load("click-test-2", seed=3)  # two buttons, ONE and TWO
    target = browser.fields()["target"]
    wrong = "#subbtn2" if target == "ONE" else "#subbtn"
    assert browser.js(f"return document.querySelector('{wrong}').textContent.trim();") != target
    r = _rect(browser, wrong)
    browser.execute(LeftClick(coordinate=(r["x"], r["y"])))
    reward = browser.reward()
    assert reward["done"] is True and reward["raw_reward"] == -1


def test_typing_and_keys_reach_the_focused_field(browser):
    browser.load("enter-text", seed=4)
    target = browser.fields()["target"]
    r = _rect(browser, "#tt")
    browser.execute(LeftClick(coordinate=(r["x"], r["y"])))
    browser.execute(Type(text="wrong"))
    browser.execute(Key(keys=["ctrl", "a"]))  # select all, then typing replaces it
    browser.execute(Type(text=target))
    assert browser.js("return document.querySelector('#tt').value;") == target
    browser.execute(Key(keys=["Enter"]))
    s = _rect(browser, "#subbtn")
    browser.execute(LeftClick(coordinate=(s["x"], s["y"])))
    assert browser.reward()["raw_reward"] == 1


def test_wheel_scroll_scrolls_the_element_under_the_pointer(browser):
    browser.load("scroll-text-2", seed=5)
    r = _rect(browser, "#text-area")
    before = browser.js("return document.querySelector('#text-area').scrollTop;")
    browser.execute(Scroll(pixels=-100, coordinate=(r["x"], r["y"])))  # negative = down
    browser.observe()  # waits for the page to settle
    after = browser.js("return document.querySelector('#text-area').scrollTop;")
    assert after > before


def test_the_episode_timer_is_the_envs_to_set(browser):
    browser.load("click-test", seed=6)
    assert browser.js("return core.EPISODE_MAX_TIME;") == browser.episode_ms  # raised from MiniWoB's 10 s
    short = browser.episode_ms
    try:
        browser.episode_ms = 300
        browser.load("click-test", seed=7)
        time.sleep(0.6)  # MiniWoB's own timer ends the episode at -1, as it would at 10 s by default
        reward = browser.reward()
        assert reward["done"] is True and reward["raw_reward"] == -1 and reward["reason"] == "timed out"
    finally:
        browser.episode_ms = short
