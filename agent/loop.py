"""The observe -> think -> act loop.

One step, one method per phase (`Agent._step`): observe the screen and pair it with a
`Frame`, build the dialect's messages (prompt), ask the model (infer), parse its reply,
decide on each call (the Frame maps it to the screen, the guard allows, denies or asks)
and execute it, wait for the screen to settle (the next observation), check the stall
rule, record. A step acts only once the previous one is on disk: a run that cannot
record stops (``record_error``) before its next action.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from guiagent.agent.callbacks import Callback
from guiagent.agent.guard import Guard
from guiagent.agent.memory import TRIM_EVERY, release_free_memory
from guiagent.agent.runlock import RecordError
from guiagent.agent.trajectory import (
    ActionRecord,
    Recorder,
    Result,
    RunMeta,
    Status,
    StepRecord,
    Trajectory,
    package_versions,
    ran,
)
from guiagent.envs.base import CHANGED_KEY, SEQ_KEY, ActionError, EnvError
from guiagent.model.base import HistoryItem, ImagePart, ModelError, ParseError, RequestContext, parse_policy
from guiagent.model.image import PixelBudget
from guiagent.model.redact import redact
from guiagent.tools.actions import MAX_WAIT_SECONDS, Action, Answer, Terminate, Wait, action_to_dict
from guiagent.tools.frame import Frame, OutOfFrame
from PIL import ImageChops

if TYPE_CHECKING:
    from collections.abc import Callable

    from guiagent.envs.base import Env
    from guiagent.model.base import Completion, Message, Model, ParsedCall
    from guiagent.tools.frame import Screenshot
    from PIL.Image import Image

log = logging.getLogger("guiagent.agent")

MAX_PARSE_ERRORS = 3
STALL_REPEATS = 3  # the same action on an unchanged screen this many times is a stall
STALL_STEPS = 5  # this many steps without any screen change is a stall
Calls = Literal["first", "all"]
CALLS: tuple[str, ...] = get_args(Calls)
SKIPPED = "skipped"  # decision of a call that is recorded but not executed (see Agent.calls)


@dataclass(frozen=True)
class Settle:
    """Wait for the screen to stop changing after an action, instead of a fixed sleep."""

    interval: float = 0.05
    min_wait: float = 0.05
    max_wait: float = 2.0
    enabled: bool = True


def same_screen(a: Image, b: Image) -> bool:
    """Exact pixel equality, computed in C (about 3 ms at 1080p)."""
    return a.size == b.size and a.mode == b.mode and ImageChops.difference(a, b).getbbox() is None


def screen_unchanged(before: Screenshot, after: Screenshot) -> bool:
    """Whether `after` shows the same pixels as `before`.

    When the env numbered its observations and `after` directly follows `before`, its own
    answer (``meta[CHANGED_KEY]``, from comparing its raw captures) is used; otherwise the
    images are compared.
    """
    if after is before:
        return True
    seq_a, seq_b, changed = before.meta.get(SEQ_KEY), after.meta.get(SEQ_KEY), after.meta.get(CHANGED_KEY)
    if isinstance(seq_a, int) and isinstance(seq_b, int) and seq_b == seq_a + 1 and isinstance(changed, bool):
        return not changed
    return same_screen(before.image, after.image)


class _Stop(Exception):
    def __init__(self, status: Status, reason: str | None = None, answer: str | None = None) -> None:
        super().__init__(reason or status)
        self.status, self.reason, self.answer = status, reason, answer


class Agent:
    """Runs instructions on an env with a model.

    >>> agent = Agent(load_model("hf:Qwen/Qwen2.5-VL-7B-Instruct"), make_env("desktop"))
    >>> result = agent.run("Open the settings")

    `calls` says which tool calls of one reply are executed: ``"first"`` (default, as the
    Qwen2.5-VL cookbooks do; the others are recorded with decision ``skipped: …`` and the
    model's history lists only the one that ran) or ``"all"`` (in order, but an exact
    repeat of the call before it is skipped, never executed twice). `out_dir` is held by
    this run alone: `run` raises `RunFolderInUse` when another run holds it.
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
        calls: Calls = "first",
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
        if calls not in CALLS:
            raise ValueError(f"calls must be one of {', '.join(CALLS)}, got {calls!r}")
        self.calls = calls
        self.settle = settle or Settle()
        self.answer = answer
        # recorded in trajectory.json and shown by reports: never with a credential in it
        self.model_spec = redact(str(model_spec or model.spec or model.name))
        self.env_spec = env_spec or env.name
        self._stop_requested: str | None = None
        self.model.configure(self.budget)
        parse_policy(history)  # a bad policy name fails now, not at step 1

    # ------------------------------------------------------------------ public API

    def request_stop(self, reason: str = "interrupted by the user") -> None:
        """Ask the loop to stop after the current action (thread- and signal-safe)."""
        self._stop_requested = reason

    def run(self, instruction: str) -> Result:
        """Run until terminate, the step limit, or a stop rule; always writes a complete trajectory.

        A folder that cannot take the files (read-only, full, deleted) ends the run ``record_error``
        before its next action, with the steps that are on disk; raises `RunFolderInUse` when
        another run holds `out_dir`.
        """
        space = self.env.space
        meta = RunMeta(
            instruction=instruction, env=self.env_spec, env_info=_describe(self.env), model=self.model_spec,
            dialect=self.model.dialect.name, space=space, min_pixels=self.budget.min_pixels, max_pixels=self.budget.max_pixels,
            history=self.history_policy, max_steps=self.max_steps, dry_run=self.dry_run, calls=self.calls,
            answer=self.answer, versions=package_versions(),
        )
        try:
            recorder = Recorder(self.out_dir, meta) if self.out_dir else None
        except RecordError as exc:
            return self._unrecorded(meta, exc)
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
            if recorder is not None:
                recorder.preflight(shot.image.size)
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
        except RecordError as exc:
            status, reason, answer = "record_error", str(exc), None
        except KeyboardInterrupt:
            status, reason, answer = "interrupted", "interrupted by the user", None
        except Exception as exc:  # noqa: BLE001 - a bug in a backend or env must still leave a complete trajectory
            log.exception("the run failed")
            status, reason, answer = "error", f"{type(exc).__name__}: {exc}", None
        if recorder:
            self._record_final(state, recorder)
            traj = recorder.finish(status, reason, answer)  # a failed write turns any ending into record_error
            status, reason, answer = traj.status, traj.reason, traj.answer
        else:
            traj.status, traj.reason, traj.answer, traj.ended_at = status, reason, answer, time.time()
        result = Result(status=status, steps=len(traj.steps), reason=reason, answer=answer, out_dir=self.out_dir,
                        trajectory=traj)
        for cb in self.callbacks:
            cb.on_run_end(result)
        return result

    def _unrecorded(self, meta: RunMeta, exc: RecordError) -> Result:
        """The result of a run whose folder took no file: it ends before observing anything."""
        traj = Trajectory(meta=meta, status="record_error", reason=str(exc), ended_at=time.time())
        result = Result(status="record_error", steps=0, reason=str(exc), answer=None, out_dir=self.out_dir,
                        trajectory=traj)
        for cb in self.callbacks:
            cb.on_run_start(meta)
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
        from guiagent.agent.grounding import locate

        shot = screenshot or self.env.observe()
        point, _ = locate(self.model, shot, description, env=self.env)
        return point

    # ------------------------------------------------------------------ one step, phase by phase

    def _step(self, state: _RunState, shot: Screenshot, recorder: Recorder | None, traj: Trajectory) -> Screenshot:
        """observe (the Frame of `shot`) -> prompt -> infer -> parse -> decide and execute -> settle -> record.

        Returns the next observation; raises `_Stop` when a stop rule ends the run after this step.
        """
        state.index += 1
        step = StepRecord(index=state.index, started_at=time.time(), feedback=[])
        for cb in self.callbacks:
            cb.on_step_start(state.index)
        step.durations["capture"] = state.capture_time
        if recorder is not None:  # its PNG is encoded while the model thinks, not after the step
            step.durations["record_wait"] = recorder.add_screenshot(state.index, shot.image)
        frame, part, messages = self._prompt(state, shot, step)
        completion = self._infer(state, messages, frame, step)
        calls = self._parse(state, completion, step)
        if recorder is not None:
            # the previous step is on disk before anything more is done; a disk slower than the loop shows here
            step.durations["record_wait"] = step.durations.get("record_wait", 0.0) + recorder.check()
        acted = self._act_on(state, calls, frame, step)
        next_shot = self._settle_after(state, shot, acted, step)
        stall = self._stall_after(state, shot, next_shot, acted, step)
        self._record(state, step, shot, completion, part, recorder, traj)
        # the screen after this step's actions, for the run's final frame: the settled capture when there
        # was one (free), else None; `acted` says whether a capture at the end would show anything new
        state.after = (state.index, next_shot if next_shot is not shot else None, acted and not self.dry_run)
        self._check_stop_rules(state, stall)
        return next_shot

    def _prompt(self, state: _RunState, shot: Screenshot, step: StepRecord) -> tuple[Frame, ImagePart, list[Message]]:
        """The Frame of this observation and the dialect's messages for it (feedback is consumed here)."""
        t = time.perf_counter()
        frame = Frame.build(shot, self.model.image_size(shot.image.width, shot.image.height))
        step.frame = frame
        part = ImagePart(image=shot.image, size=frame.model_size)
        messages = self.model.dialect.messages(
            state.instruction, self.env.space, part, state.history, policy=self.history_policy,
            feedback=state.feedback, answer=self.answer,
        )
        # what is new at this step; the whole prompt is rebuilt from the record by agent.prompts.step_messages
        step.prompt = {
            "messages": len(messages), "images": sum(len(m.images()) for m in messages),
            "new_calls": list(state.history[-1].calls) if state.history else [], "feedback": list(state.feedback),
        }
        state.feedback = []
        step.durations["prompt"] = time.perf_counter() - t
        return frame, part, messages

    def _infer(self, state: _RunState, messages: list[Message], frame: Frame, step: StepRecord) -> Completion:
        """Ask the model; the reply text is made writable as UTF-8 and counted against the token budget."""
        t = time.perf_counter()
        try:
            completion = self.model.generate(messages, RequestContext(
                instruction=state.instruction, space=self.env.space, step=state.index, frame=frame, env=self.env,
                on_tokens=self._token_hook(state.index)))
        finally:
            step.durations["infer"] = time.perf_counter() - t
        if not completion.text.isascii():
            completion.text = _LONE_SURROGATE.sub("\ufffd", completion.text)
        step.raw_text = completion.text
        step.usage = completion.usage
        step.model_timings = completion.timings
        state.tokens += completion.usage.prompt_tokens + completion.usage.completion_tokens
        for cb in self.callbacks:
            cb.on_completion(state.index, completion)
        return completion

    def _token_hook(self, index: int) -> Callable[[int], None] | None:
        """The `on_tokens` hook for step `index`: None unless a callback wants token counts (no streaming then)."""
        watchers = [cb for cb in self.callbacks if cb.wants_tokens]
        if not watchers:
            return None

        def tell(count: int) -> None:
            for cb in watchers:
                cb.on_tokens(index, count)

        return tell

    def _parse(self, state: _RunState, completion: Completion, step: StepRecord) -> list[ParsedCall]:
        """The reply's tool calls; an unreadable reply gives none and is fed back to the model."""
        t = time.perf_counter()
        try:
            calls = self.model.dialect.parse(completion.text, self.env.space, answer=self.answer)
            state.parse_errors = 0
        except ParseError as exc:
            calls = []
            msg = str(exc)
            if completion.finish_reason == "length":
                msg = "Your reply was cut off before the tool call was complete. Reply with a shorter tool call."
            step.error = f"parse error: {msg}"
            state.parse_errors += 1
            state.feedback.append(f"Your previous reply could not be used: {msg}")
        step.durations["parse"] = time.perf_counter() - t
        return calls

    def _act_on(self, state: _RunState, calls: list[ParsedCall], frame: Frame, step: StepRecord) -> bool:
        """Decide and execute the calls in order (see `calls`); True when one of them acted on the env.

        The calls that ran (or would run, in a dry run) go to `state.executed`, which is what
        the model's history says was done; a stop they cause goes to `state.end`.
        """
        step.durations["execute"] = 0.0
        state.executed, state.end = [], None
        acted = False
        previous: str | None = None
        for i, call in enumerate(calls):
            if self._stop_requested:
                break
            skip = self._skip_reason(i, call.call_json, previous)
            previous = call.call_json
            if skip is not None:
                rec, stop = ActionRecord(call=call.call_json, model_action=action_to_dict(call.action),
                                         decision=f"{SKIPPED}: {skip}"), None
            else:
                rec, stop = self._act(call.action, call.call_json, frame, step.durations)
            step.actions.append(rec)
            for cb in self.callbacks:
                cb.on_action(state.index, rec)
            if ran(rec):
                state.executed.append(call.call_json)
                acted = acted or not isinstance(call.action, (Wait, Terminate, Answer))
            if rec.error:
                state.feedback.append(rec.error)
            if stop is not None:
                state.end = stop
                break
        return acted

    def _skip_reason(self, i: int, call_json: str, previous: str | None) -> str | None:
        """Why the i-th call of a reply is not executed, or None: `first` runs one call per reply, as the
        cookbook does; `all` runs each, but never the same call twice in a row (a repeated click is not a
        double click)."""
        if self.calls == "first" and i > 0:
            return "only the first tool call of a reply is executed"
        if call_json == previous:
            return "repeats the previous tool call of the reply"
        return None

    def _settle_after(self, state: _RunState, shot: Screenshot, acted: bool, step: StepRecord) -> Screenshot:
        """The screen once it has settled after the actions (it is the next observation, captured once)."""
        t = time.perf_counter()
        next_shot = shot
        state.capture_time_in_settle = 0.0
        if state.end is None:
            try:
                next_shot = self._settle(state, wait_only=not acted or self.dry_run)
            except EnvError as exc:
                state.end = _Stop(_env_status(exc), str(exc))
                step.error = step.error or f"env error: {exc}"
        step.durations["settle"] = time.perf_counter() - t - state.capture_time_in_settle
        return next_shot

    def _stall_after(self, state: _RunState, shot: Screenshot, next_shot: Screenshot, acted: bool,
                     step: StepRecord) -> _Stop | None:
        """The stall rule; its warning is added now, so the step's record shows the feedback the model gets."""
        stall = None
        if state.end is None and not self._stop_requested:
            stall = self._check_stall(state, shot, next_shot, [a.model_action for a in step.actions if a.executed],
                                      acted)
        step.feedback = list(state.feedback)
        return stall

    def _record(self, state: _RunState, step: StepRecord, shot: Screenshot, completion: Completion,
                part: ImagePart, recorder: Recorder | None, traj: Trajectory) -> None:
        """Add the step to the model's history and to the trajectory (written in the background)."""
        state.history.append(HistoryItem(calls=state.executed, reply=completion.text,
                                         image=part if self.history_policy != "text" else None))
        keep = parse_policy(self.history_policy)
        if len(state.history) > keep:  # images:K sends the last K screenshots: hold exactly those
            state.history[-keep - 1].image = None
        if step.index % TRIM_EVERY == 0:  # long runs: freed screen buffers go back to the system
            t = time.perf_counter()
            if release_free_memory():
                step.durations["trim"] = time.perf_counter() - t
        step.ended_at = time.time()
        if recorder:
            step.durations["record_wait"] = step.durations.get("record_wait", 0.0) + recorder.add_step(step, shot.image)
        else:
            traj.steps.append(step)
        for cb in self.callbacks:
            cb.on_step_end(step)

    def _record_final(self, state: _RunState, recorder: Recorder) -> None:
        """Record the screen after the last recorded step's actions (``final.png``), however the run ended.

        It is the settled observation the loop already took when there is one; only a last step whose
        actions ended the run before it settled (terminate or answer after an action) costs one capture
        here. A last step that changed nothing needs none: its own screenshot is the final screen.
        """
        if state.after is None:
            return
        index, shot, acted = state.after
        if shot is None:
            if not acted:
                return
            try:
                if not self.env.settles:
                    time.sleep(self.settle.min_wait)
                shot = self.env.observe()
            except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the env may be gone; the ending matters more
                log.info("no final screenshot: %s", exc)
                return
        try:
            recorder.add_final(index, shot.image, shot.screen)
        except Exception as exc:  # noqa: BLE001 - an extra picture never keeps the ending from being written
            log.warning("no final screenshot: %s", exc)

    def _check_stop_rules(self, state: _RunState, stall: _Stop | None) -> None:
        """Raise the `_Stop` that ends the run after this step, if any (in order of precedence)."""
        if state.end is not None:
            raise state.end
        if self._stop_requested:
            raise _Stop("interrupted", self._stop_requested)
        if state.parse_errors >= MAX_PARSE_ERRORS:
            raise _Stop("parse_errors", f"{MAX_PARSE_ERRORS} consecutive replies could not be parsed")
        over = self.guard.over_budget(time.monotonic() - state.started, state.tokens)
        if over:
            raise _Stop("budget", over)
        if stall is not None:
            raise stall

    # ------------------------------------------------------------------ one action: decide, then execute

    def _act(self, action: Action, call_json: str, frame: Frame,
             d: dict[str, float]) -> tuple[ActionRecord, _Stop | None]:
        """Decide on one call and execute it when allowed; the record says which, and why."""
        rec = ActionRecord(call=call_json, model_action=action_to_dict(action))
        if isinstance(action, Terminate):
            rec.executed = True
            return rec, _Stop(action.status, f"the agent reported {action.status}")
        if isinstance(action, Answer):
            rec.executed = True
            return rec, _Stop("success", "the agent answered", answer=action.text)
        screen_action = self._decide(action, frame, rec)
        if screen_action is None:
            return rec, None
        return rec, self._execute(action, screen_action, rec, d)

    def _decide(self, action: Action, frame: Frame, rec: ActionRecord) -> Action | None:
        """Map to the screen and pass the guard; the screen action to execute, or None (recorded why).

        A dry run takes exactly the live decision, confirmation included (asked as a live run
        asks: on a terminal, no without one, yes with --yes); only the execution is left out.
        """
        try:
            screen_action = frame.action_to_screen(action)
        except OutOfFrame as exc:
            rec.decision = f"deny: {exc}"
            rec.error = f"Action rejected: {exc}."
            return None
        rec.screen_action = action_to_dict(screen_action)
        allowed, rec.decision = self.guard.decide(action)
        if not allowed:
            rec.error = f"Action rejected by the safety policy: {rec.decision.split(': ', 1)[-1]}."
            return None
        if self.dry_run:
            rec.decision = "dry-run" if rec.decision == "allow" else f"dry-run ({rec.decision})"
            return None
        return screen_action

    def _execute(self, action: Action, screen_action: Action, rec: ActionRecord,
                 d: dict[str, float]) -> _Stop | None:
        """Run one allowed action on the env; an env that is gone ends the run."""
        t = time.perf_counter()
        try:
            if isinstance(action, Wait) and not self.env.performs_waits:
                self._sleep(min(action.time, MAX_WAIT_SECONDS))
            else:
                self.env.execute(screen_action)
            rec.executed = True
        except ActionError as exc:
            rec.error = f"Action failed: {exc}"
        except EnvError as exc:
            rec.error = f"Action failed: {exc}"
            return _Stop(_env_status(exc), str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in the env: end the run, but keep this step on record
            log.exception("the env failed to execute %s", rec.model_action.get("action"))
            rec.error = f"Action failed: {type(exc).__name__}: {exc}"
            return _Stop("error", rec.error.removeprefix("Action failed: "))
        finally:
            d["execute"] += time.perf_counter() - t
        return None

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
        if not s.enabled or wait_only or self.env.settles:
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
        unchanged = screen_unchanged(before, after)
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
        self.executed: list[str] = []  # this step's calls that ran (or would, in a dry run): the history's
        self.end: _Stop | None = None  # a stop this step's actions or settling caused
        # (step, the screen after its actions or None when none was captured, whether it acted): the final frame
        self.after: tuple[int, Screenshot | None, bool] | None = None


__all__ = ["CALLS", "MAX_PARSE_ERRORS", "SKIPPED", "STALL_REPEATS", "STALL_STEPS", "Agent", "Calls", "Result", "Settle",
           "same_screen", "screen_unchanged"]
