"""The schema-2 layout: trajectory.json (meta and ending) + steps.jsonl (a line per step, appended once);
schema 1 still reads; a step stores only what is new in its prompt, and the whole prompt is rebuilt from
the record exactly (text, image positions and pixels); images:K holds exactly K screenshots; the recorder
blocks the loop when the disk is slower, and the loop records that wait as ``record_wait``."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from guiagent.agent.loop import Agent, Settle
from guiagent.agent.prompts import step_messages, user_text
from guiagent.agent.trajectory import (
    QUEUE_STEPS,
    SCHEMA_VERSION,
    Recorder,
    RunMeta,
    StepRecord,
    load_trajectory,
)
from guiagent.envs.replay import ReplayEnv
from guiagent.model.base import Completion, Message, RequestContext
from guiagent.model.scripted import ScriptedModel
from PIL import Image

from tests.recordings import record_screens

ROOT = Path(__file__).resolve().parents[1]
FAST = Settle(interval=0.001, min_wait=0.0, max_wait=0.05)


def click(x: int) -> str:
    return ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": ['
            f"{x}, 20]}}}}\n</tool_call>")


class Seen(ScriptedModel):
    """A scripted model that keeps, per request, the rendered prompt and a digest of each image's pixels."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(list(replies))
        self.seen: list[tuple[str, list[bytes]]] = []

    def generate(self, messages: list[Message], context: RequestContext | None = None) -> Completion:
        self.seen.append((self.dialect.render(messages), [p.image.tobytes() for m in messages for p in m.images()]))
        return super().generate(messages, context)


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> Path:
    colours = [f"#{i * 17:02x}{255 - i * 17:02x}40" for i in range(12)]
    return record_screens(tmp_path_factory.mktemp("rec") / "screens", colours, size=(320, 240))


@pytest.mark.parametrize("history", ["text", "images:2"])
def test_the_whole_prompt_is_rebuilt_from_the_record(screens, tmp_path, history):
    replies = [click(10 + i) for i in range(6)] + ["no tool call here", click(99), click(98)]
    model = Seen(replies)
    out = tmp_path / "out"
    result = Agent(model, ReplayEnv(screens), out_dir=out, max_steps=len(replies), history=history,
                   settle=FAST).run("press the buttons")
    assert result.status == "max_steps"
    traj = load_trajectory(out)
    assert traj.schema_version == SCHEMA_VERSION == 2 and len(traj.steps) == len(replies)
    for i, (rendered, pixels) in enumerate(model.seen, 1):
        rebuilt = step_messages(traj, i, out)
        assert model.dialect.render(rebuilt) == rendered, f"step {i}"
        assert [p.image.tobytes() for m in rebuilt for p in m.images()] == pixels, f"step {i}"
        assert user_text(traj, i) == rebuilt[-1].text()
    # the feedback of the unparseable reply is part of step 8's prompt, and was rebuilt
    assert "could not be used" in model.seen[7][0]
    # a step stores what is new: the one call step 6 added, not the 6 calls of the history
    assert traj.steps[6].prompt["new_calls"] == [json.dumps({"name": "computer_use", "arguments": {
        "action": "left_click", "coordinate": [15, 20]}})]
    # the history text is never stored: step 9's prompt listed 6 or more calls, no line holds that text
    assert "Step 6:" in model.seen[8][0] and "Task progress" not in (out / "steps.jsonl").read_text()


def test_images_k_holds_exactly_k_screenshots_and_the_model_none(screens, tmp_path):
    model = ScriptedModel([click(10 + i) for i in range(8)])
    agent = Agent(model, ReplayEnv(screens), out_dir=None, max_steps=8, history="images:3", settle=FAST)
    held: list[int] = []
    original = agent._record

    def record(state, *args, **kwargs):
        original(state, *args, **kwargs)
        held.append(sum(h.image is not None for h in state.history))

    agent._record = record  # type: ignore[method-assign]
    agent.run("x")
    assert held == [1, 2, 3, 3, 3, 3, 3, 3]
    # 4 images at the last request (3 history + the current screen), kept as sizes without pixels
    assert len([p for m in model.requests[-1] for p in m.images()]) == 4
    assert all(p.image is None for req in model.requests for m in req for p in m.images())


def test_the_scripted_model_keeps_only_its_latest_requests(screens, tmp_path):
    """Each request repeats the whole history: keeping every one grows quadratically over a long run."""
    from guiagent.model.scripted import KEEP_REQUESTS

    steps = KEEP_REQUESTS + 6
    model = ScriptedModel([click(10)] * steps)
    frames = record_screens(tmp_path / "many", [f"#{i:02x}2040" for i in range(steps)], size=(64, 48))
    Agent(model, ReplayEnv(frames), out_dir=tmp_path / "out", max_steps=steps, settle=FAST).run("x")
    assert model.calls == steps and len(model.requests) == KEEP_REQUESTS
    assert f"Step {steps - 1}:" in model.requests[-1][-1].text()  # the latest request is the last one kept


