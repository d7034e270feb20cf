"""The loop end to end on recorded screens (ReplayEnv) with scripted replies: stop rules, guard, recording."""

from __future__ import annotations

import asyncio
import json

import pytest
from guiagent.agent.callbacks import Callback
from guiagent.agent.guard import Guard, Policy
from guiagent.agent.loop import Agent, Settle
from guiagent.agent.trajectory import load_trajectory
from guiagent.envs.replay import ReplayEnv
from guiagent.model.image import PixelBudget
from guiagent.model.scripted import ScriptedModel
from guiagent.tools.frame import ScreenSpace

from tests.recordings import record_screens

SCREEN = ScreenSpace(width=1366, height=768)
FAST = Settle(interval=0.001, min_wait=0.0, max_wait=0.05)


def call(space: str, **args) -> str:
    return "<tool_call>\n" + json.dumps({"name": space, "arguments": args}) + "\n</tool_call>"


@pytest.fixture
def screens(tmp_path):
    """A recorded run of three distinct 1366x768 screens, written by the real Recorder."""
    return record_screens(tmp_path / "recorded", ["red", "green", "blue"])


def agent_for(replies, env, tmp_path, **kw):
    model = ScriptedModel(replies)
    return Agent(model, env, out_dir=tmp_path / "out", settle=FAST, **kw), model


def test_run_maps_executes_and_records_every_step(screens, tmp_path):
    env = ReplayEnv(screens)
    mw, mh = PixelBudget().model_size(1366, 768)  # 1372x756
    agent, model = agent_for([call("computer_use", action="left_click", coordinate=[686, 378]),
                              call("computer_use", action="type", text="héllo 你好"),
                              call("computer_use", action="terminate", status="success")], env, tmp_path)
    seen = []

    class Spy(Callback):
        def on_step_end(self, step):
            seen.append(step.index)

    agent.callbacks.append(Spy())
    result = agent.run("click the middle")
    assert result.status == "success" and result.steps == 3 and seen == [1, 2, 3]
    assert env.executed == [{"action": "left_click", "coordinate": [683, 384]}, {"action": "type", "text": "héllo 你好"}]
    traj = load_trajectory(tmp_path / "out")
    assert traj.status == "success"
    assert traj.meta.space == "computer_use" and traj.meta.screen == SCREEN
    first = traj.steps[0]
    assert first.frame.model_size == (mw, mh)
    assert first.actions[0].model_action == {"action": "left_click", "coordinate": [686, 378]}
    assert first.actions[0].screen_action == {"action": "left_click", "coordinate": [683, 384]}
    assert set(first.durations) >= {"capture", "prompt", "infer", "parse", "execute", "settle"}
    for s in traj.steps:
        assert (tmp_path / "out" / s.screenshot).exists()
    # the second prompt carries the first call as history (computer_use task progress)
    assert "Step 1: {\"name\": \"computer_use\", \"arguments\": {\"action\": \"left_click\"" in model.requests[1][-1].text()
    # the model was shown the image at the size the tool description states
    assert model.requests[0][-1].images()[0].size == (mw, mh)
    assert f"The screen's resolution is {mw}x{mh}." in model.requests[0][0].text()


def test_unparseable_replies_are_fed_back_then_end_the_run(screens, tmp_path):
    agent, model = agent_for(["I am not sure.", "<tool_call>{\"name\": \"computer_use\"", "nothing"],
                             ReplayEnv(screens), tmp_path)
    result = agent.run("x")
    assert result.status == "parse_errors" and result.steps == 3
    assert "Your previous reply could not be used: No tool call found" in model.requests[1][-1].text()
    assert load_trajectory(tmp_path / "out").steps[0].error.startswith("parse error")


def test_out_of_screen_coordinates_are_rejected_with_feedback(screens, tmp_path):
    env = ReplayEnv(screens)
    agent, model = agent_for([call("computer_use", action="left_click", coordinate=[5000, 10]),
                              call("computer_use", action="terminate", status="failure")], env, tmp_path)
    result = agent.run("x")
    assert result.status == "failure" and env.executed == []
    assert "outside the screen" in model.requests[1][-1].text()
    rec = load_trajectory(tmp_path / "out").steps[0].actions[0]
    assert rec.decision.startswith("deny") and not rec.executed


def test_step_limit(screens, tmp_path):
    agent, _ = agent_for([call("computer_use", action="wait", time=0)] * 5, ReplayEnv(screens), tmp_path, max_steps=2)
    result = agent.run("x")
    assert result.status == "max_steps" and result.steps == 2


