"""Function definitions of the cookbook tools, in the cookbooks' exact wording.

Source: Qwen2.5-VL ``cookbooks/utils/agent_function_call.py`` (``ComputerUse`` and
``MobileUse``). Key order matters: dialects serialise these dicts as they are.
"""

from __future__ import annotations

from typing import Any

from guiagent.tools.actions import ActionSpace

_COORDINATE = (
    "(x, y): The x (pixels from the left edge) and y (pixels from the top edge) coordinates to move the mouse to."
)

_STATUS = {
    "description": "The status of the task. Required only by `action=terminate`.",
    "type": "string",
    "enum": ["success", "failure"],
}

_COMPUTER_DESCRIPTION = """\
Use a mouse and keyboard to interact with a computer, and take screenshots.
* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu. You must click on desktop icons to start applications.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions. E.g. if you click on Firefox and a window doesn't open, try wait and taking another screenshot.
* The screen's resolution is {width}x{height}.
* Whenever you intend to move the cursor to click on an element like an icon, you should consult a screenshot to determine the coordinates of the element before moving the cursor.
* If you tried clicking on a program or link but it failed to load, even after waiting, try adjusting your cursor position so that the tip of the cursor visually falls on the element that you want to click.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. Don't click boxes on their edges unless asked."""

_COMPUTER_ACTIONS = """\
The action to perform. The available actions are:
* `key`: Performs key down presses on the arguments passed in order, then performs key releases in reverse order.
* `type`: Type a string of text on the keyboard.
* `mouse_move`: Move the cursor to a specified (x, y) pixel coordinate on the screen.
* `left_click`: Click the left mouse button.
* `left_click_drag`: Click and drag the cursor to a specified (x, y) pixel coordinate on the screen.
* `right_click`: Click the right mouse button.
* `middle_click`: Click the middle mouse button.
* `double_click`: Double-click the left mouse button.
* `scroll`: Performs a scroll of the mouse scroll wheel.
* `wait`: Wait specified seconds for the change to happen.
* `terminate`: Terminate the current task and report its completion status."""

_MOBILE_DESCRIPTION = """\
Use a touchscreen to interact with a mobile device, and take screenshots.
* This is an interface to a mobile device with touchscreen. You can perform actions like clicking, typing, swiping, etc.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions.
* The screen's resolution is {width}x{height}.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. Don't click boxes on their edges unless asked."""

_MOBILE_ACTIONS = """\
The action to perform. The available actions are:
* `key`: Perform a key event on the mobile device.
    - This supports adb's `keyevent` syntax.
    - Examples: "volume_up", "volume_down", "power", "camera", "clear".
* `click`: Click the point on the screen with coordinate (x, y).
* `long_press`: Press the point on the screen with coordinate (x, y) for specified seconds.
* `swipe`: Swipe from the starting point with coordinate (x, y) to the end point with coordinates2 (x2, y2).
* `type`: Input the specified text into the activated input box.
* `system_button`: Press the system button.
* `open`: Open an app on the device.
* `wait`: Wait specified seconds for the change to happen.
* `terminate`: Terminate the current task and report its completion status."""

# The `answer` action of AndroidWorld-style information-retrieval tasks (GUI-Owl's
# mobile tool wording); never part of the default tool.
_ANSWER_LINE = "* `answer`: Output the answer."


def computer_use(width: int, height: int) -> dict[str, Any]:
    """The ``computer_use`` function for a model image of ``width`` x ``height`` pixels."""
    return {
        "name": "computer_use",
        "description": _COMPUTER_DESCRIPTION.format(width=width, height=height),
        "parameters": {
            "properties": {
                "action": {
                    "description": _COMPUTER_ACTIONS,
                    "enum": [
                        "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click",
                        "middle_click", "double_click", "scroll", "wait", "terminate",
                    ],
                    "type": "string",
                },
                "keys": {"description": "Required only by `action=key`.", "type": "array"},
                "text": {"description": "Required only by `action=type`.", "type": "string"},
                "coordinate": {
                    "description": _COORDINATE
                    + " Required only by `action=mouse_move` and `action=left_click_drag`.",
                    "type": "array",
                },
                "pixels": {
                    "description": "The amount of scrolling to perform. Positive values scroll up, negative values "
                    "scroll down. Required only by `action=scroll`.",
                    "type": "number",
                },
                "time": {"description": "The seconds to wait. Required only by `action=wait`.", "type": "number"},
                "status": dict(_STATUS),
            },
            "required": ["action"],
            "type": "object",
        },
    }


def mobile_use(width: int, height: int, *, answer: bool = False) -> dict[str, Any]:
    """The ``mobile_use`` function for a model image of ``width`` x ``height`` pixels.

    ``answer=True`` adds the ``answer`` action for information-retrieval tasks.
    """
    actions = _MOBILE_ACTIONS
    enum = ["key", "click", "long_press", "swipe", "type", "system_button", "open", "wait", "terminate"]
    text_required = "Required only by `action=key`, `action=type`, and `action=open`."
    if answer:
        actions += "\n" + _ANSWER_LINE
        enum.append("answer")
        text_required = "Required only by `action=key`, `action=type`, `action=open`, and `action=answer`."
    return {
        "name": "mobile_use",
        "description": _MOBILE_DESCRIPTION.format(width=width, height=height),
        "parameters": {
            "properties": {
                "action": {"description": actions, "enum": enum, "type": "string"},
                "coordinate": {
                    "description": _COORDINATE
                    + " Required only by `action=click`, `action=long_press`, and `action=swipe`.",
                    "type": "array",
                },
                "coordinate2": {
                    "description": _COORDINATE + " Required only by `action=swipe`.",
                    "type": "array",
                },
                "text": {"description": text_required, "type": "string"},
                "time": {
                    "description": "The seconds to wait. Required only by `action=long_press` and `action=wait`.",
                    "type": "number",
                },
                "button": {
                    "description": "Back means returning to the previous interface, Home means returning to the "
                    "desktop, Menu means opening the application background menu, and Enter means pressing the "
                    "enter. Required only by `action=system_button`",
                    "enum": ["Back", "Home", "Menu", "Enter"],
                    "type": "string",
                },
                "status": dict(_STATUS),
            },
            "required": ["action"],
            "type": "object",
        },
    }


def function_for(space: ActionSpace, width: int, height: int, *, answer: bool = False) -> dict[str, Any]:
    """The function definition of `space` for a model image of the given size."""
    if space == "computer_use":
        return computer_use(width, height)
    return mobile_use(width, height, answer=answer)


def action_names(function: dict[str, Any]) -> list[str]:
    """The action names a function definition offers."""
    return list(function["parameters"]["properties"]["action"]["enum"])
