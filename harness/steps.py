"""Setup and postconfig steps, shared by native and OSWorld tasks (OSWorld's SetupController).

A step is ``{"type": T, "parameters": {...}}``. Desktop steps: launch, execute / command,
open, sleep, activate_window, close_window, download (local paths, file:// and http(s) URLs).
Native task files add ``miniwob`` (start a MiniWoB episode) and ``adb_shell`` (a command
on the phone). A task with any other step is *skipped* with the reason, before it starts.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guiagent.harness.base import CommandResult, InfraError, Sandbox, Task, TaskSkip, confine
from guiagent.harness.osworld_cache import cached_download, is_network_url

log = logging.getLogger(__name__)
CLIENT_PASSWORD = "password"  # OSWorld's DesktopEnv default (client_password="") off AWS
DEFAULT_SCREEN = (1920, 1080)  # OSWorld's default screen_size
UNTIL_ATTEMPTS = 100

DESKTOP_STEPS = ("launch", "execute", "command", "open", "sleep", "activate_window", "close_window", "download")
STEPS_BY_ENV: dict[str, tuple[str, ...]] = {
    "desktop": DESKTOP_STEPS,
    "miniwob": ("miniwob", "sleep"),
    "android": ("adb_shell", "sleep"),
}
TEXT_SUFFIXES = {"", ".txt", ".md", ".csv", ".json", ".log", ".py", ".sh", ".ini", ".cfg", ".conf", ".yaml", ".yml",
                 ".xml", ".html", ".tsv"}


def unsupported_steps(steps: list[Any], env_kind: str) -> str | None:
    """Why these steps cannot run on `env_kind` (None when they all can)."""
    allowed = STEPS_BY_ENV.get(env_kind, ())
    for i, step in enumerate(steps):
        kind = step.get("type") if isinstance(step, dict) else getattr(step, "type", None)
        if kind not in allowed:
            return f"setup step {i + 1} type {kind!r} is not supported on {env_kind}"
    return None


def run_steps(sandbox: Sandbox, steps: list[dict[str, Any]], task: Task, source: str) -> dict[str, Any]:
    """Run setup/postconfig steps in order; returns what steps report (e.g. the MiniWoB utterance)."""
    out: dict[str, Any] = {}
    base = Path(source).parent if source else Path.cwd()
    for i, step in enumerate(steps):
        kind = step.get("type")
        params = dict(step.get("parameters") or {})
        fn = _STEPS.get(kind) if isinstance(kind, str) else None
        if fn is None or kind not in STEPS_BY_ENV.get(sandbox.kind, ()):
            raise TaskSkip(f"step {i + 1} type {kind!r} is not supported on {sandbox.kind}")
        try:
            value = fn(sandbox, params, task=task, base=base)
        except TypeError as exc:
            raise TaskSkip(f"step {i + 1} ({kind}): bad parameters ({exc})") from None
        if isinstance(value, dict):
            out.update(value)
    return out


def substitute(command: Any, screen: tuple[int, int], password: str = CLIENT_PASSWORD) -> Any:
    """OSWorld's placeholders in an execute command (a string or each string of a list), in its order."""
    width, height = screen
    pairs = (("{CLIENT_PASSWORD}", password), ("{SCREEN_WIDTH_HALF}", str(width // 2)),
             ("{SCREEN_HEIGHT_HALF}", str(height // 2)), ("{SCREEN_WIDTH}", str(width)),
             ("{SCREEN_HEIGHT}", str(height)))

    def one(text: str) -> str:
        for key, value in pairs:
            text = text.replace(key, value)
        return text

    if isinstance(command, str):
        return one(command)
    return [one(str(item)) for item in command]


def _launch(sb: Sandbox, p: dict[str, Any], **_: Any) -> None:
    try:
        sb.launch(p["command"], shell=bool(p.get("shell", False)))
    except InfraError as exc:  # OSWorld's controller logs a failed launch and goes on
        log.warning("launch %r failed, continuing as OSWorld does: %s", p["command"], exc)


def _execute(sb: Sandbox, p: dict[str, Any], **_: Any) -> None:
    until = p.get("until") or {}
    command = substitute(p["command"], getattr(sb, "screen", DEFAULT_SCREEN))
    # OSWorld retries every 0.3 s until a condition holds, without bound; here at most UNTIL_ATTEMPTS times
    for _attempt in range(UNTIL_ATTEMPTS if until else 1):
        res = sb.run(command, shell=bool(p.get("shell", False)), timeout=float(p.get("timeout", 120)))
        if not until or _until_met(until, res):
            break
        time.sleep(0.3)
    for key in ("stdout", "stderr"):
        if p.get(key):  # OSWorld saves the stream to a file of this name in the task cache
            confine(sb.scratch / str(p[key]), sb.scratch, f"execute {key} file").write_text(getattr(res, key),
                                                                                          encoding="utf-8")


def _until_met(until: dict[str, Any], res: CommandResult) -> bool:
    """OSWorld's ``until``: any one of its conditions ends the retries."""
    return ("returncode" in until and res.returncode == until["returncode"]
            or "stdout" in until and str(until["stdout"]) in res.stdout
            or "stderr" in until and str(until["stderr"]) in res.stderr)


def open_problem(path: str) -> str | None:
    """Why an ``open`` step cannot open `path` on this machine, known before the task runs (None when it can)."""
    if Path(path).suffix.lower() in TEXT_SUFFIXES or shutil.which("xdg-open"):
        return None
    return f"open: no application here opens {Path(path).suffix or 'this file'} files"


def _open(sb: Sandbox, p: dict[str, Any], **_: Any) -> None:
    path = sb.host_path(p["path"])
    if not path.exists():
        raise InfraError(f"open: {p['path']} does not exist")
    if path.suffix.lower() in TEXT_SUFFIXES:
        # xdg-open has no handler on a bare Xvfb; text files open in the editor the package ships
        sb.launch([sys.executable, "-m", "guiagent.harness.suites.desktop.apps.editor", sb.task_path(path)])
        sb.window_action("activate", f"{path.name} - Editor", strict=True)
        return
    problem = open_problem(str(path))
    if problem:
        raise TaskSkip(problem)
    sb.launch(["xdg-open", sb.task_path(path)])


def _sleep(sb: Sandbox, p: dict[str, Any], **_: Any) -> None:
    time.sleep(min(float(p.get("seconds", 1)), 60.0))


def _window(sb: Sandbox, action: str, p: dict[str, Any]) -> None:
    try:
        sb.window_action(action, p["window_name"], strict=bool(p.get("strict", False)),
                         by_class=bool(p.get("by_class", False)))
    except InfraError as exc:  # OSWorld's server runs wmctrl and answers 200 whatever it found
        log.warning("%s_window %r failed, continuing as OSWorld does: %s", action, p["window_name"], exc)


def _activate(sb: Sandbox, p: dict[str, Any], **_: Any) -> None:
    _window(sb, "activate", p)


def _close(sb: Sandbox, p: dict[str, Any], **_: Any) -> None:
    _window(sb, "close", p)


def _download(sb: Sandbox, p: dict[str, Any], *, base: Path, task: Task, **_: Any) -> None:
    for f in p["files"]:
        url, path = str(f.get("url") or ""), str(f.get("path") or "")
        if not url or not path:
            raise InfraError(f"download: invalid url ({url!r}) or path ({path!r})")
        dest = sb.host_path(path)
        src = cached_download(url, path, task) if is_network_url(url) else resolve_local(url, base)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)


def source_problem(url: str) -> str | None:
    """Why `resolve_local` cannot fetch `url`, known before the task runs (None when it may).

    The one rule for sources: the loaders check every download URL and ``cloud_file`` path with it, so
    a task that needs one it cannot have is skipped before its episode, never after (see
    `harness.evaluators.needs_problem`).
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("http", "https"):  # fetched through OSWorld's cache layout (`harness.osworld_cache`)
        return None
    if parsed.scheme not in ("", "file") and len(parsed.scheme) != 1:  # a Windows drive letter parses as one
        return f"unsupported URL scheme {parsed.scheme!r} in {url}"
    return None


def resolve_local(url: str, base: Path) -> Path:
    """A local path or file:// URL inside the task file's folder (relative paths are relative to it);
    network URLs skip, and so does a source outside that folder (a task file may not read host files)."""
    problem = source_problem(url)
    if problem:
        raise TaskSkip(problem)
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("http", "https", "ftp"):
        raise TaskSkip(f"{url} is a network URL, not a local fixture")
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
    else:  # a plain path (source_problem let no other scheme through)
        path = Path(url).expanduser()
        if not path.is_absolute():
            path = base / path
    path = confine(path, base, "source")
    if not path.is_file():
        raise InfraError(f"download source {url} not found ({path})")
    return path


def _miniwob(sb: Sandbox, p: dict[str, Any], *, task: Task, **_: Any) -> dict[str, Any]:
    from guiagent.envs.browser import BrowserEnv

    if not isinstance(sb.env, BrowserEnv):  # STEPS_BY_ENV allows this step on the miniwob sandbox only
        raise TaskSkip(f"step miniwob needs the MiniWoB browser, not a {sb.kind} env")
    seed = p.get("seed", task.seed)
    return {"instruction": sb.env.load(str(p["task"]), seed)}


def _adb_shell(sb: Sandbox, p: dict[str, Any], **_: Any) -> None:
    sb.shell(str(p["command"]))


_STEPS: dict[str, Callable[..., Any]] = {
    "launch": _launch, "execute": _execute, "command": _execute, "open": _open, "sleep": _sleep,
    "activate_window": _activate, "close_window": _close, "download": _download, "miniwob": _miniwob,
    "adb_shell": _adb_shell,
}

__all__ = ["DESKTOP_STEPS", "STEPS_BY_ENV", "open_problem", "resolve_local", "run_steps", "source_problem",
           "unsupported_steps"]