def test_same_action_on_unchanged_screen_is_fed_back_then_stalls(tmp_path, screens):
    # a recorded run with a single screen: nothing the agent does changes it
    one = record_screens(tmp_path / "one", ["gray"])
    agent, model = agent_for([call("computer_use", action="left_click", coordinate=[10, 10])] * 10,
                             ReplayEnv(one), tmp_path)
    result = agent.run("x")
    assert result.status == "stalled"
    assert result.steps == 6  # 3 repeats -> warning, 3 more -> stop
    assert "no effect" in model.requests[3][-1].text()


def test_guard_denies_chords_and_unconfirmed_text(screens, tmp_path):
    env = ReplayEnv(screens)
    guard = Guard(Policy(confirm_text=["(?i)password"]))
    agent, model = agent_for([call("computer_use", action="key", keys=["ctrl", "alt", "Delete"]),
                              call("computer_use", action="type", text="my password"),
                              call("computer_use", action="terminate", status="success")], env, tmp_path, guard=guard)
    agent.run("x")
    assert env.executed == []
    steps = load_trajectory(tmp_path / "out").steps
    assert steps[0].actions[0].decision.startswith("deny: the key chord")
    assert steps[1].actions[0].decision.startswith("confirm-no")
    assert "safety policy" in model.requests[1][-1].text()


def test_dry_run_records_decisions_and_executes_nothing(screens, tmp_path):
    env = ReplayEnv(screens)
    agent, _ = agent_for([call("computer_use", action="left_click", coordinate=[10, 10]),
                          call("computer_use", action="terminate", status="success")], env, tmp_path, dry_run=True)
    assert agent.run("x").status == "success"
    assert env.executed == []
    rec = load_trajectory(tmp_path / "out").steps[0].actions[0]
    assert rec.decision == "dry-run" and rec.screen_action == {"action": "left_click", "coordinate": [10, 10]}


def test_model_failure_mid_run_keeps_the_finished_steps(screens, tmp_path):
    agent, _ = agent_for([call("computer_use", action="left_click", coordinate=[10, 10])], ReplayEnv(screens), tmp_path)
    result = agent.run("x")  # the script runs out at step 2
    assert result.status == "model_error" and "only 1 replies" in result.reason
    traj = load_trajectory(tmp_path / "out")
    assert traj.status == "model_error" and len(traj.steps) == 1


def test_stop_request_ends_after_the_current_action(screens, tmp_path):
    agent, _ = agent_for([call("computer_use", action="left_click", coordinate=[10, 10])] * 5, ReplayEnv(screens),
                         tmp_path)

    class StopAtTwo(Callback):
        def on_action(self, index, record):
            if index == 2:
                agent.request_stop()

    agent.callbacks.append(StopAtTwo())
    result = agent.run("x")
    assert result.status == "interrupted" and result.steps == 2
    assert load_trajectory(tmp_path / "out").steps[1].actions[0].executed


def test_async_runs_share_one_model_instance(screens, tmp_path):
    replies = [call("computer_use", action="terminate", status="success")] * 2
    model = ScriptedModel(replies)
    agents = [Agent(model, ReplayEnv(screens), out_dir=tmp_path / f"o{i}", settle=FAST) for i in range(2)]

    async def both():
        return await asyncio.gather(*(a.arun("x") for a in agents))

    assert [r.status for r in asyncio.run(both())] == ["success", "success"]


def test_mobile_prompt_history_is_the_cookbook_step_list(tmp_path):
    src = record_screens(tmp_path / "phone", ["white", "black"], size=(1080, 2400), space="mobile_use")
    env = ReplayEnv(src)
    agent, model = agent_for([call("mobile_use", action="open", text="File Manager"),
                              call("mobile_use", action="click", coordinate=[935, 406])], env, tmp_path, max_steps=2)
    agent.run("Open the file manager app")
    assert model.requests[1][-1].text() == (
        "The user query:  Open the file manager app\nTask progress (You have done the following operation on the "
        'current device): Step 1: {"name": "mobile_use", "arguments": {"action": "open", "text": "File Manager"}}; ')
    assert env.executed[1] == {"action": "click", "coordinate": [925, 405]}


def test_policy_deny_keys_add_to_the_built_in_chords():
    guard = Guard(Policy(deny_keys=["ctrl+q"]))
    from guiagent.tools.actions import Key

    assert guard.check(Key(keys=["ctrl", "q"])).verdict == "deny"
    assert guard.check(Key(keys=["ctrl", "alt", "Delete"])).verdict == "deny"
    assert guard.check(Key(keys=["ctrl", "c"])).verdict == "allow"


