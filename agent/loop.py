"""The observe -> think -> act loop.

One step: observe the screen, pair it with a `Frame`, build the dialect's messages,
ask the model, parse its reply, pass each action through the guard, map it to the
screen through the Frame, execute it, wait for the screen to settle, record.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from guiagent.agent.callbacks import Callback
from guiagent.agent.guard import Guard
from guiagent.agent.trajectory import (
    ActionRecord,
    Recorder,
    RunMeta,
    Status,
    StepRecord,
    Trajectory,
    package_versions,
)
from guiagent.envs.base import ActionError, EnvError
from guiagent.model.base import HistoryItem, ImagePart, ModelError, ParseError, RequestContext, parse_policy
from guiagent.model.image import PixelBudget
from guiagent.tools.actions import MAX_WAIT_SECONDS, Action, Answer, Terminate, Wait, action_to_dict
from guiagent.tools.frame import Frame, OutOfFrame
from PIL import ImageChops

if TYPE_CHECKING:
    from guiagent.envs.base import Env
    from guiagent.model.base import Model
    from guiagent.tools.frame import Screenshot
    from PIL.Image import Image

log = logging.getLogger("guiagent.agent")

MAX_PARSE_ERRORS = 3
STALL_REPEATS = 3  # the same action on an unchanged screen this many times is a stall
STALL_STEPS = 5  # this many steps without any screen change is a stall


@dataclass(frozen=True)
class Settle:
    """Wait for the screen to stop changing after an action, instead of a fixed sleep."""

    interval: float = 0.05
    min_wait: float = 0.05
    max_wait: float = 2.0
    enabled: bool = True


@dataclass
class Result:
    """How a run ended."""

    status: Status
    steps: int
    reason: str | None
    answer: str | None
    out_dir: Path | None
    trajectory: Trajectory

    @property
    def success(self) -> bool:
        return self.status == "success"


def same_screen(a: Image, b: Image) -> bool:
    """Exact pixel equality, computed in C (about 3 ms at 1080p)."""
    return a.size == b.size and a.mode == b.mode and ImageChops.difference(a, b).getbbox() is None


class _Stop(Exception):
    def __init__(self, status: Status, reason: str | None = None, answer: str | None = None) -> None:
        super().__init__(reason or status)
        self.status, self.reason, self.answer = status, reason, answer


class Agent:
    """Runs instructions on an env with a model.

    >>> agent = Agent(load_model("hf:Qwen/Qwen2.5-VL-7B-Instruct"), make_env("desktop"))
    >>> result = agent.run("Open the settings")
    """

    def __init__(
        self,
        model: Model,
        env: Env,
        *,
        budget: PixelBudget | None = None,
        max_steps: int = 15,
        history: str = "text",
        out_dir: str | Path | None = None,
        callbacks: list[Callback] | None = None,
        guard: Guard | None = None,
        dry_run: bool = False,
        settle: Settle | None = None,
        answer: bool = False,
        model_spec: str | None = None,
        env_spec: str | None = None,
    ) -> None:
        self.model = model
        self.env = env
        self.budget = budget or PixelBudget()
        self.history_policy = history
        self.out_dir = Path(out_dir) if out_dir else None
        self.callbacks = list(callbacks or [])
        self.guard = guard or Guard()
        policy_steps = self.guard.policy.max_steps
        self.max_steps = min(max_steps, policy_steps) if policy_steps else max_steps
        self.dry_run = dry_run
        self.settle = settle or Settle()
        self.answer = answer
        self.model_spec = model_spec or str(getattr(model, "spec", model.name))
        self.env_spec = env_spec or env.name
        self._stop_requested: str | None = None
        self.model.configure(self.budget)
        parse_policy(history)  # a bad policy name fails now, not at step 1

    # ------------------------------------------------------------------ public API

    def request_stop(self, reason: str = "interrupted by the user") -> None:
        """Ask the loop to stop after the current action (thread- and signal-safe)."""
        self._stop_requested = reason

    def run(self, instruction: str) -> Result:
        """Run until terminate, the step limit, or a stop rule; always writes a complete trajectory."""
        space = self.env.space
        meta = RunMeta(
            instruction=instruction, env=self.env_spec, env_info=_describe(self.env), model=self.model_spec,
            space=space, min_pixels=self.budget.min_pixels, max_pixels=self.budget.max_pixels,
            history=self.history_policy, max_steps=self.max_steps, dry_run=self.dry_run, versions=package_versions(),
        )
        recorder = Recorder(self.out_dir, meta) if self.out_dir else None
        traj = recorder.traj if recorder else Trajectory(meta=meta)
        for cb in self.callbacks:
            cb.on_run_start(meta)
        state = _RunState(instruction=instruction, started=time.monotonic())
        try:
            self.model.check(space, self.history_policy)
            shot = self._timed_observe(state)
            state.capture_time = state.capture_time_in_settle
            meta.screen = shot.screen
            meta.model_size = self.model.image_size(shot.image.width, shot.image.height)
            while True:
                if state.index >= self.max_steps:
                    raise _Stop("max_steps", f"step limit of {self.max_steps} reached")
                shot = self._step(state, shot, recorder, traj)
        except _Stop as stop:
            status, reason, answer = stop.status, stop.reason, stop.answer
        except EnvError as exc:
            status, reason, answer = _env_status(exc), str(exc), None
        except ModelError as exc:
            status, reason, answer = "model_error", str(exc), None
        except KeyboardInterrupt:
            status, reason, answer = "interrupted", "interrupted by the user", None
        except Exception as exc:  # noqa: BLE001 - a bug in a backend or env must still leave a complete trajectory
            log.exception("the run failed")
            status, reason, answer = "error", f"{type(exc).__name__}: {exc}", None
        if recorder:
            traj = recorder.finish(status, reason, answer)
        else:
            traj.status, traj.reason, traj.answer, traj.ended_at = status, reason, answer, time.time()
        result = Result(status=status, steps=len(traj.steps), reason=reason, answer=answer, out_dir=self.out_dir,
                        trajectory=traj)
        for cb in self.callbacks:
            cb.on_run_end(result)
        return result

    async def arun(self, instruction: str) -> Result:
        """`run` without blocking the event loop; concurrent runs share one model (it batches)."""
        return await asyncio.to_thread(self.run, instruction)

    def locate(self, description: str, screenshot: Screenshot | None = None) -> tuple[int, int]:
        """Screen point of the element `description` names: one grounding call, nothing executed.

        Raises ParseError when the model answers without a coordinate.
        """
        shot = screenshot or self.env.observe()
        frame = Frame.build(shot, self.model.image_size(shot.image.width, shot.image.height))
        part = ImagePart(image=shot.image, size=frame.model_size)
        messages = self.model.dialect.messages(description, "computer_use", part, [])
        completion = self.model.generate(messages, RequestContext(instruction=description, space="computer_use",
                                                                   step=1, frame=frame, env=self.env))
        for call in self.model.dialect.parse(completion.text, "computer_use"):
            point = call.action.points().get("coordinate")
            if point is not None:
                try:
                    return frame.to_screen(*point)
                except OutOfFrame as exc:
                    raise ParseError(str(exc)) from None
        raise ParseError(f"the model gave no coordinate for {description!r}: {completion.text[:200]!r}")

    # ------------------------------------------------------------------ internals

    def _step(self, state: _RunState, shot: Screenshot, recorder: Recorder | None, traj: Trajectory) -> Screenshot:
        state.index += 1
        step = StepRecord(index=state.index, started_at=time.time(), feedback=[])
        for cb in self.callbacks:
            cb.on_step_start(state.index)
        d = step.durations
        d["capture"] = state.capture_time

        t = time.perf_counter()
        space = self.env.space
        frame = Frame.build(shot, self.model.image_size(shot.image.width, shot.image.height))
        step.frame = frame
        part = ImagePart(image=shot.image, size=frame.model_size)
        messages = self.model.dialect.messages(
            state.instruction, space, part, state.history, policy=self.history_policy,
            feedback=state.feedback, answer=self.answer,
        )
        step.prompt = {
            "messages": len(messages), "images": sum(len(m.images()) for m in messages),
            "user_text": messages[-1].text(), "feedback": list(state.feedback),
        }
        state.feedback = []
        d["prompt"] = time.perf_counter() - t

        t = time.perf_counter()
        try:
            completion = self.model.generate(messages, RequestContext(
                instruction=state.instruction, space=space, step=state.index, frame=frame, env=self.env))
        finally:
            d["infer"] = time.perf_counter() - t
        if not completion.text.isascii():
            completion.text = _LONE_SURROGATE.sub("\ufffd", completion.text)
        step.raw_text = completion.text
        step.usage = completion.usage
        step.model_timings = completion.timings
        state.tokens += completion.usage.prompt_tokens + completion.usage.completion_tokens
        for cb in self.callbacks:
            cb.on_completion(state.index, completion)

        t = time.perf_counter()
        try:
            calls = self.model.dialect.parse(completion.text, space, answer=self.answer)
            state.parse_errors = 0
        except ParseError as exc:
            calls = []
            msg = str(exc)
            if completion.finish_reason == "length":
                msg = "Your reply was cut off before the tool call was complete. Reply with a shorter tool call."
            step.error = f"parse error: {msg}"
            state.parse_errors += 1
            state.feedback.append(f"Your previous reply could not be used: {msg}")
        d["parse"] = time.perf_counter() - t

        d["execute"] = 0.0
        executed: list[str] = []
        end: _Stop | None = None
        acted = False
        for call in calls:
            if self._stop_requested:
                break
            rec, stop = self._act(call.action, call.call_json, frame, state, d)
            step.actions.append(rec)
            for cb in self.callbacks:
                cb.on_action(state.index, rec)
            if rec.executed or rec.decision.startswith("dry-run"):
                executed.append(call.call_json)
                acted = acted or not isinstance(call.action, (Wait, Terminate, Answer))
            if rec.error:
                state.feedback.append(rec.error)
            if stop is not None:
                end = stop
                break

        # Settle: the screen after the action is the next observation, so it is captured once.
        t = time.perf_counter()
        next_shot = shot
        state.capture_time_in_settle = 0.0
        if end is None:
            try:
                next_shot = self._settle(state, wait_only=not acted or self.dry_run)
            except EnvError as exc:
                end = _Stop(_env_status(exc), str(exc))
                step.error = step.error or f"env error: {exc}"
        d["settle"] = time.perf_counter() - t - state.capture_time_in_settle
        # the stall rule adds its warning now, so the step's record shows the feedback the model gets
        stall = None
        if end is None and not self._stop_requested:
            stall = self._check_stall(state, shot, next_shot, [a.model_action for a in step.actions if a.executed],
                                      acted)
        step.feedback = list(state.feedback)

        state.history.append(HistoryItem(calls=executed, reply=completion.text,
                                         image=part if self.history_policy != "text" else None))
        step.ended_at = time.time()
        if recorder:
            recorder.add_step(step, shot.image)
        else:
            traj.steps.append(step)
        for cb in self.callbacks:
            cb.on_step_end(step)

        if end is not None:
            raise end
        if self._stop_requested:
            raise _Stop("interrupted", self._stop_requested)
        if state.parse_errors >= MAX_PARSE_ERRORS:
            raise _Stop("parse_errors", f"{MAX_PARSE_ERRORS} consecutive replies could not be parsed")
        over = self.guard.over_budget(time.monotonic() - state.started, state.tokens)
        if over:
            raise _Stop("budget", over)
        if stall is not None:
            raise stall
        return next_shot

    def _act(self, action: Action, call_json: str, frame: Frame, state: _RunState,
             d: dict[str, float]) -> tuple[ActionRecord, _Stop | None]:
        rec = ActionRecord(call=call_json, model_action=action_to_dict(action))
        if isinstance(action, Terminate):
            rec.executed = True
            return rec, _Stop(action.status, f"the agent reported {action.status}")
        if isinstance(action, Answer):
            rec.executed = True
            return rec, _Stop("success", "the agent answered", answer=action.text)
        try:
            screen_action = frame.action_to_screen(action)
        except OutOfFrame as exc:
            rec.decision = f"deny: {exc}"
            rec.error = f"Action rejected: {exc}."
            return rec, None
        rec.screen_action = action_to_dict(screen_action)
        if self.dry_run:
            # nothing is executed, so nobody is asked: the record says what the policy would do
            verdict = self.guard.check(action)
            if verdict.verdict == "deny":
                rec.decision = f"deny: {verdict.reason}"
                rec.error = f"Action rejected by the safety policy: {verdict.reason}."
            else:
                rec.decision = "dry-run" if verdict.verdict == "allow" else f"dry-run (would confirm: {verdict.reason})"
            return rec, None
        allowed, rec.decision = self.guard.decide(action)
        if not allowed:
            rec.error = f"Action rejected by the safety policy: {rec.decision.split(': ', 1)[-1]}."
            return rec, None
        t = time.perf_counter()
        try:
            if isinstance(action, Wait):
                self._sleep(min(action.time, MAX_WAIT_SECONDS))
            else:
                self.env.execute(screen_action)
            rec.executed = True
        except ActionError as exc:
            rec.error = f"Action failed: {exc}"
        except EnvError as exc:
            rec.error = f"Action failed: {exc}"
            return rec, _Stop(_env_status(exc), str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in the env: end the run, but keep this step on record
            log.exception("the env failed to execute %s", rec.model_action.get("action"))
            rec.error = f"Action failed: {type(exc).__name__}: {exc}"
            return rec, _Stop("error", rec.error.removeprefix("Action failed: "))
        finally:
            d["execute"] += time.perf_counter() - t
        return rec, None

    def _sleep(self, seconds: float) -> None:
        # sleep in slices so a stop request ends a long wait promptly
        end = time.monotonic() + seconds
        while not self._stop_requested and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))

    def _settle(self, state: _RunState, *, wait_only: bool) -> Screenshot:
        """Poll until two successive captures are equal (capped); returns the last capture.

        Envs that wait for their own screen to settle after each action (``env.settles``)
        are trusted, so the wait is not paid twice.
        """
        s = self.settle
        t0 = time.perf_counter()
        if not s.enabled or wait_only or getattr(self.env, "settles", False):
            shot = self._timed_observe(state)
            state.capture_time = state.capture_time_in_settle
            return shot
        time.sleep(s.min_wait)
        prev = self._timed_observe(state)
        while time.perf_counter() - t0 < s.max_wait:
            time.sleep(s.interval)
            cur = self._timed_observe(state)
            if same_screen(prev.image, cur.image):
                prev = cur
                break
            prev = cur
        state.capture_time = state.capture_time_in_settle
        return prev

    def _timed_observe(self, state: _RunState) -> Screenshot:
        t = time.perf_counter()
        shot = self.env.observe()
        # an env that settles by itself reports the wait; it counts as settle, not capture
        state.capture_time_in_settle += time.perf_counter() - t - float(shot.meta.get("settle_s", 0.0))
        return shot

    def _check_stall(self, state: _RunState, before: Screenshot, after: Screenshot, actions: list[dict],
                     acted: bool) -> _Stop | None:
        """Feed a stall back once (appends to the feedback); the next stall is the returned stop."""
        if self.dry_run:
            return None  # nothing is executed, so an unchanged screen says nothing
        unchanged = same_screen(before.image, after.image)
        state.still_steps = state.still_steps + 1 if unchanged else 0
        key = repr(actions)
        if acted and unchanged and key == state.last_key:
            state.repeats += 1
        else:
            state.repeats = 1 if (acted and unchanged) else 0
        state.last_key = key
        stalled = state.repeats >= STALL_REPEATS or state.still_steps >= STALL_STEPS
        if not stalled:
            return None
        if state.warned:
            return _Stop("stalled", "the last actions had no effect on the screen")
        state.warned = True
        state.repeats = state.still_steps = 0
        state.feedback.append(
            "Your last actions had no effect on the screen. Try something different, or terminate if the task "
            "cannot be done."
        )
        return None


_ENV_ENDINGS = {"device_lost", "display_lost", "env_error"}


def _describe(env: Env) -> dict:
    # metadata only: a failure here must not keep the run from starting and recording
    try:
        return env.describe()
    except Exception as exc:  # noqa: BLE001
        return {"env": env.name, "describe_error": str(exc)}
# A JSON "\ud800" escape (from a server or a script) gives a str that cannot be written as UTF-8.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _env_status(exc: EnvError) -> Status:
    """The run status an env failure ends with; the fail-safe corner is the user's kill switch."""
    if exc.reason == "failsafe":
        return "interrupted"
    return exc.reason if exc.reason in _ENV_ENDINGS else "env_error"  # type: ignore[return-value]


@dataclass
class _RunState:
    instruction: str
    started: float
    index: int = 0
    parse_errors: int = 0
    tokens: int = 0
    capture_time: float = 0.0
    capture_time_in_settle: float = 0.0
    still_steps: int = 0
    repeats: int = 0
    last_key: str = ""
    warned: bool = False

    def __post_init__(self) -> None:
        self.history: list[HistoryItem] = []
        self.feedback: list[str] = []
