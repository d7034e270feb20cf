"""`guiagent view`: the HTML report of a real run, checked in a real browser.

The run is real: the agent loop with scripted replies drives the desktop env on the
session Xvfb against the Tk logger app (tests/fixtures/desktop.py), so the report is
checked against where the clicks actually landed. Headless Chromium renders the
report; the marker test reads the marker's pixels off Chromium's screenshot.
"""

from __future__ import annotations

import html.parser
import json
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from guiagent.agent.report import action_marks, render_index, render_report, screen_to_pixel
from guiagent.agent.trajectory import ActionRecord, Trajectory, load_trajectory
from guiagent.tools.frame import Frame, ScreenSpace
from markupsafe import escape
from PIL import Image, ImageChops, ImageStat

from guiagent.cli import main as cli_main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CLICK_RGB = (0xFF, 0x1F, 0x5A)  # --mk-click in agent/report.html.jinja
INSTRUCTION = "Click the blue card, type a greeting, scroll, then drag the yellow card away"
TYPED = 'hi <b>&amp;</b> "there"'
THOUGHT = "I see a blue card. <script>alert('pwned')</script><img src=x onerror=alert(2)>"


def call(**arguments) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + "\n</tool_call>"


# Model-image coordinates (the model sees 1372x756 for the 1366x768 screen).
REPLIES = [
    THOUGHT + "\n" + call(action="left_click", coordinate=[300, 350]),
    call(action="type", text=TYPED),
    call(action="scroll", coordinate=[850, 500], pixels=-300),
    call(action="left_click_drag", coordinate=[1100, 650]),
    call(action="key", keys=["ctrl", "a"]),
    call(action="terminate", status="success"),
]


@dataclass
class Run:
    dir: Path
    traj: Trajectory
    events: list[dict]  # what the Tk app logged while the agent ran


@pytest.fixture(scope="module")
def run(tmp_path_factory, xvfb, tk_app_session) -> Run:
    """A real run: Agent + ScriptedModel + DesktopEnv on Xvfb, the Tk logger receiving the input."""
    from guiagent.agent.loop import Agent
    from guiagent.envs.desktop import DesktopEnv
    from guiagent.model.scripted import ScriptedModel

    app = tk_app_session
    app.reset()
    app.draw(100, 200, 400, 300, "#dbeafe")
    app.draw(700, 400, 300, 200, "#fde68a")
    out = tmp_path_factory.mktemp("run")
    env = DesktopEnv()
    try:
        result = Agent(ScriptedModel(REPLIES), env, out_dir=out, model_spec="scripted:replies.json",
                       env_spec="desktop").run(INSTRUCTION)
    finally:
        env.close()
    assert result.status == "success", result.reason
    events = app.sync()
    app.reset()
    return Run(dir=out, traj=load_trajectory(out), events=events)


@pytest.fixture(scope="module")
def report(run: Run) -> Path:
    """The run's report at its default place (rendered once for the tests that only read it)."""
    return render_report(run.dir)


def screen_action(traj: Trajectory, step: int) -> dict:
    return traj.steps[step - 1].actions[0].screen_action


def chromium_screenshot(url: str, size: tuple[int, int], tmp: Path) -> Image.Image:
    """Headless Chromium's screenshot of `url` in a window of `size` (device scale 1)."""
    if CHROMIUM is None:
        pytest.skip("needs chromium (apt install chromium)")
    png = tmp / "page.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars",
           "--force-device-scale-factor=1", f"--user-data-dir={tmp / 'profile'}", f"--screenshot={png}",
           f"--window-size={size[0]},{size[1]}", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-800:]}"
    with Image.open(png) as im:
        return im.convert("RGB")


def near(rgb: tuple[int, ...], target: tuple[int, int, int], tol: int = 40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb[:3], target, strict=True))


# --------------------------------------------------------------------------- content


