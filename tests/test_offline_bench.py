"""Offline benchmarks (ScreenSpot, ScreenSpot-Pro, AndroidControl) on files in their published formats.

The data is built by tests/fixtures/offline.py from the simulated phone's real rendered screens
and its `uiautomator dump` rectangles, on a 1080x2400 phone, a 1366x768 and a 3840x2160 display.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from guiagent.model.image import PixelBudget
from guiagent.tools.frame import Frame, ScreenSpace

from guiagent.cli import main
from tests.fixtures.offline import (
    record_episodes,
    write_androidcontrol_jsonl,
    write_androidcontrol_tfrecord,
    write_screenspot,
    write_screenspot_pro,
)


@pytest.fixture(scope="module")
def spot(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    return write_screenspot(tmp_path_factory.mktemp("screenspot"))


@pytest.fixture(scope="module")
def pro(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    return write_screenspot_pro(tmp_path_factory.mktemp("screenspot-pro"))


@pytest.fixture(scope="module")
def episodes() -> list[dict]:
    return record_episodes()


@pytest.fixture(scope="module")
def ac(tmp_path_factory, episodes) -> Path:
    return write_androidcontrol_tfrecord(tmp_path_factory.mktemp("ac") / "android_control-00000-of-00001", episodes)


def bench(*args: str) -> int:
    return main(["bench", *args])


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


def model_point(size: tuple[int, int], x: float, y: float, budget: PixelBudget | None = None) -> tuple[int, int]:
    """Screen pixel -> the model-image pixel a model would answer, for `size` screenshots."""
    w, h = size
    mw, mh = (budget or PixelBudget()).model_size(w, h)
    return Frame(image_width=w, image_height=h, screen=ScreenSpace(width=w, height=h), model_width=mw,
                 model_height=mh).to_model(x, y)


def click(x: int, y: int, space: str = "computer_use", action: str = "left_click") -> str:
    call = {"name": space, "arguments": {"action": action, "coordinate": [x, y]}}
    return "<tool_call>\n" + json.dumps(call) + "\n</tool_call>"


# ---------------------------------------------------------------- ScreenSpot


def test_screenspot_oracle_scores_every_sample_on_real_screens_of_three_shapes(spot, tmp_path):
    ann, img, samples = spot
    out = tmp_path / "run"
    assert bench("screenspot", "--data", str(ann), "--images", str(img), "--model", "oracle", "--out", str(out),
                 "--workers", "3") == 0
    s = summary(out)
    assert s["success_rate"] == 1.0 and s["done"] == s["samples"] == len(samples) == 12
    for platform in ("mobile", "desktop", "web"):
        for kind in ("text", "icon"):
            assert s["by_platform"][platform][kind] == {"hits": 2, "total": 2, "accuracy": 1.0}
    recs = records(out)
    assert {tuple(r["screen"]) for r in recs} == {(1080, 2400), (1366, 768), (3840, 2160)}
    assert all(r["screen"][0] % 28 and r["screen"][1] % 28 for r in recs)  # none is a multiple of 28
    # the reply went through the parser and the Frame: the point is in the box, in screen pixels
    for r in recs:
        x1, y1, x2, y2 = r["truth"]["bbox"]
        assert x1 <= r["predicted"]["point"][0] <= x2 and y1 <= r["predicted"]["point"][1] <= y2
        assert tuple(r["model_size"]) != tuple(r["screen"])
    md = (out / "summary.md").read_text()
    assert "| Mobile Text | Mobile Icon | Desktop Text | Desktop Icon | Web Text | Web Icon | Avg |" in md
    assert "| 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 |" in md


def test_screenspot_one_file_and_a_scripted_model_scores_exactly_its_hits(spot, tmp_path):
    ann, img, samples = spot
    mobile = [s for s in samples if s["platform"] == "mobile"]
    replies = []
    for i, s in enumerate(mobile):
        x1, y1, x2, y2 = s["bounds"]
        if i == 0:
            replies.append(click(*model_point((1080, 2400), (x1 + x2) / 2, (y1 + y2) / 2)))  # hit
        elif i == 1:
            replies.append(click(*model_point((1080, 2400), x2 + 30 if x2 + 30 < 1080 else x1 - 30, y1 - 30)))  # miss
        elif i == 2:
            replies.append("I cannot find it.")  # no coordinate: a miss
        else:
            replies.append(click(*model_point((1080, 2400), x1 + 1, y2 - 1)))  # just inside the edge: hit
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(replies))
    out = tmp_path / "run"
    assert bench("screenspot", "--data", str(ann / "screenspot_mobile.json"), "--images", str(img),
                 "--model", f"scripted:{script}", "--out", str(out)) == 0
    s = summary(out)
    assert s["samples"] == 4 and s["success_rate"] == 0.5
    recs = {r["id"]: r for r in records(out)}
    assert [recs[f"screenspot_mobile:{i}"]["hit"] for i in range(4)] == [True, False, False, True]
    assert recs["screenspot_mobile:2"]["reason"].startswith("no point: No tool call found")
    page = (out / "misses.html").read_text()
    assert "screenspot_mobile:1" in page and "screenspot_mobile:2" in page and "screenspot_mobile:0<" not in page
    assert (out / "misses" / "screenspot_mobile_1.jpg").is_file()
    assert "I cannot find it." in page


def test_the_misses_page_escapes_instructions_and_replies(spot, tmp_path):
    ann, img, _ = spot
    data = json.loads((ann / "screenspot_mobile.json").read_text())[:1]
    data[0]["instruction"] = "<script>alert(1)</script> the Settings icon"
    hostile = tmp_path / "screenspot_mobile.json"
    hostile.write_text(json.dumps(data))
    script = tmp_path / "r.json"
    script.write_text(json.dumps(["<img src=x onerror=alert(2)>"]))
    out = tmp_path / "run"
    assert bench("screenspot", "--data", str(hostile), "--images", str(img), "--model", f"scripted:{script}",
                 "--out", str(out)) == 0
    page = (out / "misses.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "script-src" not in page and "default-src 'none'" in page


def test_screenspot_pro_oracle_at_native_resolution_and_its_group_table(pro, tmp_path):
    ann, img, samples = pro
    out = tmp_path / "run"
    assert bench("screenspot-pro", "--data", str(ann), "--images", str(img), "--model", "oracle", "--out", str(out),
                 "--max-pixels", "99999999", "--workers", "2") == 0
    s = summary(out)
    assert s["success_rate"] == 1.0 and s["samples"] == len(samples) == 12
    assert s["by_group"]["Dev"]["all"]["total"] == 4 and s["by_group"]["CAD"]["all"]["total"] == 0
    assert s["max_pixels"] == 99999999
    uhd = [r for r in records(out) if r["screen"] == [3840, 2160]]
    assert uhd and all(r["model_size"] == [3836, 2156] for r in uhd)  # native: only rounded to 28
    md = (out / "summary.md").read_text()
    assert "| Group | Text | Icon | Avg |" in md and "| Creative | 100.0 | 100.0 | 100.0 |" in md
    assert "| CAD | - | - | - |" in md


def test_resume_keeps_finished_samples_and_reruns_the_errored_ones(spot, tmp_path, capsys):
    ann, img, samples = spot
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(["first"] * 5))  # the script ends after 5 samples: the rest are errors
    out = tmp_path / "run"
    args = ["screenspot", "--data", str(ann), "--images", str(img), "--out", str(out)]
    assert bench(*args, "--model", f"scripted:{script}") == 1
    first = summary(out)
    assert first["errors"] == 7 and first["scored"] == 5 and first["success_rate"] == 0.0
    # a second run into the same folder without --resume, or with another model, is refused: nothing lost
    capsys.readouterr()
    assert bench(*args, "--model", f"scripted:{script}") == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err
    assert bench(*args, "--model", "oracle", "--resume") == 2
    assert "was run with --model scripted:" in capsys.readouterr().err
    script.write_text(json.dumps(["second"] * 7))
    assert bench(*args, "--model", f"scripted:{script}", "--resume") == 0
    s = summary(out)
    assert s["done"] == 12 and s["errors"] == 0 and s["this_run"]["samples"] == 7
    raws = [r["raw"] for r in read_records_by_id(out).values()]
    assert sorted(raws) == ["first"] * 5 + ["second"] * 7


def read_records_by_id(out: Path) -> dict[str, dict]:
    """The last line of each sample id, as --resume reads the file."""
    return {r["id"]: r for r in records(out)}


def test_a_stop_request_keeps_every_finished_sample(spot, tmp_path):
    from guiagent.harness.offline.oracle import OfflineOracle
    from guiagent.harness.offline.runner import OfflineOptions, OfflineRunner
    from guiagent.harness.offline.screenspot import GroundingSuite

    ann, img, _ = spot
    stop = threading.Event()

    class StopAfterThree:
        def __init__(self) -> None:
            self.finished_ids: list[str] = []

        def started(self, task_id: str) -> None: ...

        def finished(self, record) -> None:
            self.finished_ids.append(record.id)
            if len(self.finished_ids) == 3:
                stop.set()  # what the first Ctrl+C does

        def log(self, message: str) -> None: ...

        def close(self) -> None: ...

    progress = StopAfterThree()
    out = tmp_path / "run"
    suite = GroundingSuite("screenspot", ann, img)
    result = OfflineRunner(suite, OfflineOracle(), OfflineOptions(out=out, model_spec="oracle"), progress=progress,
                           stop=stop).run()
    assert result["interrupted"] and result["done"] == 3 == len(progress.finished_ids)
    assert [r["id"] for r in records(out)] == progress.finished_ids
    again = OfflineRunner(suite, OfflineOracle(), OfflineOptions(out=out, model_spec="oracle", resume=True),
                          progress=StopAfterThree()).run()
    assert not again["interrupted"] and again["done"] == 12 and again["this_run"]["samples"] == 9


@pytest.mark.parametrize("change, message", [
    (lambda d: d[0].pop("bbox"), "annotation 0: bbox: Field required"),
    (lambda d: d[1].update(data_type="button"), "annotation 1: data_type"),
    (lambda d: d[0].update(img_filename="missing.png"), "img_filename 'missing.png' is not in"),
    (lambda d: d[2].update(bbox=[10, 10, -5, 3]), "annotation 2: bbox has negative width"),
])
def test_bad_screenspot_files_are_one_line_errors(spot, tmp_path, capsys, change, message):
    ann, img, _ = spot
    data = json.loads((ann / "screenspot_web.json").read_text())
    change(data)
    bad = tmp_path / "screenspot_web.json"
    bad.write_text(json.dumps(data))
    assert bench("screenspot", "--data", str(bad), "--images", str(img), "--model", "oracle",
                 "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and str(bad) in err and "Traceback" not in err


def test_screenspot_needs_its_images_folder(spot, tmp_path, capsys):
    ann, _, _ = spot
    assert bench("screenspot", "--data", str(ann), "--model", "oracle") == 2
    assert "needs --images DIR" in capsys.readouterr().err


# ---------------------------------------------------------------- AndroidControl


def test_androidcontrol_tfrecord_oracle_scores_every_step_in_both_settings(ac, episodes, tmp_path):
    out = tmp_path / "run"
    assert bench("androidcontrol", "--data", str(ac), "--model", "oracle", "--out", str(out), "--workers", "2") == 0
    s = summary(out)
    steps = sum(len(e["actions"]) for e in episodes)
    assert s["samples"] == 2 * steps and s["success_rate"] == 1.0
    for setting in ("high", "low"):
        assert s["by_setting"][setting]["steps"] == steps
        assert s["by_setting"][setting]["type_accuracy"] == s["by_setting"][setting]["step_success"] == 1.0
        assert set(s["by_setting"][setting]["by_action"]) == {"click", "long_press", "scroll", "open_app", "type",
                                                               "navigate_home", "navigate_back", "wait"}
    recs = {r["id"]: r for r in records(out)}
    # the click's target is the element of the accessibility tree under the gold point
    assert recs["101:0:high"]["truth"]["bounds"] == [0, 344, 270, 644]
    assert {tuple(r["screen"]) for r in recs.values()} == {(1080, 2400), (1079, 2399)}
    md = (out / "summary.md").read_text()
    assert "| Setting | Type accuracy | Step success (SR) | Steps |" in md and "| High | 100.0 | 100.0 | 11 |" in md


def test_androidcontrol_jsonl_without_trees_uses_the_distance_rule(episodes, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_androidcontrol_jsonl(data / "episodes.jsonl", episodes, trees=False)
    (data / "splits.json").write_text(json.dumps({"train": [101], "test": [202]}))
    out = tmp_path / "run"
    assert bench("androidcontrol", "--data", str(data), "--model", "oracle", "--out", str(out),
                 "--setting", "high") == 0
    s = summary(out)
    assert s["samples"] == len(episodes[1]["actions"]) and s["success_rate"] == 1.0
    assert all("bounds" not in r["truth"] for r in records(out))
    assert set(s["by_setting"]) == {"high"}


def test_androidcontrol_scripted_model_scores_exactly_its_hits_and_sees_the_gold_history(ac, episodes, tmp_path):
    from guiagent.harness.offline.androidcontrol import AndroidControlSuite
    from guiagent.harness.offline.runner import OfflineOptions, OfflineRunner
    from guiagent.model.scripted import ScriptedModel

    ep1 = episodes[0]
    size = ep1["sizes"][0]
    settings_center = (135, 494)  # Settings icon, bounds (0, 344, 270, 644)
    replies = [
        click(*model_point(size, *settings_center), "mobile_use", "click"),               # 0 click: exact
        click(*model_point(size, 540, 1200), "mobile_use", "click"),                      # 1 click, wrong row: type only
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "system_button", "button": "Back"}}\n</tool_call>',
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "system_button", "button": "Back"}}\n</tool_call>',
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "open", "text": " contacts "}}\n</tool_call>',
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "swipe", "coordinate": [500, 600], '
        '"coordinate2": [500, 1800]}}\n</tool_call>',                                      # 5 swipe down = scroll up
        "thinking only",                                                                   # 6 no call: miss
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "open", "text": "Contacts"}}\n</tool_call>',
        click(*model_point(ep1["sizes"][0], 540, 1000), "mobile_use", "long_press"),       # 8 long press elsewhere
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "type", "text": "bob"}}\n</tool_call>',
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "type", "text": "Smith!"}}\n</tool_call>',
    ]
    model = ScriptedModel(replies)
    out = tmp_path / "run"
    s = OfflineRunner(AndroidControlSuite(ac, setting="high"), model,
                      OfflineOptions(out=out, model_spec="scripted"), progress=_Quiet()).run()
    recs = {r["id"]: r for r in records(out)}
    exact = {k: r["detail"]["exact_match"] for k, r in recs.items()}
    typed = {k: r["detail"]["type_match"] for k, r in recs.items()}
    assert exact == {"101:0:high": True, "101:1:high": False, "101:2:high": True, "101:3:high": False,
                     "101:4:high": True, "101:5:high": False, "101:6:high": False, "202:0:high": True,
                     "202:1:high": False, "202:2:high": True, "202:3:high": True}
    assert [typed[f"101:{i}:high"] for i in range(7)] == [True, True, True, False, True, True, False]
    assert s["by_setting"]["high"]["step_success"] == 6 / 11 and s["by_setting"]["high"]["type_accuracy"] == 9 / 11
    # step 3 was shown the three gold steps before it as the cookbook's task progress, in model coordinates
    text = model.requests[3][-1].text()
    cx, cy = model_point(size, 135, 494)
    assert text.startswith("The user query:  Check Wi-Fi, then look through my contacts\nTask progress")
    assert f'Step 1: {{"name": "mobile_use", "arguments": {{"action": "click", "coordinate": [{cx}, {cy}]}}}}; ' in text
    assert 'Step 3: {"name": "mobile_use", "arguments": {"action": "system_button", "button": "Back"}}; ' in text
    assert "Step 4" not in text
    assert model.requests[0][-1].text().endswith("Task progress (You have done the following operation on the "
                                                 "current device): ")


def test_androidcontrol_with_qwen3_vl_scores_on_the_grid_and_writes_history_in_grid_coordinates(ac, episodes,
                                                                                                tmp_path):
    from guiagent.harness.offline.androidcontrol import AndroidControlSuite
    from guiagent.harness.offline.runner import OfflineOptions, OfflineRunner
    from guiagent.model.scripted import ScriptedModel

    w, h = episodes[0]["sizes"][0]
    gx, gy = (2 * 135 * 1000 + w) // (2 * w), (2 * 494 * 1000 + h) // (2 * h)  # Settings icon on the 0..1000 grid
    reply = click(gx, gy, "mobile_use", "click")
    model = ScriptedModel([reply] * 11, dialect="qwen3-vl")
    out = tmp_path / "run"
    OfflineRunner(AndroidControlSuite(ac, setting="high"), model, OfflineOptions(out=out, model_spec="scripted"),
                  progress=_Quiet()).run()
    recs = {r["id"]: r for r in records(out)}
    assert recs["101:0:high"]["detail"]["exact_match"] is True  # the grid point lands inside the icon
    text = model.requests[1][-1].text()
    assert text.startswith("The user query: Check Wi-Fi, then look through my contacts.\nTask progress")
    assert f'Step 1: {{"name": "mobile_use", "arguments": {{"action": "click", "coordinate": [{gx}, {gy}]}}}}; ' in text


def test_the_low_setting_adds_the_step_instruction(ac):
    from guiagent.harness.offline.androidcontrol import AndroidControlSuite

    low = [s for s in AndroidControlSuite(ac, setting="low").samples()]
    assert low[1].instruction == "Check Wi-Fi, then look through my contacts\nNext step: Tap Wi-Fi"
    high = [s for s in AndroidControlSuite(ac, setting="high").samples()]
    assert high[1].instruction == "Check Wi-Fi, then look through my contacts"


def test_matching_rule():
    from guiagent.harness.offline.androidcontrol import Gold, match, swipe_direction
    from guiagent.tools.actions import Click, LongPress, MobileType, Open, Swipe, SystemButton

    tap = Gold(type="click", x=500, y=1000)
    assert match(tap, Click(coordinate=(100, 100)), 1000, 2000, (90, 90, 110, 110)) == (True, True)
    assert match(tap, Click(coordinate=(500, 1000)), 1000, 2000, (90, 90, 110, 110)) == (True, False)
    # no element box: within 0.14 of the gold point in screen-normalised coordinates
    assert match(tap, Click(coordinate=(500 + 139, 1000)), 1000, 2000, None) == (True, True)
    assert match(tap, Click(coordinate=(500 + 141, 1000)), 1000, 2000, None) == (True, False)
    assert match(tap, Click(coordinate=(500, 1000 + 279)), 1000, 2000, None) == (True, True)
    assert match(tap, LongPress(coordinate=(500, 1000)), 1000, 2000, None) == (False, False)
    for direction, (start, end) in {"down": ((5, 9), (5, 1)), "up": ((5, 1), (5, 9)), "right": ((9, 5), (1, 5)),
                                    "left": ((1, 5), (9, 5))}.items():
        assert swipe_direction(start, end) == direction
        assert match(Gold(type="scroll", direction=direction), Swipe(coordinate=start, coordinate2=end), 10, 10,
                     None) == (True, True)
    assert match(Gold(type="type", text="Hello  World."), MobileType(text="hello world"), 1, 1, None) == (True, True)
    assert match(Gold(type="type", text="Hello"), MobileType(text="Help"), 1, 1, None) == (True, False)
    assert match(Gold(type="open_app", text="Google Maps"), Open(text="google maps"), 1, 1, None) == (True, True)
    assert match(Gold(type="navigate_back"), SystemButton(button="Back"), 1, 1, None) == (True, True)
    assert match(Gold(type="navigate_back"), SystemButton(button="Home"), 1, 1, None) == (False, False)


def test_accessibility_forest_wire_format_round_trips_negative_bounds():
    from guiagent.harness.offline.androidcontrol import target_bounds
    from guiagent.harness.offline.protowire import Node, encode_forest, forest_nodes

    nodes = [Node(bounds=(-20, -5, 1080, 2400), text="root", visible=True),
             Node(bounds=(10, 20, 300, 400), description="Büro", clickable=True, visible=True),
             Node(bounds=(20, 30, 100, 100), visible=False)]
    blob = encode_forest(nodes)
    assert forest_nodes(blob) == nodes
    assert target_bounds(blob, (50, 50)) == (10, 20, 300, 400)  # the smallest visible one
    assert target_bounds(blob, (2000, 50)) is None
    assert target_bounds(b"\xff\xff", (50, 50)) is None  # a corrupt tree: no box, the distance rule applies


@pytest.mark.parametrize("change, message", [
    (lambda e: e["screenshot_widths"].pop(), "do not line up"),
    (lambda e: e["actions"].__setitem__(0, {"action_type": "teleport"}), "step 0: unknown action_type 'teleport'"),
    (lambda e: e["actions"].__setitem__(0, {"action_type": "click", "x": 5}), "click needs numeric x and y"),
    (lambda e: e.pop("goal"), "missing field 'goal'"),
    (lambda e: e["screenshots"].__setitem__(1, "nowhere.png"), "screenshot 'nowhere.png' not found"),
])
def test_bad_androidcontrol_files_are_one_line_errors(episodes, tmp_path, capsys, change, message):
    path = write_androidcontrol_jsonl(tmp_path / "eps.jsonl", episodes[1:])
    ep = json.loads(path.read_text())
    change(ep)
    path.write_text(json.dumps(ep) + "\n")
    assert bench("androidcontrol", "--data", str(path), "--model", "oracle", "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and f"{path}: line 1" in err


def test_a_file_that_is_not_a_tfrecord_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "android_control-00000-of-00001"
    bad.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    assert bench("androidcontrol", "--data", str(bad), "--model", "oracle") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a readable TFRecord file" in err


# ---------------------------------------------------------------- the tiny checkpoint, end to end


@pytest.mark.slow
def test_the_tiny_checkpoint_runs_every_suite_end_to_end(tiny_checkpoint, spot, ac, tmp_path):
    ann, img, _ = spot
    for suite, extra in (("screenspot", ["--data", str(ann), "--images", str(img)]),
                         ("androidcontrol", ["--data", str(ac), "--limit", "4"])):
        out = tmp_path / suite
        code = bench(suite, *extra, "--model", f"hf:{tiny_checkpoint}", "--out", str(out), "--workers", "2",
                     "--max-pixels", "100352", "--max-new-tokens", "24")
        s = summary(out)
        assert code == 0 and s["errors"] == 0 and s["done"] == s["samples"] > 0
        assert all(r["status"] == "scored" and r["seconds"]["infer"] > 0 for r in records(out))
        assert (out / "misses.html").is_file()


class _Quiet:
    def started(self, task_id: str) -> None: ...

    def finished(self, record) -> None: ...

    def log(self, message: str) -> None: ...

    def close(self) -> None: ...


class SlowServer:
    """An OpenAI-compatible endpoint on loopback that takes `delay` seconds per chat completion."""

    def __init__(self, delay: float, reply: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.chats = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send({"object": "list", "data": [{"id": "qwen", "object": "model", "max_model_len": 32768}]})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                import time

                time.sleep(delay)
                outer.chats += 1
                self._send({"id": "c", "object": "chat.completion", "model": "qwen",
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                         "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_ctrl_c_keeps_finished_samples_and_resume_completes_the_run(spot, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    ann, img, samples = spot
    server = SlowServer(0.4, "no tool call here")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "guiagent", "bench", "screenspot", "--data", str(ann), "--images", str(img),
           "--model", f"openai:{server.url}", "--workers", "2", "--out", str(out)]
    root = Path(__file__).resolve().parents[1]
    try:
        p = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = (out / "samples.jsonl").read_text().count("\n") if (out / "samples.jsonl").exists() else 0
            if done >= 2:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 130, stderr[-2000:]
        assert "continue with: guiagent bench screenspot" in stderr and "--resume" in stderr
        assert "success 0/" in stderr  # the progress line's running accuracy
        s = summary(out)
        kept = records(out)
        assert s["interrupted"] and 2 <= len(kept) == s["done"] < len(samples)
        assert all(r["status"] == "scored" for r in kept)
        resumed = subprocess.run(cmd + ["--resume"], cwd=root, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        s = summary(out)
        assert s["done"] == len(samples) and not s["interrupted"] and s["this_run"]["samples"] == len(samples) - len(kept)
    finally:
        server.close()
