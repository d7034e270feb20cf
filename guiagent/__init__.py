"""guiagent: a vision-language model (Qwen2.5-VL first) operating real desktops and Android phones.

The public API, re-exported from the role packages (`agent`, `model`, `envs`, `tools`)::

    from guiagent import Agent, load_model, make_env
    agent = Agent(load_model("hf:Qwen/Qwen2.5-VL-7B-Instruct"), make_env("desktop"), out_dir="runs/demo")
    result = agent.run("Open the text editor and type hello")
"""

from guiagent.agent import Agent, Callback, Guard, Policy, Result, Settle, Trajectory, load_trajectory
from guiagent.envs import Env, EnvError, make_env
from guiagent.model import Model, PixelBudget, load_model
from guiagent.tools import Frame, Screenshot, ScreenSpace

__all__ = [
    "Agent", "Callback", "Env", "EnvError", "Frame", "Guard", "Model", "PixelBudget", "Policy", "Result",
    "ScreenSpace", "Screenshot", "Settle", "Trajectory", "load_model", "load_trajectory", "make_env",
]
