"""Model-agnostic action spaces and the coordinate model (`Frame`)."""

from guiagent.tools.actions import Action, ActionSpace, action_from_dict, action_to_dict
from guiagent.tools.frame import Frame, OutOfFrame, Screenshot, ScreenSpace

__all__ = [
    "Action", "ActionSpace", "Frame", "OutOfFrame", "ScreenSpace", "Screenshot", "action_from_dict", "action_to_dict",
]
