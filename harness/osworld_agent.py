"""Our agent inside OSWorld's own runner (``run.py`` / ``lib_run_single.run_single_example``).

`OSWorldAgent` has OSWorld's agent contract and needs nothing of OSWorld installed:

- ``reset(logger=None, vm_ip=None, **kwargs)`` starts an episode;
- ``predict(instruction, obs) -> (response, actions)``: ``obs["screenshot"]`` is the VM's PNG;
  ``response`` is the model's reply text and ``actions`` a list of pyautogui code strings (OSWorld
  runs each as ``python -c "import pyautogui; import time; pyautogui.FAILSAFE = False; <code>"`` on
  the VM) or ``"WAIT"``, ``"DONE"``, ``"FAIL"``.

One step is `agent.stepper.Stepper`: the very prompt, parser, Frame and guard of ``guiagent run``.
The code is safe by construction: each string is one ``pyautogui.<fn>(...)`` call, or a short fixed
sequence of them, whose arguments are Python literals written by ``repr`` of ints and strings the
parser validated, never model text spliced into code. Text that pyautogui cannot type (non-ASCII, or a
character this keymap mistypes) goes through the clipboard: ``subprocess.run(["xclip", "-selection",
"clipboard", "-in"], input=<bytes literal>, stdout=DEVNULL, stderr=DEVNULL)`` then ctrl+v (OSWorld's
server README installs xclip on its Ubuntu image). The streams go to /dev/null because xclip leaves a
child serving the selection: holding the VM server's output pipes, it would keep OSWorld's ``/execute``
waiting until its timeout (pyperclip's copy does exactly that). A terminal pastes with ctrl+shift+v, so
non-ASCII text typed into a terminal is not pasted. Each action does what `envs.desktop.DesktopEnv` does
for it (same clicks, chord order, wheel clicks per `pixels`, drag), which tests check on Xvfb.

Endings: ``terminate(success)`` -> DONE, ``terminate(failure)`` -> FAIL (our mapping; OSWorld's own
Qwen2.5-VL agent sends DONE for both, see `harness.base.INFEASIBLE_MAPPINGS`); a run the loop's stop
rules end otherwise (three unreadable replies, a budget) -> DONE, which claims nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from guiagent.envs.desktop import _PYAUTOGUI_TEXT, PYAUTOGUI_KEYS, wheel_clicks
from guiagent.tools.actions import (
    DoubleClick,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    RightClick,
    Scroll,
    Terminate,
    Type,
    Wait,
)
from guiagent.tools.keys import normalize_newlines

if TYPE_CHECKING:
    from guiagent.agent.stepper import StepOutput, Stepper
    from guiagent.model.base import Model
    from guiagent.tools.actions import Action

DRAG_SECONDS = 0.2  # DesktopEnv's drag_duration: toolkits see motion events between press and release
CLIPBOARD_COMMAND = ["xclip", "-selection", "clipboard", "-in"]
CLIPBOARD_SETTLE_SECONDS = 0.3  # xclip forks before its child owns the selection; a paste sent at once pastes the old one
# pyautogui's X11 table sends the first key carrying a keysym: on pc105 keymaps (Xvfb's, Ubuntu's) "<" is
# found on the ISO key whose shifted level is ">", so write("<") types ">" (measured on Xvfb; ">" and every
# other printable character arrive intact). DesktopEnv repairs the table in-process; code run on the VM
# cannot, so text with "<" is pasted.
MISTYPED = frozenset("<")
PYAUTOGUI_FUNCTIONS = frozenset({"click", "rightClick", "middleClick", "doubleClick", "moveTo", "mouseDown",
                                 "mouseUp", "scroll", "press", "hotkey", "write", "sleep"})
SPECIAL = ("WAIT", "DONE", "FAIL")

log = logging.getLogger("guiagent.osworld_agent")


class CodeError(ValueError):
    """An action that has no pyautogui code (a phone key, say); fed back to the model."""


def _literal(value: Any) -> str:
    if type(value) not in (int, float, str, bool):  # exact types: no subclass with its own __repr__
        raise TypeError(f"not a literal argument: {type(value).__name__}")
    return repr(value)


def _call(fn: str, *args: Any, **kwargs: Any) -> str:
    """``pyautogui.fn(args...)`` with every argument a literal."""
    if fn not in PYAUTOGUI_FUNCTIONS:
        raise ValueError(f"pyautogui.{fn} is not an allowed function")
    parts = [_literal(a) for a in args] + [f"{k}={_literal(v)}" for k, v in kwargs.items()]
    return f"pyautogui.{fn}({', '.join(parts)})"


def _point(coordinate: Any) -> tuple[int, int]:
    return int(round(coordinate[0])), int(round(coordinate[1]))


def pyautogui_code(action: Action) -> str | None:
    """The code (or WAIT/DONE/FAIL) that performs `action`, whose coordinates are screen pixels; None: nothing to do.

    Raises `CodeError` for an action with no code here.
    """
    if isinstance(action, Wait):
        return "WAIT"
    if isinstance(action, Terminate):
        return "DONE" if action.status == "success" else "FAIL"
    if isinstance(action, (LeftClick, RightClick, MiddleClick, DoubleClick)):
        fn = {LeftClick: "click", RightClick: "rightClick", MiddleClick: "middleClick",
              DoubleClick: "doubleClick"}[type(action)]
        return _call(fn, *_point(action.coordinate)) if action.coordinate is not None else _call(fn)
    if isinstance(action, MouseMove):
        return _call("moveTo", *_point(action.coordinate))
    if isinstance(action, LeftClickDrag):
        x, y = _point(action.coordinate)
        return "\n".join([_call("mouseDown", button="left"), _call("moveTo", x, y, duration=DRAG_SECONDS),
                          _call("mouseUp", button="left")])
    if isinstance(action, Scroll):
        clicks = wheel_clicks(action.pixels)
        if not clicks:
            return None
        if action.coordinate is None:
            return _call("scroll", clicks)
        x, y = _point(action.coordinate)
        return _call("scroll", clicks, x=x, y=y)
    if isinstance(action, Key):
        names = []
        for key in action.keys:
            name = PYAUTOGUI_KEYS.get(key)
            if name is None:
                raise CodeError(f"key {key!r} cannot be pressed on a desktop")
            names.append(name)
        return _call("press", names[0]) if len(names) == 1 else _call("hotkey", *names)
    if isinstance(action, Type):
        text = normalize_newlines(action.text)
        if not text:
            return None
        if "\x00" in text:
            raise CodeError("the text contains a NUL character, which no keyboard can type; leave it out")
        if all(c in _PYAUTOGUI_TEXT and c not in MISTYPED for c in text):
            return _call("write", text)
        return "\n".join(["import subprocess", f"subprocess.run({CLIPBOARD_COMMAND!r}, input={text.encode('utf-8')!r}, "
                          "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)",
                          _call("sleep", CLIPBOARD_SETTLE_SECONDS), _call("hotkey", "ctrl", "v")])
    raise CodeError(f"action {getattr(action, 'action', action)!r} is not a computer_use action")


class OSWorldAgent:
    """OSWorld's agent contract on our loop (see the module docstring).

    `model`: a model spec (``openai:http://HOST:8000/v1``, ``hf:PATH``, ``scripted:FILE``) or a loaded
    `Model`; `screen_size`: the VM screen in pyautogui points; the pixel budget and `history` policy are
    the loop's (``text``, or ``images:K`` for the last K screenshots as prior turns).
    """

    def __init__(self, model: str | Model, screen_size: tuple[int, int] = (1920, 1080), min_pixels: int = 3136,
                 max_pixels: int = 12845056, history: str = "text") -> None:
        from guiagent.agent.stepper import Stepper
        from guiagent.model.image import PixelBudget

        if isinstance(model, str):
            from guiagent.model.spec import load_model

            model = load_model(model)
        self.model = model
        self.screen_size = (int(screen_size[0]), int(screen_size[1]))
        self.stepper: Stepper = Stepper(model, screen_size=self.screen_size,
                                        budget=PixelBudget(min_pixels=min_pixels, max_pixels=max_pixels),
                                        history=history)
        self.logger = log
        self.vm_ip: str | None = None
        self.last: StepOutput | None = None

    def reset(self, logger: logging.Logger | None = None, vm_ip: str | None = None, **kwargs: Any) -> None:
        """A new episode: history and feedback forgotten."""
        self.logger = logger or log
        self.vm_ip = vm_ip
        self.stepper.reset()
        self.last = None

    def predict(self, instruction: str, obs: dict[str, Any]) -> tuple[str, list[str]]:
        """The model's reply to this screenshot and the actions to run: pyautogui code, WAIT, DONE or FAIL."""
        out = self.stepper.step(obs["screenshot"], instruction)
        self.last = out
        actions: list[str] = []
        for action in out.actions:
            try:
                code = pyautogui_code(action)
            except CodeError as exc:
                self.stepper.feedback(f"Action failed: {exc}")
                continue
            if code is not None:
                actions.append(code)
        if out.ended is not None and not any(a in ("DONE", "FAIL") for a in actions):
            actions.append("DONE")  # the loop's stop rules ended the run; DONE claims nothing
        self.logger.info("guiagent reply: %s", out.reply)
        self.logger.info("guiagent actions: %s", actions)
        return out.reply, actions

    def close(self) -> None:
        self.model.close()


__all__ = ["CLIPBOARD_COMMAND", "CLIPBOARD_SETTLE_SECONDS", "MISTYPED", "PYAUTOGUI_FUNCTIONS", "SPECIAL", "CodeError", "OSWorldAgent",
           "pyautogui_code"]
