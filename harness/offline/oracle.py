"""The ground-truth model of the offline suites: it answers from the sample's answer key.

The key arrives in `RequestContext.truth` (the runner passes it only to this model): a box
(``{"bbox": [x1, y1, x2, y2]}``, screen pixels) is answered with a click on its centre, a gold
action (``{"action": {...}}``, a tool action in screen pixels) with that action. The answer is
mapped to model coordinates with the request's Frame and written with the dialect's
`format_call`, so it goes back through the same parser and Frame as a real reply and the whole
path is exercised: with the oracle every suite must score 100 %.
"""

from __future__ import annotations

from typing import cast

from guiagent.model.base import Completion, Message, Model, ModelError, RequestContext
from guiagent.tools.actions import Action, ActionSpace, LeftClick, action_from_dict

ORACLE_SPEC = "oracle"


class OfflineOracle(Model):
    """Stateless, so any number of workers share it."""

    name = "oracle"
    spec = ORACLE_SPEC

    def generate(self, messages: list[Message], context: RequestContext | None = None) -> Completion:
        if context is None or context.frame is None or not isinstance(context.truth, dict):
            raise ModelError("the offline oracle needs the sample's ground truth (run it through `guiagent bench`)")
        # render the prompt as a real backend would: the chat template must accept it
        self.dialect.render(messages)
        truth = context.truth
        space = cast("ActionSpace", context.space)
        action: Action
        if "bbox" in truth:
            x1, y1, x2, y2 = truth["bbox"]
            action = LeftClick(coordinate=((x1 + x2) / 2, (y1 + y2) / 2))
        else:
            action = action_from_dict(space, truth["action"])
        return Completion(text=self.dialect.format_call(space, context.frame.action_to_model(action)))


__all__ = ["ORACLE_SPEC", "OfflineOracle"]
