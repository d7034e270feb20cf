"""guiagent: a vision-language model (Qwen2.5-VL first) operating real desktops and Android phones.

The public API, re-exported from the role packages (`agent`, `model`, `envs`, `tools`)::

    from guiagent import Agent, load_model, make_env
    agent = Agent(load_model("hf:Qwen/Qwen2.5-VL-7B-Instruct"), make_env("desktop"), out_dir="runs/demo")
    result = agent.run("Open the text editor and type hello")
"""

from importlib import metadata as _metadata

from guiagent.agent import Agent, Callback, Guard, Policy, Result, Settle, Trajectory, load_trajectory
from guiagent.envs import Env, EnvError, make_env
from guiagent.model import Model, ModelError, ParseError, PixelBudget, load_model
from guiagent.tools import Frame, Screenshot, ScreenSpace

try:
    __version__ = _metadata.version("guiagent")  # pyproject.toml's version, as installed
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Agent", "Callback", "Env", "EnvError", "Frame", "Guard", "Model", "ModelError", "ParseError", "PixelBudget",
    "Policy", "Result",
    "ScreenSpace", "Screenshot", "Settle", "Trajectory", "load_model", "load_trajectory", "make_env",
]
