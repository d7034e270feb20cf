"""The loop, stop rules, guard, trajectory recording and the CLI."""

from guiagent.agent.callbacks import Callback
from guiagent.agent.guard import Guard, Policy
from guiagent.agent.loop import Agent, Settle
from guiagent.agent.trajectory import Result, Trajectory, load_trajectory

__all__ = ["Agent", "Callback", "Guard", "Policy", "Result", "Settle", "Trajectory", "load_trajectory"]
