"""The MiniWoB sandbox: a worker's own headless Chromium (`envs.browser.BrowserEnv`)."""

from __future__ import annotations

from pathlib import Path

from guiagent.envs.browser import BrowserEnv
from guiagent.harness.base import InfraError, Sandbox


class BrowserSandbox(Sandbox):
    """Its env is the page itself: the `miniwob` step (`env.load`) and the `miniwob_reward` metric use it."""

    kind = "miniwob"
    env: BrowserEnv
    env_spec = "miniwob"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        from guiagent.envs.base import EnvError

        try:
            self.env = BrowserEnv()
        except EnvError as exc:
            raise InfraError(str(exc)) from None

    def alive(self) -> bool:
        return self.env.alive()


__all__ = ["BrowserSandbox"]
