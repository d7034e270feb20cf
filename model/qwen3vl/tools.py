"""The Qwen3-VL cookbooks' tool definitions, built on the Qwen2.5-VL ones they extend.

computer_use: ``cookbooks/utils/agent_function_call.py`` ``ComputerUse`` of QwenLM/Qwen3-VL (click actions
take a coordinate, ``triple_click``, ``hscroll`` and ``answer`` added). mobile_use: the tool printed in
the ``system_prompt`` of ``cookbooks/mobile_agent.ipynb`` (no ``key``/``open``, ``answer`` after ``type``).
Key order matters: the prompt serialises these dicts as they are.
"""

from __future__ import annotations

from typing import Any

from guiagent.tools import definitions
from guiagent.tools.actions import ActionSpace

_CLICK_AT = " at a specified (x, y) pixel coordinate on the screen."

_COMPUTER_ACTIONS = f"""\
The action to perform. The available actions are:
* `key`: Performs key down presses on the arguments passed in order, then performs key releases in reverse order.
* `type`: Type a string of text on the keyboard.
* `mouse_move`: Move the cursor to a specified (x, y) pixel coordinate on the screen.
* `left_click`: Click the left mouse button{_CLICK_AT}
* `left_click_drag`: Click and drag the cursor to a specified (x, y) pixel coordinate on the screen.
* `right_click`: Click the right mouse button{_CLICK_AT}
* `middle_click`: Click the middle mouse button{_CLICK_AT}
* `double_click`: Double-click the left mouse button{_CLICK_AT}
* `triple_click`: Triple-click the left mouse button at a specified (x, y) pixel coordinate on the screen (simulated as double-click since it's the closest action).
* `scroll`: Performs a scroll of the mouse scroll wheel.
* `hscroll`: Performs a horizontal scroll (mapped to regular scroll).
* `wait`: Wait specified seconds for the change to happen.
* `terminate`: Terminate the current task and report its completion status.
* `answer`: Answer a question."""

_MOBILE_ACTIONS = """\
The action to perform. The available actions are:
* `click`: Click the point on the screen with coordinate (x, y).
* `long_press`: Press the point on the screen with coordinate (x, y) for specified seconds.
* `swipe`: Swipe from the starting point with coordinate (x, y) to the end point with coordinates2 (x2, y2).
* `type`: Input the specified text into the activated input box.
* `answer`: Output the answer.
* `system_button`: Press the system button.
* `wait`: Wait specified seconds for the change to happen.
* `terminate`: Terminate the current task and report its completion status."""

# What the tool's own wording says these actions are carried out as.
ALIASES = {"computer_use": {"triple_click": "double_click", "hscroll": "scroll"}, "mobile_use": {}}


def computer_use(width: int, height: int) -> dict[str, Any]:
    """Qwen3-VL's ``computer_use`` function for a stated resolution of ``width`` x ``height``."""
    fn = definitions.computer_use(width, height)
    fn["description"] = fn["description"].replace("on their edges unless asked.", "on their edges.")
    props = fn["parameters"]["properties"]
    props["action"]["description"] = _COMPUTER_ACTIONS
    props["action"]["enum"] = ["key", "type", "mouse_move", "left_click", "left_click_drag", "right_click",
                               "middle_click", "double_click", "triple_click", "scroll", "hscroll", "wait",
                               "terminate", "answer"]
    props["text"]["description"] = "Required only by `action=type` and `action=answer`."
    props["coordinate"]["description"] = props["coordinate"]["description"].split(" Required only")[0]
    props["pixels"]["description"] = props["pixels"]["description"].replace(
        "`action=scroll`.", "`action=scroll` and `action=hscroll`.")
    return fn


def mobile_use(width: int, height: int) -> dict[str, Any]:
    """Qwen3-VL's ``mobile_use`` function (the cookbook's, with ``answer``) at ``width`` x ``height``."""
    fn = definitions.mobile_use(width, height)
    props = fn["parameters"]["properties"]
    props["action"]["description"] = _MOBILE_ACTIONS
    props["action"]["enum"] = ["click", "long_press", "swipe", "type", "answer", "system_button", "wait",
                               "terminate"]
    props["text"]["description"] = "Required only by `action=type` and `action=answer`."
    return fn


def function_for(space: ActionSpace, width: int, height: int) -> dict[str, Any]:
    """The function of `space` as the Qwen3-VL cookbooks define it."""
    return computer_use(width, height) if space == "computer_use" else mobile_use(width, height)
