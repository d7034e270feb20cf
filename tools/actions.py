"""Typed actions of the two cookbook tools, `computer_use` and `mobile_use`.

Actions are model-agnostic. Coordinates are plain ``(x, y)`` pairs whose space
depends on where the action is: a parsed action holds model-image pixels, an
executed one holds screen (executor) units. `tools.frame.Frame` maps between them.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from guiagent.tools.keys import MAX_CHORD_KEYS, resolve_chord
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

Point = tuple[float, float]

# Models sometimes ask for absurd waits; the loop never sleeps longer than this.
MAX_WAIT_SECONDS = 60.0


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("coordinate", "coordinate2", mode="after", check_fields=False)
    @classmethod
    def _finite(cls, value: Point | None) -> Point | None:
        if value is not None and not all(math.isfinite(v) for v in value):
            raise ValueError("coordinates must be finite numbers")
        return value

    def points(self) -> dict[str, Point]:
        """The coordinate fields this action carries, by name."""
        return {k: v for k in ("coordinate", "coordinate2") if (v := getattr(self, k, None)) is not None}


def _finite_number(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# ---------------------------------------------------------------- computer_use


class Key(_Action):
    """Press the keys in order, release them in reverse (a chord such as ctrl+c).

    `keys` holds canonical key names (`tools.keys`): validation resolves every spelling a model
    sends (``Control_L``, ``"ctrl+alt+delete"`` as one item, ``["ctrl", "Q", "q"]``) once, so the
    guard decides on, and the env presses, exactly these keys. At most `MAX_CHORD_KEYS` keys.
    """

    action: Literal["key"] = "key"
    keys: list[str] = Field(min_length=1, max_length=MAX_CHORD_KEYS)

    @field_validator("keys", mode="after")
    @classmethod
    def _canonical_keys(cls, keys: list[str]) -> list[str]:
        return resolve_chord(keys)  # UnknownKey is a ValueError: a validation error naming the key


class Type(_Action):
    """Type text on the keyboard."""

    action: Literal["type"] = "type"
    text: str = Field(max_length=10_000)


class MouseMove(_Action):
    action: Literal["mouse_move"] = "mouse_move"
    coordinate: Point


class LeftClick(_Action):
    action: Literal["left_click"] = "left_click"
    coordinate: Point | None = None


class RightClick(_Action):
    action: Literal["right_click"] = "right_click"
    coordinate: Point | None = None


class MiddleClick(_Action):
    action: Literal["middle_click"] = "middle_click"
    coordinate: Point | None = None


class DoubleClick(_Action):
    action: Literal["double_click"] = "double_click"
    coordinate: Point | None = None


class LeftClickDrag(_Action):
    """Drag from the current pointer position to `coordinate`."""

    action: Literal["left_click_drag"] = "left_click_drag"
    coordinate: Point


class Scroll(_Action):
    """Scroll the wheel; positive pixels scroll up. `coordinate`, when given, moves there first."""

    action: Literal["scroll"] = "scroll"
    pixels: float
    coordinate: Point | None = None

    _pixels = field_validator("pixels")(_finite_number)


class Wait(_Action):
    action: Literal["wait"] = "wait"
    time: float = Field(default=1.0, ge=0)

    _time = field_validator("time")(_finite_number)


class Terminate(_Action):
    action: Literal["terminate"] = "terminate"
    status: Literal["success", "failure"]


ComputerAction = Annotated[
    Union[
        Key, Type, MouseMove, LeftClick, LeftClickDrag, RightClick, MiddleClick, DoubleClick, Scroll, Wait, Terminate
    ],
    Field(discriminator="action"),
]


# ------------------------------------------------------------------ mobile_use


class MobileKey(_Action):
    """An adb keyevent by name (``volume_up``, ``KEYCODE_ENTER``, a number)."""

    action: Literal["key"] = "key"
    text: str = Field(min_length=1, max_length=64)


class Click(_Action):
    action: Literal["click"] = "click"
    coordinate: Point


class LongPress(_Action):
    action: Literal["long_press"] = "long_press"
    coordinate: Point
    time: float = Field(default=2.0, ge=0, le=MAX_WAIT_SECONDS)

    _time = field_validator("time")(_finite_number)


class Swipe(_Action):
    action: Literal["swipe"] = "swipe"
    coordinate: Point
    coordinate2: Point


class MobileType(_Action):
    action: Literal["type"] = "type"
    text: str = Field(max_length=10_000)


class SystemButton(_Action):
    action: Literal["system_button"] = "system_button"
    button: Literal["Back", "Home", "Menu", "Enter"]


class Open(_Action):
    action: Literal["open"] = "open"
    text: str = Field(min_length=1, max_length=200)


class Answer(_Action):
    """Report an answer to an information-retrieval task (AndroidWorld style; opt-in)."""

    action: Literal["answer"] = "answer"
    text: str = Field(max_length=10_000)


MobileAction = Annotated[
    Union[MobileKey, Click, LongPress, Swipe, MobileType, SystemButton, Open, Wait, Terminate, Answer],
    Field(discriminator="action"),
]

Action = Union[
    Key, Type, MouseMove, LeftClick, LeftClickDrag, RightClick, MiddleClick, DoubleClick, Scroll,
    MobileKey, Click, LongPress, Swipe, MobileType, SystemButton, Open, Answer, Wait, Terminate,
]

ActionSpace = Literal["computer_use", "mobile_use"]

# action name -> class, per tool.
ACTIONS: dict[str, dict[str, type[_Action]]] = {
    "computer_use": {c.model_fields["action"].default: c for c in (
        Key, Type, MouseMove, LeftClick, LeftClickDrag, RightClick, MiddleClick, DoubleClick, Scroll, Wait, Terminate)},
    "mobile_use": {c.model_fields["action"].default: c for c in (
        MobileKey, Click, LongPress, Swipe, MobileType, SystemButton, Open, Wait, Terminate, Answer)},
}

ADAPTERS: dict[str, TypeAdapter[Action]] = {
    "computer_use": TypeAdapter(ComputerAction),
    "mobile_use": TypeAdapter(MobileAction),
}


def action_from_dict(space: ActionSpace, data: dict[str, Any]) -> Action:
    """Validate a plain dict (``{"action": "click", ...}``) as an action of `space`.

    Raises pydantic's ``ValidationError`` on bad input.
    """
    return ADAPTERS[space].validate_python(data)


def action_to_dict(action: Action) -> dict[str, Any]:
    """The arguments object as the model would write it (no unset optional fields)."""
    data = action.model_dump(exclude_none=True)
    for k in ("coordinate", "coordinate2"):
        if k in data:
            data[k] = [_plain(v) for v in data[k]]
    return data


def _plain(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v
