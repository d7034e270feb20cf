"""An env that serves the screenshots of a recorded run: evaluate a model offline, test the loop.

`observe()` returns the screenshot of the current recorded step; `execute()` records
the action it was given and moves to the next step. Past the last recorded step the
last screenshot is served again.
"""

from __future__ import annotations

import json
from pathlib import Path

from guiagent.envs.base import Env, EnvError
from guiagent.tools.actions import Action, action_to_dict
from guiagent.tools.frame import Screenshot, ScreenSpace
from PIL import Image


class ReplayEnv(Env):
    """Recorded screens of a trajectory directory, in order."""

    name = "replay"

    def __init__(self, traj_dir: str | Path) -> None:
        # Reads only what it serves, so envs/ does not depend on agent/'s trajectory schema.
        self.dir = Path(traj_dir)
        file = self.dir / "trajectory.json"
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            self.space = data["meta"]["space"]
            self.steps = [(s["screenshot"], ScreenSpace.model_validate(s["frame"]["screen"]))
                          for s in data["steps"] if s.get("screenshot") and s.get("frame")]
        except FileNotFoundError:
            raise EnvError(f"{file}: not found; replay: needs a run directory written by guiagent") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EnvError(f"{file}: not a guiagent trajectory ({exc})") from None
        if not self.steps:
            raise EnvError(f"{self.dir}: the trajectory has no recorded screenshots to replay")
        self.position = 0
        self.executed: list[dict] = []

    def observe(self) -> Screenshot:
        index = min(self.position, len(self.steps) - 1)
        name, screen = self.steps[index]
        path = self.dir / name
        try:
            with Image.open(path) as im:
                image = im.convert("RGB")
        except OSError as exc:
            raise EnvError(f"{path}: cannot read the recorded screenshot ({exc})") from None
        return Screenshot(image=image, screen=screen, meta={"step": index + 1})

    def execute(self, action: Action) -> None:
        self.executed.append(action_to_dict(action))
        self.position += 1

    def describe(self) -> dict:
        return {"env": "replay", "source": str(self.dir), "steps": len(self.steps)}
