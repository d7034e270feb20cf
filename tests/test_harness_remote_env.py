"""The harness's remote desktop env (a real DesktopEnv in a child process on a real Xvfb) reports the interface
members of the env it wraps: `settles`, so the agent loop does not settle a second time over the pipe."""

from __future__ import annotations

import json

import pytest
from guiagent.agent.loop import Agent
from guiagent.harness.remote_env import RemoteEnv
from guiagent.model.scripted import ScriptedModel

DESKTOP = "guiagent.envs.desktop:DesktopEnv"


class CountingRemoteEnv(RemoteEnv):
    """The real proxy, counting the screenshots the loop asks for."""

    observes = 0

    def observe(self):  # type: ignore[no-untyped-def]
        self.observes += 1
        return super().observe()


def _click(x: int, y: int) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": {
        "action": "left_click", "coordinate": [x, y]}}) + "\n</tool_call>"


@pytest.mark.parametrize("settle", [True, False])
def test_remote_env_reports_the_wrapped_envs_settles(xvfb, settle):
    env = RemoteEnv(DESKTOP, xvfb.environ(), {"failsafe": False, "settle": settle})
    try:
        assert env.settles is settle
        assert env.alive()
    finally:
        env.close()
    assert not env.alive()


def test_the_loop_observes_once_per_step_through_a_settling_remote_env(xvfb, tmp_path):
    """Three clicks and a terminate: one capture to start and one after each click. Were `settles` dropped, the
    loop's own settle would poll at least two captures after every click (the double settle of the harness)."""
    replies = [_click(100, 100), _click(200, 200), _click(300, 300),
               '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}'
               "\n</tool_call>"]
    counts = {}
    for settle in (True, False):
        env = CountingRemoteEnv(DESKTOP, xvfb.environ(), {"failsafe": False, "settle": settle})
        try:
            result = Agent(ScriptedModel(list(replies)), env, out_dir=tmp_path / f"settle-{settle}").run("click")
        finally:
            env.close()
        assert result.status == "success" and result.steps == 4
        counts[settle] = env.observes
    assert counts[True] == 4, counts
    assert counts[False] >= 1 + 2 * 3, counts  # the control: an env that does not settle gets the loop's polling
