"""The whole prompt of a recorded step, rebuilt from the record.

A step stores only what was new in its prompt (``prompt.new_calls``: the calls the history
gained since the previous step, and ``prompt.feedback``), so a 1,000-step run does not store
its growing history 1,000 times. Everything else the prompt was built from is in the
record already: the instruction, action space, history policy and answer flag (``meta``),
each earlier step's reply (``raw_text``) and screenshot, and the step's own Frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from guiagent.model.base import HistoryItem, ImagePart, parse_policy
from guiagent.tools.runfiles import read_run_image

if TYPE_CHECKING:
    from guiagent.agent.trajectory import StepRecord, Trajectory
    from guiagent.model.base import Dialect, Message


def history_calls(step: StepRecord) -> list[str]:
    """The calls the history gained just before `step` (schema 1 records did not store them: empty)."""
    calls = step.prompt.get("new_calls", [])
    return [c for c in calls if isinstance(c, str)] if isinstance(calls, list) else []


def step_messages(traj: Trajectory, index: int, run_dir: str | Path | None = None, *,
                  dialect: Dialect | None = None) -> list[Message]:
    """The messages the model received at step `index` (1-based) of a schema-2 run.

    Screenshots are read from `run_dir` (the run folder) when the step's prompt held them;
    without a folder each image part keeps its size and no pixels (enough for text and
    `Dialect.render`). Raises ValueError for a step that is not in the record.
    """
    if not 1 <= index <= len(traj.steps):
        raise ValueError(f"step {index} is not in the trajectory ({len(traj.steps)} steps)")
    if dialect is None:
        from guiagent.model.qwen25vl import Qwen25VL

        dialect = Qwen25VL()
    steps = traj.steps
    keep = parse_policy(traj.meta.history)

    def image(step: StepRecord) -> ImagePart:
        if step.frame is None:
            raise ValueError(f"step {step.index} has no frame: its prompt cannot be rebuilt")
        pixels = read_run_image(run_dir, step.screenshot) if run_dir is not None and step.screenshot else None
        return ImagePart(image=pixels, size=step.frame.model_size)

    history: list[HistoryItem] = []
    for j, earlier in enumerate(steps[: index - 1]):
        with_image = keep > 0 and j >= index - 1 - keep
        history.append(HistoryItem(calls=history_calls(steps[j + 1]), reply=earlier.raw_text or "",
                                   image=image(earlier) if with_image else None))
    step = steps[index - 1]
    feedback = [f for f in step.prompt.get("feedback", []) if isinstance(f, str)]
    return dialect.messages(traj.meta.instruction, traj.meta.space, image(step), history,
                            policy=traj.meta.history, feedback=feedback, answer=traj.meta.answer)


def user_text(traj: Trajectory, index: int) -> str:
    """The text of the last user turn of step `index`: schema 1 stored it, schema 2 rebuilds it."""
    stored = traj.steps[index - 1].prompt.get("user_text")
    if isinstance(stored, str):
        return stored
    return step_messages(traj, index)[-1].text()


__all__ = ["history_calls", "step_messages", "user_text"]
