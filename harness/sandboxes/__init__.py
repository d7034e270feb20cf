"""What a harness worker owns for one env kind: the env plus the side channels tasks need.

A worker opens one sandbox per env kind, lazily, and reuses it across tasks (the base
class and its side channels are `harness.base.Sandbox`):

- `BrowserSandbox` ("miniwob", `.browser`): its own headless Chromium (`envs.browser.BrowserEnv`).
- `DesktopSandbox` ("desktop", `.desktop`): its own Xvfb, a `DesktopEnv` on it in a child
  process (`harness.remote_env`), and a fresh home folder per task for the files and apps the
  task's setup steps create, mounted at OSWorld's ``/home/user`` for the task's commands, which run
  in bubblewrap (`harness.isolation`).
- `AndroidSandbox` ("android", `.android`): its own simulated phone on a free port, reached
  through the real adb server (``adb connect``), driven by `envs.android.AndroidEnv`; or a
  device the user names (then one worker).

Setup steps, getters and the oracle use the sandbox's side channels (`run`, `launch`,
`shell`, `locate`); a step a sandbox cannot do raises `TaskSkip`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guiagent.harness.base import InfraError, Sandbox


def open_sandbox(kind: str, root: Path, options: dict[str, Any] | None = None) -> Sandbox:
    """A new sandbox of `kind` under `root`; InfraError when its env does not start.

    Each kind is imported when first opened, so a MiniWoB-only run never loads the desktop's modules."""
    options = options or {}
    if kind == "miniwob":
        from guiagent.harness.sandboxes.browser import BrowserSandbox

        return BrowserSandbox(root)
    if kind == "desktop":
        from guiagent.harness.sandboxes.desktop import DesktopSandbox

        return DesktopSandbox(root, unsafe_host=bool(options.get("unsafe_host")))
    if kind == "android":
        from guiagent.harness.sandboxes.android import AndroidSandbox

        return AndroidSandbox(root, serial=options.get("serial"))
    raise InfraError(f"unknown env kind {kind!r}")


__all__ = ["open_sandbox"]
