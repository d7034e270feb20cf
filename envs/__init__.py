"""Environments: desktop (mss + pyautogui), Android (adbutils), and the simulated phone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from guiagent.envs.base import ActionError, Env, EnvError

if TYPE_CHECKING:
    from guiagent.tools.actions import ActionSpace


def make_env(spec: str, **options) -> Env:
    """Open the env a spec names: ``desktop[:MONITOR]``, ``android[:SERIAL]`` or ``replay:TRAJ_DIR``.

    Raises ValueError for a malformed spec and EnvError when the env cannot start.
    """
    kind, _, arg = spec.partition(":")
    if kind == "desktop":
        if arg and not arg.isdigit():
            raise ValueError(f"bad env {spec!r}: the monitor in desktop:N must be a number (1 = primary)")
        from guiagent.envs.desktop import DesktopEnv

        return DesktopEnv(monitor=int(arg) if arg else None, **options)
    if kind == "android":
        from guiagent.envs.android import AndroidEnv

        return AndroidEnv(serial=arg or None, **options)
    if kind == "replay" and arg:
        from guiagent.envs.replay import ReplayEnv

        return ReplayEnv(arg)
    raise ValueError(f"unknown env {spec!r}; use desktop[:MONITOR], android[:SERIAL] or replay:TRAJ_DIR")


def space_of(spec: str) -> ActionSpace:
    """The action space an env spec uses, without opening the env."""
    kind, _, arg = spec.partition(":")
    if kind == "desktop":
        return "computer_use"
    if kind == "android":
        return "mobile_use"
    if kind == "replay" and arg:
        from guiagent.envs.replay import ReplayEnv

        return ReplayEnv(arg).space
    raise ValueError(f"unknown env {spec!r}; use desktop[:MONITOR], android[:SERIAL] or replay:TRAJ_DIR")


__all__ = ["ActionError", "Env", "EnvError", "make_env", "space_of"]
