"""The loop's protections, each proven on a real run (ReplayEnv + scripted replies).

Budgets (steps, time, tokens), stall detection (no screen change for M steps; the
feedback appears exactly once before the stop), a reply cut off by max_new_tokens, a stop
request that arrives while the model is thinking, dry runs that never ask, and faults from
the env or the model that must still end with a complete trajectory and its reason.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from guiagent.agent.callbacks import Callback
from guiagent.agent.guard import Guard, Policy
from guiagent.agent.loop import STALL_STEPS, Agent, Settle
from guiagent.agent.trajectory import TrajectoryError, load_trajectory
from guiagent.envs.base import EnvError
from guiagent.envs.replay import ReplayEnv
from guiagent.model.base import Completion, ModelError, Usage
from guiagent.model.scripted import ScriptedModel

from tests.recordings import record_screens

FAST = Settle(interval=0.001, min_wait=0.0, max_wait=0.05)
W, H = 1372, 756  # a multiple of 28: model and screen coordinates are the same numbers
NO_EFFECT = "Your last actions had no effect on the screen"


def call(action: str, **args) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": {"action": action, **args}}) + "\n</tool_call>"


def recording(path: Path, colours: list[str]) -> Path:
    """A recorded run whose screens have these colours, in order (ReplayEnv serves them)."""
    return record_screens(path, colours, size=(W, H))


def run(tmp_path, replies, colours=("red", "green", "blue"), env=None, **kw):
    env = env or ReplayEnv(recording(tmp_path / "screens", list(colours)))
    model = ScriptedModel(replies)
    kw.setdefault("settle", FAST)
    agent = Agent(model, env, out_dir=tmp_path / "out", **kw)
    result = agent.run("do it")
    return result, model, env, load_trajectory(tmp_path / "out")


def prompts_with(model: ScriptedModel, text: str) -> list[int]:
    return [i for i, req in enumerate(model.requests) if text in req[-1].text()]


# ---------------------------------------------------------------------- budgets


def test_token_budget_ends_the_run_with_the_usage_recorded(tmp_path):
    used = Completion(text=call("left_click", coordinate=[5, 5]), usage=Usage(prompt_tokens=600, completion_tokens=50))
    result, _, env, traj = run(tmp_path, [used] * 6, max_steps=6, guard=Guard(Policy(max_tokens=1000)))
    assert result.status == "budget" and result.reason == "token budget of 1000 spent"
    assert result.steps == 2 and len(env.executed) == 2  # 650 tokens, then 1300 > 1000
    assert traj.status == "budget" and traj.totals()["prompt_tokens"] == 1200


def test_time_budget_ends_the_run(tmp_path):
    result, _, _, traj = run(tmp_path, [call("wait", time=0.15)] * 20, max_steps=20,
                             guard=Guard(Policy(max_seconds=0.2)))
    assert result.status == "budget" and result.reason == "time budget of 0.2 s spent"
    assert 1 <= result.steps < 20 and traj.status == "budget"


def test_policy_step_budget_lowers_the_step_limit(tmp_path):
    result, _, _, traj = run(tmp_path, [call("left_click", coordinate=[5, 5])] * 6, max_steps=6,
                             guard=Guard(Policy(max_steps=2)))
    assert result.status == "max_steps" and result.steps == 2
    assert traj.meta.max_steps == 2


# ---------------------------------------------------------------------- stalls


def test_no_screen_change_for_m_steps_is_fed_back_once_then_stalls(tmp_path):
    # every click is different (so the repeat rule never fires) but the one screen never changes
    replies = [call("left_click", coordinate=[10 + i, 10]) for i in range(30)]
    result, model, env, traj = run(tmp_path, replies, colours=["gray"], max_steps=30)
    assert result.status == "stalled" and result.steps == 2 * STALL_STEPS
    assert prompts_with(model, NO_EFFECT) == [STALL_STEPS]  # exactly once: the prompt after step M
    assert traj.steps[STALL_STEPS - 1].feedback and NO_EFFECT in traj.steps[STALL_STEPS - 1].feedback[0]
    assert traj.status == "stalled" and traj.reason


def test_repeated_action_feedback_appears_exactly_once_before_the_stop(tmp_path):
    result, model, _, _ = run(tmp_path, [call("left_click", coordinate=[10, 10])] * 10, colours=["gray"],
                              max_steps=10)
    assert result.status == "stalled"
    assert len(prompts_with(model, NO_EFFECT)) == 1


def test_a_changing_screen_is_no_stall(tmp_path):
    colours = [f"#{i:02x}{i:02x}{i:02x}" for i in range(0, 240, 20)]
    result, model, _, _ = run(tmp_path, [call("left_click", coordinate=[10, 10])] * 12, colours=colours,
                              max_steps=12)
    assert result.status == "max_steps" and prompts_with(model, NO_EFFECT) == []


# ---------------------------------------------------------------------- model replies


def test_reply_cut_off_by_max_new_tokens_is_a_parse_error_with_cut_off_feedback(tmp_path):
    cut = call("left_click", coordinate=[10, 10])[:60]  # '... "coordinate": [10' and nothing after
    replies = [Completion(text=cut, finish_reason="length"), cut, call("terminate", status="success")]
    result, model, env, traj = run(tmp_path, replies)
    assert result.status == "success" and env.executed == []
    assert "cut off" in traj.steps[0].error
    assert "Your reply was cut off before the tool call was complete" in model.requests[1][-1].text()
    # the same text with finish_reason "stop" gets the parser's own message: the feedback comes from the cut-off
    assert "cut off" not in model.requests[2][-1].text() and traj.steps[1].error.startswith("parse error")


def test_reply_with_lone_surrogates_is_recorded_and_the_run_goes_on(tmp_path):
    # a server (or a JSON script) can hand over "\ud800": it must not break the trajectory writer
    replies = [json.loads('"I will click \\ud800 now"'), call("terminate", status="success")]
    result, _, _, traj = run(tmp_path, replies)
    assert result.status == "success" and result.steps == 2
    assert traj.steps[0].raw_text == "I will click \ufffd now"


def test_stop_requested_while_the_model_thinks_executes_nothing_more(tmp_path):
    class StopDuringInference(Callback):
        def on_completion(self, index, completion):
            if index == 2:
                agent.request_stop("interrupted by the user")

    env = ReplayEnv(recording(tmp_path / "screens", ["red", "green", "blue"]))
    model = ScriptedModel([call("left_click", coordinate=[1, 1]), call("left_click", coordinate=[2, 2]) * 2] * 3)
    agent = Agent(model, env, out_dir=tmp_path / "out", settle=FAST, callbacks=[StopDuringInference()])
    result = agent.run("x")
    assert result.status == "interrupted" and result.steps == 2
    assert env.executed == [{"action": "left_click", "coordinate": [1, 1]}]
    step = load_trajectory(tmp_path / "out").steps[1]
    assert step.raw_text and not any(a.executed for a in step.actions)


@pytest.mark.parametrize("answer", [True, False])
def test_dry_run_takes_the_live_decision_and_executes_nothing(tmp_path, answer):
    """The dry run asks as the live run would (here: a callback answering `answer`) and records that decision;
    it used to record every confirmation as allowed ("would confirm"), which a non-interactive live run refuses."""
    asked: list[str] = []

    def confirm(question: str) -> bool:
        asked.append(question)
        return answer

    replies = [call("type", text="the password"), call("key", keys=["ctrl", "alt", "delete"]),
               call("terminate", status="success")]
    decisions = {}
    for dry in (False, True):
        guard = Guard(Policy(confirm_text=["(?i)password"]), confirm)
        result, _, env, traj = run(tmp_path / str(dry), replies, guard=guard, dry_run=dry)
        assert result.status == "success"
        decisions[dry] = [s.actions[0] for s in traj.steps[:2]]
        if dry:
            assert env.executed == [] and not any(a.executed for a in decisions[dry])
    assert len(asked) == 2  # once live, once dry
    live, dry = decisions[False], decisions[True]
    if answer:
        assert live[0].decision == "confirm-yes" and dry[0].decision == "dry-run (confirm-yes)"
    else:
        assert live[0].decision.startswith("confirm-no") and dry[0].decision == live[0].decision
    assert live[1].decision.startswith("deny: the key chord") and dry[1].decision == live[1].decision


# ---------------------------------------------------------------------- faults end cleanly


class FaultyEnv(ReplayEnv):
    """A ReplayEnv that fails at a chosen call: a fault injector, everything else is real."""

    def __init__(self, path, *, observe_fail_at=None, execute_fail_at=None, error=None):
        super().__init__(path)
        self.observes = self.executes = 0
        self.observe_fail_at, self.execute_fail_at, self.error = observe_fail_at, execute_fail_at, error

    def observe(self):
        self.observes += 1
        if self.observes == self.observe_fail_at:
            raise self.error
        return super().observe()

    def execute(self, action):
        self.executes += 1
        if self.executes == self.execute_fail_at:
            raise self.error
        super().execute(action)


def test_device_lost_mid_run_keeps_the_finished_steps(tmp_path):
    # without the agent's settle polling every step observes once: observe 2 follows step 1's action
    env = FaultyEnv(recording(tmp_path / "screens", ["red", "green", "blue"]), observe_fail_at=2,
                    error=EnvError("device emulator-5554 is gone", reason="device_lost"))
    result, _, _, traj = run(tmp_path, [call("left_click", coordinate=[5, 5])] * 5, env=env,
                             settle=Settle(enabled=False))
    assert result.status == "device_lost" and "emulator-5554" in result.reason
    assert traj.status == "device_lost" and traj.reason == result.reason
    # the step whose action ran is kept, with the error, even though the screen after it never came
    assert len(traj.steps) == 1 and traj.steps[0].actions[0].executed
    assert traj.steps[0].error == "env error: device emulator-5554 is gone"


def test_display_lost_while_executing_ends_the_run_with_the_step_recorded(tmp_path):
    env = FaultyEnv(recording(tmp_path / "screens", ["red", "green", "blue"]), execute_fail_at=2,
                    error=EnvError("lost the X display ':5' while running left_click", reason="display_lost"))
    result, _, _, traj = run(tmp_path, [call("left_click", coordinate=[5, 5])] * 5, env=env)
    assert result.status == traj.status == "display_lost" and "':5'" in traj.reason
    assert len(traj.steps) == 2 and not traj.steps[1].actions[0].executed
    assert "lost the X display" in traj.steps[1].actions[0].error


def test_fail_safe_corner_ends_the_run_as_interrupted(tmp_path):
    env = FaultyEnv(recording(tmp_path / "screens", ["red", "green", "blue"]), execute_fail_at=1,
                    error=EnvError("fail-safe: the mouse pointer is in a screen corner (0, 0)", reason="failsafe"))
    result, _, _, traj = run(tmp_path, [call("left_click", coordinate=[5, 5])] * 5, env=env)
    assert result.status == traj.status == "interrupted" and "fail-safe" in traj.reason


def test_unexpected_env_exception_still_writes_a_complete_trajectory(tmp_path):
    env = FaultyEnv(recording(tmp_path / "screens", ["red", "green", "blue"]), execute_fail_at=2,
                    error=ValueError("embedded null byte"))
    result, _, _, traj = run(tmp_path, [call("left_click", coordinate=[5, 5])] * 5, env=env)
    assert result.status == "error" and result.reason == "ValueError: embedded null byte"
    assert traj.status == "error" and traj.reason == result.reason and traj.ended_at
    # the step whose action blew up is on record, with the error, and not marked executed
    assert len(traj.steps) == 2 and not traj.steps[1].actions[0].executed
    assert traj.steps[1].actions[0].error == "Action failed: ValueError: embedded null byte"


def test_unexpected_exception_at_the_first_observation_still_writes_a_trajectory(tmp_path):
    env = FaultyEnv(recording(tmp_path / "screens", ["red"]), observe_fail_at=1, error=RuntimeError("mss broke"))
    result, _, _, traj = run(tmp_path, [call("left_click", coordinate=[5, 5])], env=env)
    assert result.status == traj.status == "error" and traj.reason == "RuntimeError: mss broke"
    assert traj.steps == [] and traj.ended_at


def test_model_error_mid_run_keeps_the_finished_steps(tmp_path):
    class Dies(ScriptedModel):
        def generate(self, messages, context=None):
            if self.calls == 2:
                raise ModelError("openai:http://127.0.0.1:1/v1: server error 503 after 5 tries")
            return super().generate(messages, context)

    env = ReplayEnv(recording(tmp_path / "screens", ["red", "green", "blue"]))
    agent = Agent(Dies([call("left_click", coordinate=[5, 5])] * 5), env, out_dir=tmp_path / "out", settle=FAST)
    result = agent.run("x")
    traj = load_trajectory(tmp_path / "out")
    assert result.status == traj.status == "model_error" and "503" in traj.reason
    assert len(traj.steps) == 2 and all((tmp_path / "out" / s.screenshot).exists() for s in traj.steps)


def test_a_reader_never_sees_a_torn_trajectory(tmp_path):
    """trajectory.json is replaced atomically: read at any moment of a run, it is a whole file."""
    thinking = "<think>" + "x" * 150_000 + "</think>"  # each step adds 150 KB: every rewrite takes a while
    replies = [thinking + call("left_click", coordinate=[i, i]) for i in range(1, 13)]
    colours = [f"#{i * 20:02x}0000" for i in range(13)]
    out = tmp_path / "out"
    torn: list[str] = []
    reads = 0
    done = threading.Event()

    def reader() -> None:
        nonlocal reads
        while not done.is_set():
            try:
                load_trajectory(out / "trajectory.json")
                reads += 1
            except TrajectoryError as exc:
                if "not found" not in str(exc):
                    torn.append(str(exc)[:200])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result, _, _, traj = run(tmp_path, replies, colours=colours, max_steps=12)
    finally:
        done.set()
        thread.join()
    assert result.status == "max_steps" and len(traj.steps) == 12
    assert torn == [] and reads > 0