def test_schema_1_runs_still_read():
    traj = load_trajectory(ROOT / "tests" / "data" / "desktop_run")
    data = json.loads((ROOT / "tests" / "data" / "desktop_run" / "trajectory.json").read_text())
    assert data["schema_version"] == 1 and len(traj.steps) == len(data["steps"]) > 0
    assert user_text(traj, 2) == data["steps"][1]["prompt"]["user_text"]


def test_a_torn_last_line_is_not_a_step(screens, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("trajectory.json", "steps.jsonl"):
        (out / name).write_bytes((screens / name).read_bytes())
    whole = len(load_trajectory(out).steps)
    with open(out / "steps.jsonl", "a") as fh:
        fh.write('{"index": 13, "started_at": 0, "act')  # a crash in the middle of a write
    assert len(load_trajectory(out).steps) == whole
    (out / "steps.jsonl").write_text('{"index": 1, "started_at": 0}\n{"index": "x", "started_at": 0}\n')
    with pytest.raises(ValueError, match=r"steps.jsonl: line 2: index"):
        load_trajectory(out)


def test_a_slow_disk_makes_the_loop_wait_and_the_wait_is_recorded(tmp_path, monkeypatch):
    meta = RunMeta(instruction="x", env="desktop", model="m", space="computer_use", min_pixels=3136,
                   max_pixels=12845056, max_steps=10)
    rec = Recorder(tmp_path / "run", meta)
    gate = threading.Event()
    original = rec._write_step_files

    def slow(*args):
        gate.wait(10)
        original(*args)

    monkeypatch.setattr(rec, "_write_step_files", slow)
    image = Image.new("RGB", (64, 48), "red")
    waits = [rec.add_step(StepRecord(index=i, started_at=0), image) for i in range(1, QUEUE_STEPS + 1)]
    assert max(waits) < 0.5  # room in the queue: no wait
    threading.Timer(0.3, gate.set).start()
    t = time.perf_counter()
    waited = rec.add_step(StepRecord(index=QUEUE_STEPS + 1, started_at=0), image)  # the queue is full: blocks
    assert waited >= 0.25 and time.perf_counter() - t >= 0.25
    rec.finish("success")
    assert len(load_trajectory(tmp_path / "run").steps) == QUEUE_STEPS + 1


def test_the_loop_records_record_wait_as_a_phase(screens, tmp_path):
    out = tmp_path / "out"
    Agent(ScriptedModel([click(10)] * 3), ReplayEnv(screens), out_dir=out, max_steps=3, settle=FAST).run("x")
    assert all("record_wait" in s.durations for s in load_trajectory(out).steps)


class OnDisk(ScriptedModel):
    """Notes, while it thinks, whether the step's own screenshot is already on disk."""

    def __init__(self, replies: list[str], out: Path) -> None:
        super().__init__(replies)
        self.out, self.seen = out, []

    def generate(self, messages: list[Message], context: RequestContext | None = None) -> Completion:
        assert context is not None
        png = self.out / f"step_{context.step:03d}.png"
        deadline = time.monotonic() + 5
        while not png.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        self.seen.append(png.exists())
        return super().generate(messages, context)


def test_a_steps_screenshot_is_written_while_the_model_thinks(screens, tmp_path):
    """The PNG is encoded during the step, so waiting for the previous step's line does not wait for it."""
    out = tmp_path / "out"
    model = OnDisk([click(10)] * 3, out)
    Agent(model, ReplayEnv(screens), out_dir=out, max_steps=3, settle=FAST).run("x")
    assert model.seen == [True, True, True]
    traj = load_trajectory(out)
    assert [s.screenshot for s in traj.steps] == ["step_001.png", "step_002.png", "step_003.png"]


def test_a_screenshot_handed_over_for_a_step_that_never_ended_is_removed(tmp_path):
    meta = RunMeta(instruction="x", env="desktop", model="m", space="computer_use", min_pixels=3136,
                   max_pixels=12845056, max_steps=10)
    rec = Recorder(tmp_path / "run", meta)
    image = Image.new("RGB", (64, 48), "red")
    rec.add_screenshot(1, image)
    rec.add_step(StepRecord(index=1, started_at=0), image)
    rec.add_screenshot(2, image)  # the run is stopped before step 2 has its line
    rec.check()
    rec.finish("interrupted")
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".")) == [
        "step_001.png", "steps.jsonl", "trajectory.json"]
    assert [s.screenshot for s in load_trajectory(run).steps] == ["step_001.png"]