def test_stall_rule_takes_the_envs_word_only_for_consecutive_observations():
    # An env that numbers its observations and compared its raw captures says whether the
    # pixels changed; the loop must not build a difference image then, and must compare the
    # images itself when the two are not consecutive or the env says nothing.
    from guiagent.agent.loop import screen_unchanged
    from guiagent.envs.base import CHANGED_KEY, SEQ_KEY
    from guiagent.tools.frame import Screenshot
    from PIL import Image

    space = ScreenSpace(width=4, height=4, scale=1.0)
    white, red = Image.new("RGB", (4, 4), "white"), Image.new("RGB", (4, 4), "red")

    def shot(img: Image.Image, **meta: object) -> Screenshot:
        return Screenshot(image=img, screen=space, meta=meta)

    first = shot(white, **{SEQ_KEY: 1})
    # consecutive: the env's answer is used, whatever the images (it saw pixels the image may not hold)
    assert screen_unchanged(first, shot(red, **{SEQ_KEY: 2, CHANGED_KEY: False}))
    assert not screen_unchanged(first, shot(white, **{SEQ_KEY: 2, CHANGED_KEY: True}))
    # a gap (someone else observed in between) or no answer: the images are compared
    assert screen_unchanged(first, shot(white.copy(), **{SEQ_KEY: 3, CHANGED_KEY: True}))
    assert not screen_unchanged(first, shot(red, **{SEQ_KEY: 3, CHANGED_KEY: False}))
    assert not screen_unchanged(shot(white), shot(red))
    assert screen_unchanged(shot(white), shot(white.copy()))


# --------------------------------------------------------------------------- the screen after the last action


class CountingReplay(ReplayEnv):
    """ReplayEnv that counts its captures."""

    observed = 0

    def observe(self):
        self.observed += 1
        return super().observe()


