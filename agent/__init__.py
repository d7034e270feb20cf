"""The loop, stop rules, guard, trajectory recording and the CLI."""

from agent.callbacks import Callback
from agent.guard import Guard, Policy
from agent.loop import Agent, Result, Settle
from agent.trajectory import Trajectory, load_trajectory

__all__ = ["Agent", "Callback", "Guard", "Policy", "Result", "Settle", "Trajectory", "load_trajectory"]
