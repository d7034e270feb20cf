"""The one coordinate model: how a point in the model's answer maps to the screen.

Every observation is paired with a `Frame` that knows the captured image, the
executor's coordinate space (logical points with a HiDPI scale and a monitor origin
on desktops, physical pixels on adb), the model-image size and the coordinate space
the model answers in. That space is a per-dialect convention, declared, not coded:

- Qwen2.5-VL: absolute pixels of the *resized* image it was shown (the default:
  the coordinate space is the model image);
- Qwen3-VL: a relative grid, the resolution its prompt states (``1000x1000`` for
  computer_use, ``999x999`` for mobile_use, as the cookbooks state and rescale).

Both follow one rule: a coordinate in ``[0, W] x [0, H]`` of that space maps to the
nearest screen pixel, the far edge to the last pixel; anything outside is rejected.
All coordinate conversions in the project go through `Frame.to_screen` / `Frame.to_model`.
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


class ModelSize(tuple[int, int]):
    """(width, height) of the model image, carrying the coordinate space the model answers in.

    A plain 2-tuple to every caller (``w, h = size``); `Frame.build` also reads `coords`.
    ``coords=None``: the model answers in pixels of this image (Qwen2.5-VL).
    """

    coords: tuple[int, int] | None

    def __new__(cls, width: int, height: int, coords: tuple[int, int] | None = None) -> ModelSize:
        self = super().__new__(cls, (int(width), int(height)))
        self.coords = coords
        return self

    def __getnewargs__(self) -> tuple[int, int, tuple[int, int] | None]:
        return self[0], self[1], self.coords


class Frame(BaseModel):
    """Maps action coordinates between the model image and the executor's screen."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)  # recorded in trajectories, read back untrusted

    image_width: int = Field(gt=0, description="captured image width in physical pixels")
    image_height: int = Field(gt=0)
    screen: ScreenSpace
    model_width: int = Field(gt=0, description="width of the image the model sees")
    model_height: int = Field(gt=0)
    # Frames recorded before these fields existed are pixel frames (Qwen2.5-VL), as the default says.
    coord_width: int | None = Field(default=None, gt=0, description="width of the coordinate space the model "
                                    "answers in (a relative grid); None: pixels of the model image")
    coord_height: int | None = Field(default=None, gt=0)

    @classmethod
    def build(cls, shot: Screenshot, model_size: tuple[int, int]) -> Frame:
        """A frame for `shot` seen by the model at `model_size` = (width, height).

        A `ModelSize` with `coords` (a dialect's relative grid) sets the coordinate space.
        """
        coords = model_size.coords if isinstance(model_size, ModelSize) else None
        return cls(
            image_width=shot.image.width,
            image_height=shot.image.height,
            screen=shot.screen,
            model_width=model_size[0],
            model_height=model_size[1],
            coord_width=coords[0] if coords else None,
            coord_height=coords[1] if coords else None,
        )

    @classmethod
    def for_screen(cls, width: int, height: int, model_size: tuple[int, int]) -> Frame:
        """A frame for a `width` x `height` screenshot of a plain screen (scale 1, origin 0): `build` without one."""
        coords = model_size.coords if isinstance(model_size, ModelSize) else None
        return cls(image_width=width, image_height=height, screen=ScreenSpace(width=width, height=height),
                   model_width=model_size[0], model_height=model_size[1],
                   coord_width=coords[0] if coords else None, coord_height=coords[1] if coords else None)

    @property
    def model_size(self) -> ModelSize:
        return ModelSize(self.model_width, self.model_height, self.coords)

    @property
    def coords(self) -> tuple[int, int] | None:
        """The relative grid the model answers in, or None for model-image pixels."""
        if self.coord_width is None or self.coord_height is None:
            return None
        return self.coord_width, self.coord_height

    @property
    def coord_size(self) -> tuple[int, int]:
        """(width, height) of the space model coordinates are in: the grid, else the model image."""
        return self.coords or (self.model_width, self.model_height)

    def to_screen(self, x: float, y: float) -> tuple[int, int]:
        """Model-image pixel -> executor point (nearest pixel, monitor origin added).

        Raises `OutOfFrame` for a point outside ``[0, W] x [0, H]`` of the coordinate
        space (`coord_size`); a point on the far edge maps to the last screen pixel.
        """
        cw, ch = self.coord_size
        if not (0 <= x <= cw and 0 <= y <= ch):
            raise OutOfFrame(
                f"coordinate [{_fmt(x)}, {_fmt(y)}] is outside the screen; "
                f"x must be in 0..{cw} and y in 0..{ch}"
            )
        sx = _scale(x, cw, self.screen.width)
        sy = _scale(y, ch, self.screen.height)
        return sx + self.screen.origin_x, sy + self.screen.origin_y

    def to_model(self, sx: float, sy: float) -> tuple[int, int]:
        """Executor point -> model coordinate (the inverse of `to_screen`)."""
        x, y = sx - self.screen.origin_x, sy - self.screen.origin_y
        if not (0 <= x <= self.screen.width and 0 <= y <= self.screen.height):
            raise OutOfFrame(f"screen point ({sx}, {sy}) is not on this screen")
        cw, ch = self.coord_size
        return _scale(x, self.screen.width, cw), _scale(y, self.screen.height, ch)

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


__all__ = ["Frame", "ModelSize", "OutOfFrame", "Point", "ScreenSpace", "Screenshot"]
