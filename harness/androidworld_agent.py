"""guiagent's model as an agent for AndroidWorld's own runner (``run.py`` / ``suite_utils.run``).

`AndroidWorldAgent(env, model)` keeps AndroidWorld's ``EnvironmentInteractingAgent`` contract
(``env``, ``name``, ``reset(go_home)``, ``set_max_steps``, ``transition_pause``, ``step(goal) ->
AgentInteractionResult``): each `step` takes the screen from ``env.get_state()``, asks the model with
guiagent's prompt (the cookbook's ``mobile_use`` tool), parses the reply, maps it from model-image to
device pixels with the one `Frame`, and executes it through AndroidWorld: the actions JSONAction has
(`to_json_action`) go through ``env.execute_action``; a swipe between two points, typing without
Enter, a key event go through AndroidWorld's ``adb_utils`` on ``env.controller``.

android_world is imported only when a step runs (it is not on PyPI: install it from its repository).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from guiagent.tools.actions import (
    Action,
    Answer,
    Click,
    LongPress,
    MobileKey,
    MobileType,
    Open,
    Swipe,
    SystemButton,
    Terminate,
    Wait,
)

SWIPE_MS = 500  # the duration of an adb swipe: a drag, not a fling
_BUTTONS = {"Back": "navigate_back", "Home": "navigate_home", "Enter": "keyboard_enter"}


@dataclass
class AdbCall:
    """An action JSONAction cannot express, as AndroidWorld's adb_utils call: ``swipe``, ``type``, ``key``."""

    kind: str
    args: tuple[Any, ...] = ()


def to_json_action(action: Action) -> dict[str, Any] | AdbCall:
    """The JSONAction fields for `action` (in device pixels), or the adb call that does it."""
    if isinstance(action, Click):
        return {"action_type": "click", "x": int(action.coordinate[0]), "y": int(action.coordinate[1])}
    if isinstance(action, LongPress):
        return {"action_type": "long_press", "x": int(action.coordinate[0]), "y": int(action.coordinate[1])}
    if isinstance(action, Swipe):
        return AdbCall("swipe", (int(action.coordinate[0]), int(action.coordinate[1]),
                                 int(action.coordinate2[0]), int(action.coordinate2[1]), SWIPE_MS))
    if isinstance(action, MobileType):  # JSONAction's input_text presses Enter after typing: ours does not
        return AdbCall("type", (action.text,))
    if isinstance(action, SystemButton):
        if action.button in _BUTTONS:
            return {"action_type": _BUTTONS[action.button]}
        return AdbCall("key", ("KEYCODE_MENU",))
    if isinstance(action, MobileKey):
        name = action.text if action.text.startswith("KEYCODE_") or action.text.isdigit() else \
            "KEYCODE_" + action.text.upper()
        return AdbCall("key", (name,))
    if isinstance(action, Open):
        return {"action_type": "open_app", "app_name": action.text}
    if isinstance(action, Wait):
        return {"action_type": "wait"}
    if isinstance(action, Answer):
        return {"action_type": "answer", "text": action.text}
    if isinstance(action, Terminate):
        return {"action_type": "status", "goal_status": "complete" if action.status == "success" else "infeasible"}
    raise ValueError(f"{type(action).__name__} is not a mobile_use action")


@dataclass
class StepResult:
    """AndroidWorld's ``AgentInteractionResult`` fields (``done``, ``data``)."""

    done: bool
    data: dict[str, Any] = field(default_factory=dict)


