"""Ground-truth plans: the oracle's next action for a task that lists its solution step by step.

Native and OSWorld task files carry the plan as data (``oracle:`` / ``guiagent_oracle``);
AndroidWorld-style classes return entries from ``oracle_plan()`` or ``oracle_action()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guiagent.harness.base import Sandbox
from guiagent.tools.actions import action_from_dict

if TYPE_CHECKING:
    from guiagent.tools.actions import Action


def plan_action(plan: list[dict[str, Any]], sandbox: Sandbox, step: int, params: dict[str, Any]) -> Action | None:
    """Step `step` (1-based) of a ground-truth plan; None after the last entry.

    An entry is an action of the env's tool in screen coordinates, e.g.
    ``{"action": "type", "text": "{name}"}`` (``{...}`` filled from the task params),
    with ``"target": {...}`` instead of a coordinate to place it on a widget the
    sandbox can locate (desktop: ``{"app", "widget"}``; phone: ``{"text"}`` / ``{"id"}``).
    """
    if step > len(plan):
        return None
    entry = dict(plan[step - 1])
    target = entry.pop("target", None)
    target2 = entry.pop("target2", None)
    if target is not None:
        entry["coordinate"] = list(sandbox.locate(_fill(target, params)))
    if target2 is not None:
        entry["coordinate2"] = list(sandbox.locate(_fill(target2, params)))
    return action_from_dict(sandbox.env.space, _fill(entry, params))


def _fill(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, str) and params and "{" in value:
        return value.format(**params)
    if isinstance(value, dict):
        return {k: _fill(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, params) for v in value]
    return value


__all__ = ["plan_action"]
