"""Image policy: the pixel budget and `smart_resize`, the one source of the model-image size."""

from __future__ import annotations

import functools
import importlib
import math
import sys
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The Qwen2.5-VL processor's own budget (hub preprocessor_config.json).
DEFAULT_MIN_PIXELS = 3136
DEFAULT_MAX_PIXELS = 12845056
FACTOR = 28  # Qwen2.5-VL: patch_size 14 x spatial merge 2 (Qwen3-VL: 16 x 2 = 32, its dialect passes it)
MAX_RATIO = 200


class PixelBudget(BaseModel):
    """Bounds on the model image's area; owned by the agent and handed to every backend."""

    model_config = ConfigDict(frozen=True)

    min_pixels: int = Field(default=DEFAULT_MIN_PIXELS, gt=0)
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> PixelBudget:
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels ({self.min_pixels}) must not exceed max_pixels ({self.max_pixels})")
        if self.max_pixels < FACTOR * FACTOR:
            raise ValueError(f"max_pixels must be at least {FACTOR * FACTOR}")
        return self

    def image_tokens(self, width: int, height: int, factor: int = FACTOR) -> int:
        """Vision tokens for a `width` x `height` capture: one per `factor`-square patch of the model image."""
        w, h = self.model_size(width, height, factor)
        return image_tokens(w, h, factor)

    def model_size(self, width: int, height: int, factor: int = FACTOR) -> tuple[int, int]:
        """(width, height) of the image the model sees for a `width` x `height` capture.

        `factor` is the dialect's patch size times its spatial merge (28 for Qwen2.5-VL, 32 for Qwen3-VL).
        """
        h, w = smart_resize(height, width, factor, self.min_pixels, self.max_pixels)
        return w, h


def image_tokens(model_width: int, model_height: int, factor: int = FACTOR) -> int:
    """Vision tokens of a model image already at a smart_resize size (patches merged 2x2 into one token)."""
    return model_width * model_height // (factor * factor)


def _smart_resize_reference(
    height: int, width: int, factor: int = FACTOR, min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[int, int]:
    # Equivalent of transformers' qwen2_vl smart_resize, used when it cannot be imported.
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {MAX_RATIO}, got {max(height, width) / min(height, width)}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@functools.cache
def _transformers_smart_resize() -> Callable[..., tuple[int, int]]:
    # transformers 5 without torchvision only has the PIL module; v4 has the plain one.
    for mod in (
        "transformers.models.qwen2_vl.image_processing_pil_qwen2_vl",
        "transformers.models.qwen2_vl.image_processing_qwen2_vl",
    ):
        try:
            impl: Callable[..., tuple[int, int]] = importlib.import_module(mod).smart_resize
            return impl
        except Exception:  # noqa: BLE001 - any import failure means "use ours"
            continue
    return _smart_resize_reference


def smart_resize(
    height: int, width: int, factor: int = FACTOR, min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[int, int]:
    """Qwen2.5-VL's resize rule; returns (height, width).

    transformers' own function is used once transformers is loaded (the `hf:` backend);
    importing it just for this would cost seconds, so `guiagent prompt` uses the
    equivalent reference, checked equal to it in the tests.
    """
    impl = _transformers_smart_resize() if "transformers" in sys.modules else _smart_resize_reference
    return impl(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
