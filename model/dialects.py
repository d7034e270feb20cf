"""Dialect names -> dialects, and the default dialect of a model (chosen once, everywhere).

An explicit ``--dialect`` wins; otherwise ``hf:`` checkpoints are recognised by their
``config.json`` ``model_type`` and ``openai:`` servers by the served model's name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guiagent.model.qwen3vl import Qwen3VL
    from guiagent.model.qwen25vl import Qwen25VL

NAMES = ("qwen2.5-vl", "qwen3-vl")
DEFAULT = "qwen2.5-vl"
# config.json model_type -> dialect (Qwen3-VL MoE checkpoints speak the same dialect).
_MODEL_TYPES = {"qwen2_5_vl": "qwen2.5-vl", "qwen2_vl": "qwen2.5-vl", "qwen3_vl": "qwen3-vl",
                "qwen3_vl_moe": "qwen3-vl"}
_SERVED = re.compile(r"qwen[-_]?3[-_.]?vl", re.I)


def get(name: str | None) -> Qwen25VL | Qwen3VL:
    """The dialect called `name` (None: the default). Raises ValueError naming the choices."""
    name = name or DEFAULT
    if name == "qwen2.5-vl":
        from guiagent.model.qwen25vl import Qwen25VL

        return Qwen25VL()
    if name == "qwen3-vl":
        from guiagent.model.qwen3vl import Qwen3VL

        return Qwen3VL()
    raise ValueError(f"unknown dialect {name!r}; use one of {', '.join(NAMES)}")


def for_model_type(model_type: str | None) -> str:
    """The dialect of a checkpoint's ``model_type`` (unknown types get the default)."""
    return _MODEL_TYPES.get(model_type or "", DEFAULT)


def for_checkpoint(folder: str | Path) -> str:
    """The dialect of a local checkpoint folder, from its config.json (default when unreadable)."""
    try:
        data = json.loads((Path(folder).expanduser() / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT
    return for_model_type(data.get("model_type") if isinstance(data, dict) else None)


def for_served_name(name: str | None) -> str:
    """The dialect of a served model name such as ``Qwen/Qwen3-VL-8B-Instruct`` or ``qwen3-vl-plus``."""
    return "qwen3-vl" if name and _SERVED.search(name) else DEFAULT


__all__ = ["DEFAULT", "NAMES", "for_checkpoint", "for_model_type", "for_served_name", "get"]
