"""Model-agnostic action spaces and the coordinate model (`Frame`)."""

from tools.actions import Action, ActionSpace, action_from_dict, action_to_dict
from tools.frame import Frame, OutOfFrame, Screenshot, ScreenSpace

__all__ = [
    "Action", "ActionSpace", "Frame", "OutOfFrame", "ScreenSpace", "Screenshot", "action_from_dict", "action_to_dict",
]
