"""Model specs (`hf:ID`, `openai:URL`, `scripted:FILE`, `replay:DIR`) -> backends.

`oracle` (ground truth for the built-in suites) is resolved by `harness/`, which owns it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guiagent.model.base import Model
from guiagent.model.catalog import DEFAULT_HUB_ID

if TYPE_CHECKING:
    from guiagent.tools.checks import CheckResult

DEFAULT_MODEL = f"hf:{DEFAULT_HUB_ID}"


def load_model(spec: str, **options: Any) -> Model:
    """Build the backend a spec names. Raises ValueError with a one-line message on bad specs.

    `options` are backend settings (e.g. ``temperature``, ``served_model``); backends
    ignore the ones that do not apply to them. ``dialect`` (``qwen2.5-vl`` | ``qwen3-vl``) wins over
    the backend's own default (an ``hf:`` checkpoint's model_type, an ``openai:`` served name, a
    ``replay:`` run's recorded dialect).
    """
    from guiagent.model import dialects

    dialect = options.pop("dialect", None)
    if dialect is not None:
        dialects.get(dialect)  # ValueError naming the choices, before anything loads
    scheme, _, rest = spec.partition(":")
    if scheme == "scripted" and rest:
        from guiagent.model.scripted import ScriptedModel

        return ScriptedModel.from_file(rest, dialect=dialect)
    if scheme == "replay" and rest:
        from guiagent.model.scripted import ReplayModel

        return ReplayModel.from_dir(rest, dialect=dialect)
    if scheme == "hf" and rest:
        from guiagent.model.hf import HFModel

        return HFModel(rest, dialect=dialect, **{k: v for k, v in options.items() if k in HFModel.OPTIONS})
    if scheme == "openai" and rest:
        from guiagent.model.openai import OpenAIModel

        return OpenAIModel(rest, dialect=dialect, **{k: v for k, v in options.items() if k in OpenAIModel.OPTIONS})
    raise ValueError(
        f"unknown model spec {spec!r}; use hf:PATH_OR_ID, openai:BASE_URL, scripted:FILE or replay:TRAJ_DIR"
    )


def probe(spec: str | None = None) -> list[CheckResult]:
    """Check a model spec without loading weights (`guiagent doctor`): an ``hf:`` checkpoint's files and config,
    an ``openai:`` endpoint, or that a ``scripted:``/``replay:`` file loads. No spec checks `DEFAULT_MODEL`, whose
    absence only warns."""
    spec_ = spec or DEFAULT_MODEL
    scheme, _, rest = spec_.partition(":")
    if scheme == "hf":
        from guiagent.model import hf

        return hf.probe(rest, required=spec is not None)
    if scheme == "openai":
        from guiagent.model import openai

        return openai.probe(rest)
    from guiagent.tools.checks import MODEL, first_line, results_for

    r = results_for(MODEL)
    try:
        model = load_model(spec_)
    except (ValueError, OSError) as exc:
        return [r("model", "FAIL", first_line(exc), "fix the path")]
    from guiagent.model.scripted import ScriptedModel

    replies = len(model.replies) if isinstance(model, ScriptedModel) else 0  # replay: is a ScriptedModel too
    return [r("model", "OK", f"{spec_}: {replies} scripted replies")]