def colour_of(path) -> tuple[int, int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB").getpixel((5, 5))


RED, GREEN, BLUE = (255, 0, 0), (0, 128, 0), (0, 0, 255)
ONE_CAPTURE = Settle(enabled=False)  # one capture per step, so the captures can be counted


def test_a_step_limit_run_keeps_the_settled_screen_as_its_final_frame_at_no_extra_capture(screens, tmp_path):
    env = CountingReplay(screens)
    click = call("computer_use", action="left_click", coordinate=[10, 10])
    result = Agent(ScriptedModel([click, click]), env, out_dir=tmp_path / "out", settle=ONE_CAPTURE,
                   max_steps=2).run("x")
    assert result.status == "max_steps"
    assert env.observed == 3  # the first screen and one settled capture per step: nothing more for the final frame
    traj = load_trajectory(tmp_path / "out")
    assert traj.final is not None and traj.final.after_step == 2 and traj.final.screenshot == "final.png"
    assert traj.final.screen == SCREEN
    # step 1 saw red, step 2 green; the screen after step 2's click is the third one
    assert [colour_of(tmp_path / "out" / s.screenshot) for s in traj.steps] == [RED, GREEN]
    assert colour_of(tmp_path / "out" / "final.png") == BLUE


def test_an_action_then_terminate_costs_one_capture_at_the_end(screens, tmp_path):
    env = CountingReplay(screens)
    reply = (call("computer_use", action="left_click", coordinate=[10, 10])
             + call("computer_use", action="terminate", status="success"))
    result = Agent(ScriptedModel([reply]), env, out_dir=tmp_path / "out", settle=ONE_CAPTURE, calls="all").run("x")
    assert result.status == "success" and env.observed == 2  # the first screen, then the final frame
    traj = load_trajectory(tmp_path / "out")
    assert traj.final.after_step == 1 and colour_of(tmp_path / "out" / "final.png") == GREEN


def test_a_last_step_that_changed_nothing_needs_no_final_frame(screens, tmp_path):
    env = CountingReplay(screens)
    result = Agent(ScriptedModel([call("computer_use", action="terminate", status="success")]), env,
                   out_dir=tmp_path / "out", settle=ONE_CAPTURE).run("x")
    assert result.status == "success" and env.observed == 1
    assert load_trajectory(tmp_path / "out").final is None and not (tmp_path / "out" / "final.png").exists()


def test_a_run_ended_by_a_model_error_or_ctrl_c_still_has_its_final_frame(screens, tmp_path):
    click = call("computer_use", action="left_click", coordinate=[10, 10])
    # the script runs out at step 2: the final frame is the screen after step 1 (what step 2 observed)
    result = Agent(ScriptedModel([click]), ReplayEnv(screens), out_dir=tmp_path / "a", settle=ONE_CAPTURE).run("x")
    assert result.status == "model_error"
    traj = load_trajectory(tmp_path / "a")
    assert traj.final.after_step == 1 and colour_of(tmp_path / "a" / "final.png") == GREEN

    class CtrlC(Callback):
        def on_step_start(self, index):
            if index == 3:
                raise KeyboardInterrupt

    agent = Agent(ScriptedModel([click] * 5), ReplayEnv(screens), out_dir=tmp_path / "b", settle=ONE_CAPTURE,
                  callbacks=[CtrlC()])
    assert agent.run("x").status == "interrupted"
    traj = load_trajectory(tmp_path / "b")
    assert len(traj.steps) == 2 and traj.final.after_step == 2
    assert colour_of(tmp_path / "b" / "final.png") == BLUE


def test_a_run_with_a_final_frame_replays_and_old_runs_without_one_still_read(screens, tmp_path):
    click = call("computer_use", action="left_click", coordinate=[10, 10])
    Agent(ScriptedModel([click, click]), ReplayEnv(screens), out_dir=tmp_path / "out", settle=ONE_CAPTURE,
          max_steps=2).run("x")
    assert (tmp_path / "out" / "final.png").is_file()
    # --env replay: on it serves the recorded steps' screens, as before
    env = ReplayEnv(tmp_path / "out")
    assert len(env.steps) == 2 and env.observe().image.getpixel((5, 5)) == RED
    # a file written before the field existed (the recorded screens fixture's kind) has none
    assert load_trajectory(screens).final is None


class _Events(Callback):
    """Records the hooks it hears, in order; `wants_tokens` as given."""

    def __init__(self, wants_tokens: bool) -> None:
        self.wants_tokens = wants_tokens
        self.events: list[tuple] = []

    def on_step_start(self, index: int) -> None:
        self.events.append(("start", index))

    def on_tokens(self, index: int, count: int) -> None:
        self.events.append(("tokens", index, count))

    def on_completion(self, index, completion) -> None:
        self.events.append(("completion", index, completion.usage.completion_tokens))


def test_token_counts_reach_the_callbacks_that_want_them_and_nothing_streams_otherwise(screens, tmp_path):
    """The openai: backend against a loopback server that streams: each step's counts arrive between its start
    and its completion, end at the reply's token count, and only where a callback asked for them."""
    from guiagent.model.openai import OpenAIModel

    from tests.test_openai_backend import ChatServer

    server = ChatServer()
    server.sse = True
    server.reply = call("computer_use", action="left_click", coordinate=[10, 10]).removesuffix("</tool_call>")
    try:
        model = OpenAIModel(server.url, served_model="Qwen/Qwen2.5-VL-7B-Instruct")
        watcher, bystander = _Events(True), _Events(False)
        Agent(model, ReplayEnv(screens), settle=FAST, max_steps=2, callbacks=[watcher, bystander]).run("x")
        chats = server.chats()
        Agent(model, ReplayEnv(screens), settle=FAST, max_steps=1, callbacks=[bystander]).run("x")
        unwatched = server.chats()[len(chats):]
    finally:
        server.close()
    steps = [c for c in chats if c["body"].get("max_tokens") != 1]  # not check()'s 1-token probe
    assert len(steps) == 2 and all(c["body"]["stream"] is True for c in steps)
    n = len(server.pieces())
    for index in (1, 2):
        mine = watcher.events[watcher.events.index(("start", index)):watcher.events.index(("completion", index, n)) + 1]
        counts = [e[2] for e in mine if e[0] == "tokens"]
        assert counts and counts[-1] == n and all(e[1] == index for e in mine[1:])
    assert not any(e[0] == "tokens" for e in bystander.events)
    assert unwatched and all("stream" not in c["body"] for c in unwatched)


def test_the_loop_trims_freed_memory_every_trim_every_steps_and_times_it(screens, tmp_path, monkeypatch):
    import guiagent.agent.loop as loop

    monkeypatch.setattr(loop, "TRIM_EVERY", 2)
    trims = []
    monkeypatch.setattr(loop, "release_free_memory", lambda: trims.append(1) or True)
    agent, _ = agent_for([call("computer_use", action="left_click", coordinate=[10, 10])] * 4
                         + [call("computer_use", action="terminate", status="success")], ReplayEnv(screens), tmp_path)
    agent.run("x")
    steps = load_trajectory(tmp_path / "out").steps
    assert [s.index for s in steps if "trim" in s.durations] == [2, 4] and len(trims) == 2
