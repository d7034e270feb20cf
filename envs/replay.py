"""An env that serves the screenshots of a recorded run: evaluate a model offline, test the loop.

`observe()` returns the screenshot of the current recorded step; `execute()` records
the action it was given and moves to the next step. Past the last recorded step the
last screenshot is served again.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from guiagent.envs.base import Env, EnvError
from guiagent.tools.actions import Action, action_to_dict
from guiagent.tools.frame import Screenshot, ScreenSpace
from guiagent.tools.runfiles import (
    TRAJECTORY_FILE,
    RunFileError,
    RunFileMissing,
    check_run_image,
    read_run_image,
    read_run_record,
)


class ReplayEnv(Env):
    """Recorded screens of a trajectory directory, in order."""

    name = "replay"

    def __init__(self, traj_dir: str | Path) -> None:
        # Reads only what it serves, so envs/ does not depend on agent/'s trajectory schema. The run
        # folder may come from someone else: every file it names is checked by tools.runfiles.
        self.dir = Path(traj_dir)
        file = self.dir / TRAJECTORY_FILE
        try:
            data = read_run_record(self.dir)
            space = data["meta"]["space"]
            if space not in ("computer_use", "mobile_use"):
                raise ValueError(f"meta.space {space!r} is not computer_use or mobile_use")
            self.space = space
            self.steps = [(s["screenshot"], ScreenSpace.model_validate(s["frame"]["screen"]))
                          for s in data["steps"] if s.get("screenshot") and s.get("frame")]
            for name, _ in self.steps:  # refuse a run naming files outside itself before anything starts
                with contextlib.suppress(RunFileMissing):  # absent is reported when it is served
                    check_run_image(self.dir, name)
        except RunFileMissing:
            raise EnvError(f"{file}: not found; replay: needs a run directory written by guiagent") from None
        except RunFileError as exc:
            raise EnvError(f"replay:{self.dir}: {exc}") from None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise EnvError(f"{file}: not a guiagent trajectory ({type(exc).__name__}: {_one_line(exc)})") from None
        if not self.steps:
            raise EnvError(f"{self.dir}: the trajectory has no recorded screenshots to replay")
        self.position = 0
        self.executed: list[dict] = []

    def observe(self) -> Screenshot:
        index = min(self.position, len(self.steps) - 1)
        name, screen = self.steps[index]
        try:
            image = read_run_image(self.dir, name)
        except RunFileError as exc:
            raise EnvError(f"cannot read the recorded screenshot: {exc}") from None
        return Screenshot(image=image, screen=screen, meta={"step": index + 1})

    def execute(self, action: Action) -> None:
        self.executed.append(action_to_dict(action))
        self.position += 1

    def describe(self) -> dict:
        return {"env": "replay", "source": str(self.dir), "steps": len(self.steps)}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
