"""One step at a time, without an env: for runners that own the screen themselves (OSWorld's, AndroidWorld's).

`Stepper.step(screenshot, instruction)` runs the agent loop's own phases on a screenshot the caller
captured (the Frame of that image, the dialect's prompt with the history so far, the model, the
parser, the Frame's mapping to the screen and the guard) and returns the model's reply and the
decided actions in screen coordinates, which the caller executes. History (and feedback such as a
parse error or a refused coordinate) is kept between calls; `reset` starts a new episode.

    >>> stepper = Stepper(load_model("openai:http://127.0.0.1:8000/v1"), screen_size=(1920, 1080))
    >>> out = stepper.step(png_bytes, "Open the terminal")
    >>> out.actions            # [LeftClick(coordinate=(812, 1041))], screen pixels
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from guiagent.agent.guard import Guard
from guiagent.agent.loop import Agent, Calls, Settle, _RunState, _Stop
from guiagent.agent.trajectory import RunMeta, StepRecord, Trajectory, ran
from guiagent.envs.base import Env
from guiagent.model.image import PixelBudget
from guiagent.tools.actions import Terminate
from guiagent.tools.frame import Screenshot, ScreenSpace

if TYPE_CHECKING:
    from guiagent.agent.trajectory import ActionRecord
    from guiagent.model.base import Model
    from guiagent.tools.actions import Action, ActionSpace
    from PIL.Image import Image


class _CallerEnv(Env):
    """The env of a stepper: it shows the caller's screenshot and collects the actions the agent decides."""

    performs_waits: ClassVar[bool] = True
    name = "caller"

    def __init__(self, space: ActionSpace) -> None:
        self._space = space
        self.shot: Screenshot | None = None
        self.decided: list[Action] = []

    @property
    def space(self) -> ActionSpace:  # type: ignore[override]
        return self._space

    def observe(self) -> Screenshot:
        if self.shot is None:  # pragma: no cover - the stepper sets the screenshot before every phase
            raise RuntimeError("the stepper has no screenshot")
        return self.shot

    def execute(self, action: Action) -> None:
        self.decided.append(action)


@dataclass
class StepOutput:
    """What one step decided: the model's reply, the actions in screen coordinates, and how it ended."""

    reply: str
    actions: list[Action] = field(default_factory=list)  # in order; Wait and Terminate included
    records: list[ActionRecord] = field(default_factory=list)  # every call, with the guard's decision
    error: str | None = None  # a parse error of this reply
    ended: str | None = None  # success / failure (terminate), parse_errors, budget: the episode is over
    reason: str | None = None


class Stepper:
    """The agent loop, one step per call, on screenshots the caller provides (see the module docstring).

    `screen_size` is the executor's screen in its own units (pyautogui points); None: the size of each
    screenshot. `model` is a loaded `Model`; `history`, `calls`, `guard` and `answer` are the loop's.
    """

    def __init__(self, model: Model, *, screen_size: tuple[int, int] | None = None, budget: PixelBudget | None = None,
                 history: str = "text", calls: Calls = "first", guard: Guard | None = None,
                 space: ActionSpace = "computer_use", answer: bool = False) -> None:
        self.screen_size = screen_size
        self._env = _CallerEnv(space)
        self.agent = Agent(model, self._env, budget=budget or PixelBudget(), history=history, calls=calls,
                           guard=guard or Guard(), settle=Settle(enabled=False), answer=answer)
        model.check(space, history)
        self._state: _RunState | None = None
        self._traj: Trajectory | None = None

    @property
    def steps(self) -> list[StepRecord]:
        """This episode's step records (what a trajectory would hold, screenshots aside)."""
        return list(self._traj.steps) if self._traj else []

    def reset(self) -> None:
        """Forget the episode: history, feedback and step count."""
        self._state = None
        self._traj = None

    def feedback(self, message: str) -> None:
        """Tell the model something at its next step (e.g. that an action could not be carried out)."""
        if self._state is not None:
            self._state.feedback.append(message)

    def step(self, screenshot: bytes | Image, instruction: str) -> StepOutput:
        """One observe -> prompt -> infer -> parse -> decide step on `screenshot` (PNG/JPEG bytes or an image).

        A new instruction starts a new episode. Nothing is executed: the decided actions come back in
        screen coordinates. Raises `ModelError` when the backend fails.
        """
        image = _as_image(screenshot)
        if self._state is None or self._state.instruction != instruction:
            self._start(instruction)
        assert self._state is not None and self._traj is not None
        state, agent = self._state, self.agent
        w, h = self.screen_size or image.size
        shot = Screenshot(image=image, screen=ScreenSpace(width=w, height=h, scale=image.width / w))
        self._env.shot, self._env.decided = shot, []
        state.index += 1
        step = StepRecord(index=state.index, started_at=time.time(), feedback=[])
        frame, part, messages = agent._prompt(state, shot, step)
        completion = agent._infer(state, messages, frame, step)
        calls = agent._parse(state, completion, step)
        agent._act_on(state, calls, frame, step)
        step.feedback = list(state.feedback)
        agent._record(state, step, shot, completion, part, None, self._traj)
        actions = list(self._env.decided)
        out = StepOutput(reply=completion.text, records=list(step.actions), error=step.error)
        for rec in step.actions:  # terminate never reaches an env: it is the record that ran
            if ran(rec) and rec.model_action.get("action") == "terminate":
                actions.append(Terminate(status=rec.model_action["status"]))
        out.actions = actions
        try:
            agent._check_stop_rules(state, None)
        except _Stop as stop:
            out.ended, out.reason = stop.status, stop.reason
        return out

    def _start(self, instruction: str) -> None:
        self._state = _RunState(instruction=instruction, started=time.monotonic())
        a = self.agent
        self._traj = Trajectory(meta=RunMeta(
            instruction=instruction, env=self._env.name, model=a.model_spec, space=self._env.space,
            min_pixels=a.budget.min_pixels, max_pixels=a.budget.max_pixels, history=a.history_policy,
            max_steps=a.max_steps, calls=a.calls))


def _as_image(screenshot: bytes | Image) -> Image:
    from PIL import Image as PILImage

    if isinstance(screenshot, (bytes, bytearray, memoryview)):
        with PILImage.open(io.BytesIO(bytes(screenshot))) as img:
            return img.convert("RGB")
    return screenshot.convert("RGB") if screenshot.mode != "RGB" else screenshot


__all__ = ["StepOutput", "Stepper"]
