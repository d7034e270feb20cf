"""Task commands run inside bubblewrap, not on the host as the user.

A task file is untrusted input: its setup steps (`execute`, `command`, `launch`, `open`) and getters
(`vm_command_line`) are shell commands. Each runs in a fresh bubblewrap sandbox:

- the task's home folder (on the host: the sandbox's per-task folder) is the only writable place
  besides a private /tmp, and it is mounted at OSWorld's ``/home/user``, so task paths need no rewriting;
- the rest of the file system is not there at all except, read-only, what programs need to run: /usr
  (and the /bin, /lib… links), /etc with everything that is not world-readable masked, the Python
  installation, its site-packages and guiagent's own package folders;
- no network (a new network namespace), no view of host processes (a new PID namespace), a new
  user namespace with every capability dropped, so `sudo` inside a task reaches nothing on the host;
- the task's X display is bound in (its socket only) so its apps draw on the task's Xvfb;
- the environment is cleared to what the task needs: no API key or token of the user leaks in;
- the sandbox dies with the harness (``--die-with-parent``), and everything in it with the sandbox.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

TASK_HOME = "/home/user"  # OSWorld's VM user home, where task files put their files
BWRAP_INSTALL_HINT = "apt install bubblewrap"
INSIDE_UID = 1000
# Variables a task's programs may see; everything else (API keys, tokens, the user's paths) stays out.
# PYTHONPATH: guiagent itself may be installed there (`pip install --target`); the shipped apps import it, and
# its folders are in sys.path, so `_python_paths` binds them read-only.
PASSED_VARS = ("DISPLAY", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "TERM", "TZ", "XDG_SESSION_TYPE")


def home_relative(path: str) -> str | None:
    """A task path relative to the task's home (``/home/user/a``, ``~/a``, ``$HOME/a``, ``a`` -> ``a``), as
    OSWorld's VM expands them; None for any other absolute path. ``..`` is left for `confine` to judge."""
    for prefix in (TASK_HOME, "~", "$HOME", "${HOME}"):
        if path == prefix or path.startswith(prefix + "/"):
            return path[len(prefix):].lstrip("/")
    return None if path.startswith(("/", "~")) else path


@functools.cache
def bwrap_path() -> str | None:
    """The bubblewrap binary when it is installed and can create its namespaces here, else None."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    try:
        ok = subprocess.run([exe, "--ro-bind", "/usr", "/usr", *_usr_links(), "--unshare-all", "--unshare-user",
                             "--die-with-parent", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return exe if ok else None


def unavailable_reason() -> str:
    """Why task commands cannot be isolated here (for skip reasons)."""
    if shutil.which("bwrap") is None:
        return f"bubblewrap is not installed ({BWRAP_INSTALL_HINT}); pass --unsafe-host to run task commands on the host"
    return "bubblewrap cannot create namespaces here; pass --unsafe-host to run task commands on the host"


def _usr_links() -> list[str]:
    """/bin, /lib … as on the host: links into /usr (merged /usr) or read-only binds."""
    out: list[str] = []
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            out += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            out += ["--ro-bind", name, name]
    return out


@functools.cache
def _etc_masks() -> tuple[str, ...]:
    """Mount options hiding what in /etc only its owner may read (shadow files, private keys)."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk("/etc"):
        for name in list(dirnames) + filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode) or st.st_mode & stat.S_IROTH:
                continue
            if stat.S_ISDIR(st.st_mode):
                out += ["--tmpfs", path]
                dirnames.remove(name)
            elif stat.S_ISREG(st.st_mode):
                out += ["--ro-bind", os.devnull, path]
    return tuple(out)


def _python_paths() -> list[str]:
    """Folders the task's Python (and guiagent's shipped apps) are loaded from, outermost first."""
    roots: set[str] = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    roots |= {p for p in sys.path if p and os.path.isdir(p)}
    for name in ("agent", "envs", "tools", "model", "harness"):  # editable installs map these elsewhere
        module = sys.modules.get(f"guiagent.{name}")
        roots |= set(getattr(module, "__path__", []))
    roots |= set(sys.modules["guiagent"].__path__)  # the package root, imported before any of its parts
    real = sorted({os.path.realpath(r) for r in roots} | roots)
    # a folder inside another bound folder is already there
    return [r for r in real if not any(r != o and r.startswith(o.rstrip("/") + "/") for o in real)]


def _display_socket(display: str | None) -> str | None:
    m = re.fullmatch(r":(\d+)(\.\d+)?", display or "")
    if not m:
        return None
    path = f"/tmp/.X11-unix/X{m.group(1)}"
    return path if os.path.exists(path) else None


def wrap(argv: list[str], *, home: Path, env: dict[str, str], extra_ro: Iterable[str] = ()) -> list[str]:
    """`argv` as a bubblewrap command line: run in the task's sandbox with `home` at /home/user.

    `env` is the environment the caller would have given the command; only `PASSED_VARS` and the
    ``GUIAGENT_*`` variables of it go in, with HOME, PATH and an empty Xauthority set for the inside.
    """
    exe = bwrap_path()
    if exe is None:
        raise RuntimeError(unavailable_reason())
    ro = [*_python_paths(), *extra_ro]
    args = [exe, "--unshare-all", "--unshare-user", "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID),
            "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr", *_usr_links(), "--ro-bind", "/etc", "/etc", *_etc_masks(),
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs", "/home"]
    for path in ro:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    args += ["--bind", str(home), TASK_HOME]
    socket = _display_socket(env.get("DISPLAY"))
    if socket:
        args += ["--ro-bind", socket, socket]
    args += ["--remount-ro", "/"]  # the mount points bwrap made for the binds above stay unwritable
    args += ["--clearenv", "--chdir", TASK_HOME, "--setenv", "HOME", TASK_HOME, "--setenv", "USER", "user",
             "--setenv", "XAUTHORITY", os.devnull,
             "--setenv", "PATH", f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin"]
    for key, value in env.items():
        if key in PASSED_VARS or key.startswith("GUIAGENT_"):
            args += ["--setenv", key, value]
    return [*args, "--", *argv]


__all__ = ["BWRAP_INSTALL_HINT", "TASK_HOME", "bwrap_path", "home_relative", "unavailable_reason", "wrap"]
