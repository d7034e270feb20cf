"""Model backends behind one interface, and model-family dialects (Qwen2.5-VL first)."""

from guiagent.model.base import (
    Completion,
    Dialect,
    HistoryItem,
    Message,
    Model,
    ModelError,
    ParsedCall,
    ParseError,
)
from guiagent.model.image import PixelBudget, smart_resize
from guiagent.model.spec import DEFAULT_MODEL, load_model

__all__ = [
    "DEFAULT_MODEL", "Completion", "Dialect", "HistoryItem", "Message", "Model", "ModelError", "ParseError",
    "ParsedCall", "PixelBudget", "load_model", "smart_resize",
]
