"""The one coordinate model: how a point in the model's image maps to the screen.

Qwen2.5-VL answers in absolute pixels of the *resized* image it was shown. Every
observation is therefore paired with a `Frame` that knows the captured image, the
executor's coordinate space (logical points with a HiDPI scale and a monitor origin
on desktops, physical pixels on adb) and the model-image size. All coordinate
conversions in the project go through `Frame.to_screen` / `Frame.to_model`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from guiagent.tools.actions import Action, Point
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from PIL.Image import Image


class OutOfFrame(ValueError):
    """A model coordinate outside the model image; the message is fit to show the model."""


class ScreenSpace(BaseModel):
    """The executor's coordinate space for one screen."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)  # recorded in trajectories, read back untrusted

    width: int = Field(gt=0, description="screen width in executor units (logical points / device pixels)")
    height: int = Field(gt=0)
    scale: float = Field(default=1.0, gt=0, description="captured pixels per executor unit (HiDPI factor)")
    origin_x: int = Field(default=0, description="left edge of this monitor in the executor's global space")
    origin_y: int = 0


@dataclass
class Screenshot:
    """What an env returns from `observe()`: the captured image and its screen space."""

    image: Image
    screen: ScreenSpace
    meta: dict[str, Any] = field(default_factory=dict)


class Frame(BaseModel):
    """Maps action coordinates between the model image and the executor's screen."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)  # recorded in trajectories, read back untrusted

    image_width: int = Field(gt=0, description="captured image width in physical pixels")
    image_height: int = Field(gt=0)
    screen: ScreenSpace
    model_width: int = Field(gt=0, description="width of the image the model sees")
    model_height: int = Field(gt=0)

    @classmethod
    def build(cls, shot: Screenshot, model_size: tuple[int, int]) -> Frame:
        """A frame for `shot` seen by the model at `model_size` = (width, height)."""
        return cls(
            image_width=shot.image.width,
            image_height=shot.image.height,
            screen=shot.screen,
            model_width=model_size[0],
            model_height=model_size[1],
        )

    @property
    def model_size(self) -> tuple[int, int]:
        return self.model_width, self.model_height

    def to_screen(self, x: float, y: float) -> tuple[int, int]:
        """Model-image pixel -> executor point (nearest pixel, monitor origin added).

        Raises `OutOfFrame` for a point outside ``[0, model_width] x [0, model_height]``;
        a point on the far edge maps to the last screen pixel.
        """
        if not (0 <= x <= self.model_width and 0 <= y <= self.model_height):
            raise OutOfFrame(
                f"coordinate [{_fmt(x)}, {_fmt(y)}] is outside the screen; "
                f"x must be in 0..{self.model_width} and y in 0..{self.model_height}"
            )
        sx = _scale(x, self.model_width, self.screen.width)
        sy = _scale(y, self.model_height, self.screen.height)
        return sx + self.screen.origin_x, sy + self.screen.origin_y

    def to_model(self, sx: float, sy: float) -> tuple[int, int]:
        """Executor point -> model-image pixel (the inverse of `to_screen`)."""
        x, y = sx - self.screen.origin_x, sy - self.screen.origin_y
        if not (0 <= x <= self.screen.width and 0 <= y <= self.screen.height):
            raise OutOfFrame(f"screen point ({sx}, {sy}) is not on this screen")
        return _scale(x, self.screen.width, self.model_width), _scale(y, self.screen.height, self.model_height)

    def action_to_screen(self, action: Action) -> Action:
        """The same action with every coordinate mapped to the screen."""
        pts = action.points()
        if not pts:
            return action
        return action.model_copy(update={k: self.to_screen(*p) for k, p in pts.items()})

    def action_to_model(self, action: Action) -> Action:
        """The same action with every coordinate mapped from the screen to the model image."""
        pts = action.points()
        if not pts:
            return action
        return action.model_copy(update={k: self.to_model(*p) for k, p in pts.items()})


def _scale(v: float, src: int, dst: int) -> int:
    # Round half up (not banker's rounding) so mapping is monotonic and predictable.
    return min(int(v * dst / src + 0.5), dst - 1)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


__all__ = ["Frame", "OutOfFrame", "Point", "ScreenSpace", "Screenshot"]
