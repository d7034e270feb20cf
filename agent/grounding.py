"""One grounding call: a screenshot and an instruction in, the model's reply and its point out.

`Agent.locate` and the offline benchmarks (`harness.offline`) share this path, so a benchmark
score measures exactly what a user's ``guiagent locate`` does: the dialect's messages, one
`Frame` for the coordinate mapping, the dialect's parser. Nothing is executed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guiagent.model.base import HistoryItem, ImagePart, ParseError, RequestContext
from guiagent.tools.frame import Frame, OutOfFrame

if TYPE_CHECKING:
    from guiagent.model.base import Completion, Model, ParsedCall
    from guiagent.tools.actions import ActionSpace
    from guiagent.tools.frame import Screenshot


@dataclass
class Prediction:
    """The model's reply to one screenshot, with the frame its coordinates are in."""

    frame: Frame
    completion: Completion
    seconds: float  # wall time of the model call
    space: ActionSpace = "computer_use"  # the tool the prompt offered, so its reply is parsed with that tool

    def calls(self, model: Model, space: ActionSpace) -> list[ParsedCall]:
        """The reply's tool calls (model-image coordinates); raises ParseError."""
        return model.dialect.parse(self.completion.text, space)


def predict(model: Model, shot: Screenshot, instruction: str, *, space: ActionSpace = "computer_use",
            history: list[HistoryItem] | None = None, env: Any = None, truth: Any = None) -> Prediction:
    """Ask the model about `shot`: the dialect's messages for `instruction` (and text history), one call."""
    frame = Frame.build(shot, model.image_size(shot.image.width, shot.image.height))
    part = ImagePart(image=shot.image, size=frame.model_size)
    past = list(history or [])
    messages = model.dialect.messages(instruction, space, part, past)
    t = time.perf_counter()
    completion = model.generate(messages, RequestContext(instruction=instruction, space=space, step=len(past) + 1,
                                                         frame=frame, env=env, truth=truth))
    return Prediction(frame=frame, completion=completion, seconds=time.perf_counter() - t, space=space)


def point_of(model: Model, prediction: Prediction, description: str) -> tuple[int, int]:
    """The screen point of the reply's first coordinate; ParseError when it has none or it is off screen."""
    for call in prediction.calls(model, prediction.space):
        point = call.action.points().get("coordinate")
        if point is not None:
            try:
                return prediction.frame.to_screen(*point)
            except OutOfFrame as exc:
                raise ParseError(str(exc)) from None
    raise ParseError(f"the model gave no coordinate for {description!r}: {prediction.completion.text[:200]!r}")


def locate(model: Model, shot: Screenshot, description: str, *, env: Any = None,
           truth: Any = None, space: ActionSpace | None = None) -> tuple[tuple[int, int], Prediction]:
    """Screen point of the element `description` names, and the prediction it came from.

    `space` is the env's own tool (`mobile_use` on a phone); by default the env's, else `computer_use`.
    Raises ParseError when the model answers without a usable coordinate.
    """
    space = space or getattr(env, "space", None) or "computer_use"
    prediction = predict(model, shot, description, space=space, env=env, truth=truth)
    return point_of(model, prediction, description), prediction


__all__ = ["Prediction", "locate", "point_of", "predict"]
