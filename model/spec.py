"""Model specs (`hf:ID`, `openai:URL`, `scripted:FILE`, `replay:DIR`) -> backends.

`oracle` (ground truth for the built-in suites) is resolved by `harness/`, which owns it.
"""

from __future__ import annotations

from typing import Any

from guiagent.model.base import Model

DEFAULT_MODEL = "hf:Qwen/Qwen2.5-VL-7B-Instruct"


def load_model(spec: str, **options: Any) -> Model:
    """Build the backend a spec names. Raises ValueError with a one-line message on bad specs.

    `options` are backend settings (e.g. ``temperature``, ``served_model``); backends
    ignore the ones that do not apply to them.
    """
    scheme, _, rest = spec.partition(":")
    if scheme == "scripted" and rest:
        from guiagent.model.scripted import ScriptedModel

        return ScriptedModel.from_file(rest)
    if scheme == "replay" and rest:
        from guiagent.model.scripted import ReplayModel

        return ReplayModel.from_dir(rest)
    if scheme == "hf" and rest:
        from guiagent.model.hf import HFModel

        return HFModel(rest, **{k: v for k, v in options.items() if k in HFModel.OPTIONS})
    if scheme == "openai" and rest:
        from guiagent.model.openai import OpenAIModel

        return OpenAIModel(rest, **{k: v for k, v in options.items() if k in OpenAIModel.OPTIONS})
    raise ValueError(
        f"unknown model spec {spec!r}; use hf:PATH_OR_ID, openai:BASE_URL, scripted:FILE or replay:TRAJ_DIR"
    )
