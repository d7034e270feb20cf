"""The system packages guiagent's parts use, and how to tell whether each is installed.

One source of truth: `guiagent demo` names the missing ones, `guiagent doctor` checks tkinter with it, and a
test holds the README's apt line and `.ci/run` to this list.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from pydantic import BaseModel


class SystemPart(BaseModel):
    """One system program or library and the Debian/Ubuntu package that provides it."""

    name: str  # what the user sees in a message
    apt: str  # the Debian/Ubuntu package
    used_by: str
    executable: str | None = None  # found on PATH
    module: str | None = None  # a Python module that must import (tkinter lives outside the venv)
    file: str | None = None  # a file the package installs

    def present(self) -> bool:
        """Whether this part is installed on this machine."""
        if self.executable is not None and shutil.which(self.executable) is None:
            return False
        if self.file is not None and not Path(self.file).is_file():
            return False
        if self.module is not None:
            try:
                return importlib.util.find_spec(self.module) is not None
            except (ImportError, ValueError):
                return False
        return True


PARTS: tuple[SystemPart, ...] = (
    SystemPart(name="Xvfb", apt="xvfb", used_by="headless desktops (tests, bench, demo)", executable="Xvfb"),
    SystemPart(name="xdotool", apt="xdotool", used_by="desktop input and window focus", executable="xdotool"),
    SystemPart(name="xclip", apt="xclip", used_by="typing non-ASCII text on the desktop", executable="xclip"),
    SystemPart(name="xdpyinfo", apt="x11-utils", used_by="display checks", executable="xdpyinfo"),
    SystemPart(name="adb", apt="adb", used_by="Android phones and the simulated phone", executable="adb"),
    SystemPart(name="chromium", apt="chromium", used_by="the MiniWoB suite", executable="chromium"),
    SystemPart(name="chromedriver", apt="chromium-driver", used_by="the MiniWoB suite", executable="chromedriver"),
    SystemPart(name="bwrap", apt="bubblewrap", used_by="task files' commands (isolated)", executable="bwrap"),
    SystemPart(name="DejaVu fonts", apt="fonts-dejavu-core", used_by="the simulated phone's and apps' text",
               file="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    SystemPart(name="tkinter", apt="python3-tk", used_by="the desktop suite's and tests' apps", module="_tkinter"),
    SystemPart(name="scrot", apt="scrot", used_by="the benchmarks' peer baselines (pyautogui.screenshot)",
               executable="scrot"),
    SystemPart(name="tmux", apt="tmux", used_by="the tests' real-terminal check of `guiagent run`'s live line",
               executable="tmux"),
)


def part(name: str) -> SystemPart:
    """The part called `name` (KeyError when there is none)."""
    for p in PARTS:
        if p.name == name:
            return p
    raise KeyError(name)


def missing(names: list[str]) -> list[SystemPart]:
    """The parts among `names` that are not installed."""
    return [p for p in map(part, names) if not p.present()]


def install_hint(parts: list[SystemPart]) -> str:
    """`sudo apt-get install xvfb adb` for these parts (each package once, in order)."""
    return "sudo apt-get install " + " ".join(dict.fromkeys(p.apt for p in parts))


def apt_packages() -> list[str]:
    """Every package guiagent's parts and tests use: the README's apt line and `.ci/run` install these."""
    return list(dict.fromkeys(p.apt for p in PARTS))


__all__ = ["PARTS", "SystemPart", "apt_packages", "install_hint", "missing", "part"]