def test_report_shows_run_facts_steps_and_embedded_images(run: Run, report: Path) -> None:
    assert report == run.dir / "report.html"
    page = report.read_text(encoding="utf-8")
    assert INSTRUCTION in page
    for fact in ("scripted:replies.json", "desktop (computer_use)", "1366×768", "1372×756 px", "3,136 – 12,845,056 px",
                 '<span class="badge good" id="status">success</span>', "the agent reported success"):
        assert fact in page, fact
    assert page.count('<section class="step" id="step-') == len(REPLIES)
    # every step: one full-size image and one thumbnail, embedded; nothing fetched from anywhere
    assert page.count('src="data:image/webp;base64,') == 2 * len(REPLIES)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
    assert "default-src 'none'" in page
    # per-phase timings of each step and the totals
    for phase in ("capture", "infer", "execute", "settle"):
        assert f'class="ph-{phase}"' in page
    # the parsed (model) action next to the executed (screen) one
    assert escape('{"action": "left_click", "coordinate": [300, 350]}') in page
    x, y = screen_action(run.traj, 1)["coordinate"]
    assert escape(f'{{"action": "left_click", "coordinate": [{x}, {y}]}}') in page
    assert "Incomplete run" not in page


def test_model_text_is_escaped(report: Path) -> None:
    page = report.read_text(encoding="utf-8")

    class Tags(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.scripts = 0
            self.handlers: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.scripts += tag == "script"
            self.handlers += [k for k, _ in attrs if k.startswith("on")]

    tags = Tags()
    tags.feed(page)
    assert tags.scripts == 1  # the report's own navigation script, nothing from the model
    assert tags.handlers == []
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert escape(json.dumps(TYPED)) in page  # the typed text, as the chip and the summary show it


# --------------------------------------------------------------------------- markers


def test_click_marker_is_drawn_where_the_click_landed(run: Run, report: Path, tmp_path: Path) -> None:
    step = run.traj.steps[0]
    x, y = screen_action(run.traj, 1)["coordinate"]
    # the env really clicked there: the Tk app logged the press at that screen point
    presses = [(e["x"], e["y"]) for e in run.events if e["type"] == "press"]
    assert presses[0] == (x, y)
    shot = chromium_screenshot(report.as_uri() + "?focus#step-1", (step.frame.image_width, step.frame.image_height),
                               tmp_path)
    px, py = (round(v) for v in screen_to_pixel(step.frame, x, y))
    window = [shot.getpixel((px + dx, py + dy)) for dx in range(-2, 3) for dy in range(-2, 3)]
    assert any(near(c, CLICK_RGB) for c in window), f"no marker colour around ({px}, {py}): {window}"
    with Image.open(run.dir / step.screenshot) as src:
        source = src.convert("RGB")
        assert not near(source.getpixel((px, py)), CLICK_RGB)  # the colour comes from the marker
        # the image itself is shown at natural size at (0, 0): a corner far from the marker matches the PNG
        box = (0, 0, 260, 160)
        diff = ImageStat.Stat(ImageChops.difference(shot.crop(box), source.crop(box))).mean
    assert max(diff) < 4, diff


def test_drag_arrow_starts_at_the_pointer_and_scroll_glyph_at_its_point(run: Run) -> None:
    scroll_at = tuple(screen_action(run.traj, 3)["coordinate"])
    drag_to = tuple(screen_action(run.traj, 4)["coordinate"])
    # what the Tk app saw: the drag pressed where the scroll left the pointer, released at the target
    releases = [(e["x"], e["y"]) for e in run.events if e["type"] == "release"]
    presses = [(e["x"], e["y"]) for e in run.events if e["type"] == "press"]
    assert presses[-1] == scroll_at and releases[-1] == drag_to
    pointer = None
    marks = []
    for s in run.traj.steps:
        m, pointer = action_marks(s.actions, s.frame, pointer)
        marks.append(m)
    frame = run.traj.steps[3].frame
    (arrow,) = marks[3]
    assert arrow.kind == "arrow" and arrow.label == "drag"
    assert arrow.px == screen_to_pixel(frame, *scroll_at)
    end = screen_to_pixel(frame, *drag_to)
    assert (arrow.x2, arrow.y2) == pytest.approx(((end[0] + .5) / 1366 * 100, (end[1] + .5) / 768 * 100))
    (glyph,) = marks[2]
    assert glyph.kind == "scroll" and not glyph.up and glyph.label == "scroll down 300px"
    assert [m.kind for m in marks[1]] == ["chip"] and marks[1][0].label.startswith("type ")
    assert marks[4][0].label == "key ctrl+a"


def test_marks_map_hidpi_and_monitor_origin_to_captured_pixels() -> None:
    # a 2x HiDPI monitor right of a 1920-wide one: executor points are global and logical
    frame = Frame(image_width=2880, image_height=1800, model_width=1372, model_height=868,
                  screen=ScreenSpace(width=1440, height=900, scale=2.0, origin_x=1920, origin_y=0))
    recs = [ActionRecord(call="", model_action={"action": "left_click", "coordinate": [10, 10]},
                         screen_action={"action": "left_click", "coordinate": [1920 + 720, 450]}, executed=True),
            ActionRecord(call="", model_action={"action": "double_click"}, screen_action={"action": "double_click"},
                         executed=True),
            ActionRecord(call="", model_action={"action": "right_click", "coordinate": [1, 1]},
                         screen_action={"action": "right_click", "coordinate": [1920 + 100, 50]},
                         decision="deny: right clicks are not allowed", error="Action rejected"),
            ActionRecord(call="", model_action={"action": "left_click", "coordinate": [5000, 10]},
                         decision="deny: coordinate [5000, 10] is outside the screen", error="Action rejected")]
    marks, pointer = action_marks(recs, frame, None)
    assert (marks[3].kind, marks[3].label) == ("chip", "left_click (5000, 10) [denied]")  # not drawn at the pointer
    assert marks[0].px == (1440.0, 900.0) and (marks[0].x, marks[0].y) == pytest.approx((1440.5 / 28.8, 900.5 / 18))
    assert marks[1].px == (1440.0, 900.0) and marks[1].label == "double click (at pointer)"  # clicks at the pointer
    assert marks[2].px == (200.0, 100.0) and marks[2].inactive and "[denied]" in marks[2].label
    assert [m.number for m in marks] == [1, 2, 3, 4]
    assert pointer == (2640, 450)  # the denied click did not move it


# --------------------------------------------------------------------------- browsing


def chrome_driver(size: tuple[int, int] = (1400, 900)):
    """Headless Chromium driven by chromedriver (the caller quits it)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs chromium and chromedriver (apt install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--force-device-scale-factor=1",
              f"--window-size={size[0]},{size[1]}"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def test_keyboard_moves_between_steps(report: Path) -> None:
    driver = chrome_driver()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    try:
        driver.get(report.as_uri())

        def where() -> tuple[str, str, str]:
            return driver.execute_script(
                "return [location.hash, document.querySelector('nav.steps a.current').dataset.step,"
                " document.querySelector('section.step.current').id]")

        assert where()[1:] == ["step-1", "step-1"]
        keys = ActionChains(driver)
        keys.send_keys("j").perform()
        keys.send_keys("j").perform()
        assert where() == ["#step-3", "step-3", "step-3"]
        ActionChains(driver).send_keys("k").perform()
        assert where() == ["#step-2", "step-2", "step-2"]
        for _ in range(len(REPLIES) + 2):  # past the end stays on the last step
            ActionChains(driver).send_keys(Keys.ARROW_RIGHT).perform()
        assert where() == [f"#step-{len(REPLIES)}"] * 1 + [f"step-{len(REPLIES)}"] * 2
        assert driver.get_log("browser") == []  # no CSP violation, no script error
    finally:
        driver.quit()


# --------------------------------------------------------------------------- a run killed half-way

KILLED_RUN = textwrap.dedent("""
    import json, sys
    from guiagent.agent.loop import Agent, Settle
    from guiagent.envs.replay import ReplayEnv
    from guiagent.model.scripted import ScriptedModel
    def call(**a):
        return "<tool_call>\\n" + json.dumps({"name": "computer_use", "arguments": a}) + "\\n</tool_call>"
    replies = [call(action="left_click", coordinate=[300, 350]), call(action="type", text="abc"),
               call(action="wait", time=60)]
    Agent(ScriptedModel(replies), ReplayEnv(sys.argv[1]), out_dir=sys.argv[2], settle=Settle(enabled=False),
          model_spec="scripted:killed.json", env_spec="replay").run("a run that gets killed")
""")


def test_killed_run_renders_and_says_it_is_incomplete(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(run.dir), str(out)], cwd=Path(__file__).parents[1],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60  # a bound for a broken child, not a timing assertion
        while time.monotonic() < deadline:
            try:
                if len(load_trajectory(out).steps) >= 2:
                    break
            except (OSError, ValueError):
                pass
            assert proc.poll() is None, proc.communicate()[1].decode()[-800:]
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # mid-run: step 3 is waiting
    finally:
        proc.kill()
        proc.wait(timeout=10)
    killed = load_trajectory(out)
    assert killed.status == "running" and killed.ended_at is None and len(killed.steps) == 2
    (out / killed.steps[1].screenshot).unlink()  # and the last screenshot is gone too

    page = render_report(out).read_text(encoding="utf-8")
    assert "Incomplete run." in page and "No ending was recorded" in page
    assert "1 screenshot missing: step_002.png." in page
    assert "screenshot step_002.png is missing" in page  # the placeholder in place of the image
    assert page.count('src="data:image/webp;base64,') == 2  # step 1's image and thumbnail only
    assert '<span class="badge warn" id="status">running</span>' in page
    assert "Ended</dt><dd>not recorded" in page


# --------------------------------------------------------------------------- the CLI


def test_view_cli_writes_the_named_file(run: Run, tmp_path: Path, capsys) -> None:
    target = tmp_path / "sub" / "r.html"
    assert cli_main(["view", str(run.dir), "-o", str(target)]) == 0
    assert capsys.readouterr().out.strip() == str(target)
    assert target.read_text(encoding="utf-8").startswith("<!doctype html>")


@pytest.mark.parametrize("case, message", [
    ("missing", "not found; expected a run directory written by guiagent"),
    ("empty", "not found; expected a run directory written by guiagent"),
    ("schema", "schema_version 99 is not supported"),
    ("garbage", "unreadable"),
    ("field", "field meta.instruction: Field required"),
])
def test_view_cli_bad_input_is_one_line_exit_2(case: str, message: str, tmp_path: Path, capsys) -> None:
    d = tmp_path / "run"
    if case != "missing":
        d.mkdir()
    if case == "schema":
        (d / "trajectory.json").write_text('{"schema_version": 99}')
    elif case == "garbage":
        (d / "trajectory.json").write_text("{not json")
    elif case == "field":
        (d / "trajectory.json").write_text(json.dumps({"schema_version": 1, "meta": {"env": "desktop"}}))
    assert cli_main(["view", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("guiagent view: error: ") and message in err
    assert not (d / "report.html").exists()


# --------------------------------------------------------------------------- the harness's index


def test_index_links_each_task_report_and_escapes(tmp_path: Path) -> None:
    (tmp_path / "tasks" / "t1").mkdir(parents=True)
    report = tmp_path / "tasks" / "t1" / "report.html"
    report.write_text("<!doctype html>")
    out = render_index(
        [{"id": "click-button", "status": "success", "score": 1.0, "steps": 3, "report": str(report), "seconds": 4.2},
         {"task": "type-<b>x</b>", "status": "failure", "score": 0, "steps": 15, "reason": "<img src=x onerror=1>"}],
        {"suite": "miniwob", "model": "hf:Qwen/Qwen2.5-VL-7B-Instruct", "success rate": "50 %"},
        tmp_path / "index.html")
    page = out.read_text(encoding="utf-8")
    assert '<a href="tasks/t1/report.html">click-button</a>' in page
    assert "type-&lt;b&gt;x&lt;/b&gt;" in page and "&lt;img src=x onerror=1&gt;" in page
    assert "<dt>success rate</dt><dd>50 %</dd>" in page
    assert "success · 1" in page and "failure · 1" in page


def test_mobile_marks_swipe_long_press_and_buttons() -> None:
    frame = Frame(image_width=1080, image_height=2400, model_width=1092, model_height=2408,
                  screen=ScreenSpace(width=1080, height=2400))

    def rec(action: dict) -> ActionRecord:
        return ActionRecord(call="", model_action=action, screen_action=action, executed=True)

    marks, _ = action_marks([rec({"action": "swipe", "coordinate": [540, 1800], "coordinate2": [540, 600]}),
                             rec({"action": "long_press", "coordinate": [100, 200], "time": 3}),
                             rec({"action": "system_button", "button": "Back"}),
                             rec({"action": "open", "text": "Settings"})], frame, None)
    swipe, press, back, app = marks
    assert swipe.kind == "arrow" and swipe.px == (540, 1800) and swipe.angle == pytest.approx(-90)
    assert (swipe.x2, swipe.y2) == pytest.approx((540.5 / 10.8, 600.5 / 24))
    assert (press.kind, press.style, press.label) == ("point", "press", "long press 3s")
    assert (back.kind, back.style, back.label) == ("chip", "key", 'system_button "Back"')
    assert (app.kind, app.label) == ("chip", 'open "Settings"')


# --------------------------------------------------------------------------- the screen after the last action


def test_the_report_ends_with_the_screen_after_the_last_action(screens_run: Path) -> None:
    page = render_report(screens_run).read_text(encoding="utf-8")
    traj = load_trajectory(screens_run)
    n = len(traj.steps)
    assert traj.final is not None and traj.final.after_step == n
    assert '<section class="step final" id="final">' in page and f"<h2>After step {n}</h2>" in page
    assert f'alt="the screen after step {n}"' in page and 'data-step="final"' in page
    # every step's image and thumbnail, then the final frame's
    assert page.count('src="data:image/webp;base64,') == 2 * n + 2
    # a run recorded without it (before the field existed) renders as before
    (screens_run / "final.png").unlink()
    page = render_report(screens_run).read_text(encoding="utf-8")
    assert "1 screenshot missing: final.png." in page and "screenshot final.png is missing" in page


@pytest.fixture
def screens_run(tmp_path: Path) -> Path:
    """A run of two clicks on three recorded screens that stops at its step limit (so it has a final frame)."""
    from guiagent.agent.loop import Agent, Settle
    from guiagent.envs.replay import ReplayEnv
    from guiagent.model.scripted import ScriptedModel

    from tests.recordings import record_screens

    screens = record_screens(tmp_path / "screens", ["red", "green", "blue"])
    click = call(action="left_click", coordinate=[10, 10])
    out = tmp_path / "run"
    Agent(ScriptedModel([click, click]), ReplayEnv(screens), out_dir=out, settle=Settle(enabled=False),
          max_steps=2).run("two clicks")
    return out


def mobile(**arguments) -> str:
    return "<tool_call>\n" + json.dumps({"name": "mobile_use", "arguments": arguments}) + "\n</tool_call>"


def test_a_tall_phone_step_keeps_the_reply_beside_its_screenshot(android_env, tmp_path: Path) -> None:
    """A real 1080x2400 run on the simulated phone: each step's image is height-capped, its reply to the right."""
    from guiagent.agent.loop import Agent
    from guiagent.model.scripted import ScriptedModel

    thought = "The home screen is showing. I will open the app drawer to find Settings. " * 4
    out = tmp_path / "phone"
    result = Agent(ScriptedModel([thought + "\n" + mobile(action="swipe", coordinate=[546, 1800], coordinate2=[546, 600]),
                                  thought + "\n" + mobile(action="system_button", button="Back")]),
                   android_env, out_dir=out, max_steps=2, model_spec="scripted:phone.json",
                   env_spec="android").run("Open the app drawer")
    assert result.status == "max_steps", result.reason
    traj = load_trajectory(out)
    assert (traj.steps[0].frame.image_width, traj.steps[0].frame.image_height) == (1080, 2400)
    report = render_report(out)
    driver = chrome_driver((1400, 900))
    try:
        driver.get(report.as_uri())
        boxes = driver.execute_script("""
            return Array.from(document.querySelectorAll('section.step')).map(function (s) {
              s.scrollIntoView({block: 'start'});
              var r = function (el) { var b = el.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
              var reply = s.querySelector('pre.reply');
              return {id: s.id, tall: s.classList.contains('tall'), section: r(s),
                      image: r(s.querySelector('figure.shot .frame img')), reply: reply ? r(reply) : null,
                      viewport: window.innerHeight};
            });""")
        assert driver.get_log("browser") == []
    finally:
        driver.quit()
    assert [b["id"] for b in boxes] == ["step-1", "step-2", "final"] and all(b["tall"] for b in boxes)
    for b in boxes:
        left, top, right, bottom = b["image"]
        assert bottom - top <= b["viewport"], b  # the image never needs a scroll to see whole
        assert (bottom - top) / (right - left) == pytest.approx(2400 / 1080, rel=0.02), b  # not distorted
        if b["reply"] is None:
            continue  # the final frame has no reply
        r_left, r_top, _, r_bottom = b["reply"]
        assert r_left >= right and r_top < bottom, b  # beside the screenshot (starting next to it), not below it
        assert r_top < b["section"][1] + b["viewport"], b  # within one screen of the step's top


def test_bench_reports_show_the_score_the_verdict_and_times_as_times(screens_run: Path, tmp_path: Path) -> None:
    """The harness's per-task report is headed by the score and the evaluator's verdict; its index reads as times."""
    from guiagent.harness import results

    out = tmp_path / "bench"
    folder = results.task_dir(out, "editor", "write-greeting")
    shutil.copytree(screens_run, folder)
    started = time.time() - 30
    rec = results.TaskRecord(task={"id": "write-greeting", "domain": "editor"}, status="scored", score=1.0,
                             success=True, instruction="two clicks", steps=2, seconds=12.5,
                             detail={"metric": "compare_text_file", "expected": "<b>hello</b>", "empty": ""},
                             started_at=started, ended_at=started + 12.5)
    results.write_record(folder, rec)
    results.write_report(folder, rec)
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "<dt>Score</dt><dd>1 (success)</dd>" in page
    assert "<dt>Evaluator</dt><dd>metric: compare_text_file; expected: &lt;b&gt;hello&lt;/b&gt;</dd>" in page
    assert page.index("<dt>Score</dt>") < page.index("<dt>Model</dt>")  # the verdict comes first
    assert '<section class="step final" id="final">' in page  # and the task's last screen is shown
    results.write_summary(out, {"suite": "desktop", "model": "scripted:x", "started_at": started,
                                "ended_at": started + 30, "wall_seconds": 30.0, "interrupted": False, "workers": 1})
    index = (out / "index.html").read_text(encoding="utf-8")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
    assert f"<dt>started_at</dt><dd>{stamp}</dd>" in index
    assert "<dt>wall_seconds</dt><dd>30.0 s</dd>" in index and "<dt>interrupted</dt><dd>no</dd>" in index
    assert re.search(r"<dd>\d{9,}\.\d+</dd>", index) is None and ">False<" not in index and ">True<" not in index
    assert '<a href="editor/write-greeting/report.html">write-greeting</a>' in index and "12.50 s" in index
