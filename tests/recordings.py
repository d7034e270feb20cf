"""Recorded runs for tests: plain coloured screens written by the real Recorder (ReplayEnv serves them)."""

from __future__ import annotations

from pathlib import Path

from guiagent.agent.trajectory import Recorder, RunMeta, StepRecord
from guiagent.model.image import PixelBudget
from guiagent.tools.frame import Frame, ScreenSpace
from PIL import Image


def record_screens(path: Path, colours: list[str], *, size: tuple[int, int] = (1366, 768),
                   space: str = "computer_use") -> Path:
    """A finished run at `path` whose step screenshots are these colours, in order."""
    return record_images(path, [Image.new("RGB", size, colour) for colour in colours], space=space)


def record_images(path: Path, images: list[Image.Image], *, space: str = "computer_use") -> Path:
    """A finished run at `path` whose step screenshots are these images (all of one size), in order."""
    w, h = images[0].size
    mw, mh = PixelBudget().model_size(w, h)
    meta = RunMeta(instruction="x", env="android" if space == "mobile_use" else "desktop", model="m", space=space,
                   min_pixels=3136, max_pixels=12845056, max_steps=len(images))
    rec = Recorder(path, meta)
    for i, image in enumerate(images, 1):
        frame = Frame(image_width=w, image_height=h, screen=ScreenSpace(width=w, height=h), model_width=mw,
                      model_height=mh)
        rec.add_step(StepRecord(index=i, started_at=0, frame=frame), image)
    rec.finish("success")
    return path