class AndroidWorldAgent:
    """guiagent's model behind AndroidWorld's ``EnvironmentInteractingAgent.step(goal)``."""

    def __init__(self, env: Any, model: Any, name: str = "guiagent", transition_pause: float | None = 1.0,
                 history: str = "text", settle: float = 0.0) -> None:
        from guiagent.model.messages import parse_policy

        if transition_pause is not None and transition_pause < 0:
            raise ValueError(f"transition_pause must be non-negative, got {transition_pause}")
        if isinstance(model, str):
            from guiagent.model.spec import load_model

            model = load_model(model)
        parse_policy(history)
        self._env = env
        self.model = model
        self._name = name
        self._transition_pause = transition_pause
        self._max_steps: int | None = None
        self.history_policy = history
        self.settle = settle
        self.history: list[Any] = []
        self.steps = 0
        _register_with_android_world()

    # ---- AndroidWorld's EnvironmentInteractingAgent surface
    @property
    def env(self) -> Any:
        return self._env

    @env.setter
    def env(self, env: Any) -> None:
        self._env = env

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        self._name = name

    @property
    def transition_pause(self) -> float | None:
        return self._transition_pause

    @transition_pause.setter
    def transition_pause(self, value: float | None) -> None:
        self._transition_pause = value

    def set_max_steps(self, max_steps: int) -> None:
        self._max_steps = max_steps

    def reset(self, go_home: bool = False) -> None:
        """A new episode: the env reset (home, empty interaction cache), the model's history cleared."""
        self.env.reset(go_home=go_home)
        self.history = []
        self.steps = 0

    def step(self, goal: str) -> Any:
        """One observe -> think -> act step on `goal`; ``done`` when the model terminated or answered."""
        from guiagent.model.messages import HistoryItem, ImagePart, ParseError, RequestContext
        from guiagent.tools.frame import Frame, Screenshot, ScreenSpace
        from PIL import Image

        self.steps += 1
        state = self.env.get_state(wait_to_stabilize=self._transition_pause is None)
        image = Image.fromarray(state.pixels).convert("RGB")
        width, height = self.env.logical_screen_size
        shot = Screenshot(image=image, screen=ScreenSpace(width=width, height=height, scale=image.width / width))
        frame = Frame.build(shot, self.model.image_size(image.width, image.height))
        part = ImagePart(image=image, size=frame.model_size)
        messages = self.model.dialect.messages(goal, "mobile_use", part, self.history, policy=self.history_policy,
                                               feedback=[], answer=True)
        completion = self.model.generate(messages, RequestContext(instruction=goal, space="mobile_use",
                                                                  step=self.steps, frame=frame))
        data: dict[str, Any] = {"response": completion.text, "actions": [], "error": None}
        try:
            calls = self.model.dialect.parse(completion.text, "mobile_use", answer=True)
        except ParseError as exc:
            calls = []
            data["error"] = f"parse error: {exc}"
        done = False
        executed: list[str] = []
        for call in calls[:1]:  # one call per reply, as the cookbook and guiagent's loop do
            screen_action = frame.action_to_screen(call.action)
            planned = to_json_action(screen_action)
            data["actions"].append(planned if isinstance(planned, dict) else {"adb": planned.kind,
                                                                              "args": list(planned.args)})
            self._execute(planned)
            executed.append(call.call_json)
            done = isinstance(screen_action, (Terminate, Answer))
        self.history.append(HistoryItem(calls=executed, reply=completion.text,
                                        image=part if self.history_policy != "text" else None))
        if not done and self._transition_pause:
            time.sleep(self._transition_pause)
        return _interaction_result(done, data)

    def _execute(self, planned: dict[str, Any] | AdbCall) -> None:
        if isinstance(planned, dict):
            from android_world.env import json_action  # type: ignore[import-not-found]

            self.env.execute_action(json_action.JSONAction(**planned))
            return
        from android_world.env import adb_utils

        controller = self.env.controller
        if planned.kind == "swipe":
            adb_utils.issue_generic_request(adb_utils.generate_swipe_command(*planned.args), controller)
        elif planned.kind == "type":
            adb_utils.type_text(planned.args[0], controller)
        else:
            adb_utils.press_keyboard_generic(planned.args[0], controller)


def _interaction_result(done: bool, data: dict[str, Any]) -> Any:
    try:
        from android_world.agents import base_agent  # type: ignore[import-not-found]
    except ImportError:
        return StepResult(done, data)
    return base_agent.AgentInteractionResult(done, data)


def _register_with_android_world() -> None:
    """Make ``isinstance(agent, EnvironmentInteractingAgent)`` true where android_world is installed."""
    try:
        from android_world.agents import base_agent
    except ImportError:
        return
    base_agent.EnvironmentInteractingAgent.register(AndroidWorldAgent)


__all__ = ["SWIPE_MS", "AdbCall", "AndroidWorldAgent", "StepResult", "to_json_action"]
