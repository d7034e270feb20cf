"""OSWorld task JSON, loaded as is, and the setup/postconfig steps (OSWorld's SetupController).

A task file (``evaluation_examples/examples/<domain>/<uuid>.json``) has ``id``,
``instruction``, ``config`` (setup steps), ``evaluator`` and more keys this loader
keeps but does not need (``snapshot``, ``source``, ``related_apps``, ``proxy``, ...).
It runs on the local desktop sandbox: an Xvfb display of this machine, not a VM, so
OSWorld's ``/home/user`` paths map into a fresh per-task home folder.

Supported step types: launch, execute / command, open, sleep, activate_window,
close_window, download (local paths and file:// URLs). Native task files add
``miniwob`` (start a MiniWoB episode) and ``adb_shell`` (a command on the phone).
Anything else makes the task *skipped* with the reason, before it starts.
"""

from __future__ import annotations

import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.harness.tasks import (
    InfraError,
    Outcome,
    SuiteConfig,
    Task,
    TaskFileError,
    TaskSkip,
    domain_of,
    safe_id,
)

if TYPE_CHECKING:
    from guiagent.agent.loop import Result
    from guiagent.harness.sandbox import BrowserSandbox, Sandbox
    from guiagent.tools.actions import Action

DEFAULT_MAX_STEPS = 15  # OSWorld run.py --max_steps
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


class OSWorldTask(Task):
    """An OSWorld task JSON on the desktop sandbox."""

    def __init__(self, data: dict, source: str, domain: str) -> None:
        self.data = data
        self.source = source
        self.id = safe_id(str(data["id"]))
        self.name = self.id
        self.domain = domain
        self.tags = [domain, *[str(a) for a in data.get("related_apps") or []]]
        self.env_kind = "desktop"
        self.max_steps = DEFAULT_MAX_STEPS
        self.instruction = str(data["instruction"])
        self.config = list(data.get("config") or [])
        self.evaluator = dict(data["evaluator"])
        self.oracle_plan = data.get("guiagent_oracle")  # our extension: the oracle's ground truth
        from guiagent.harness.evaluators import unsupported_evaluator

        self.skip_reason = unsupported_steps(self.config, "desktop") or unsupported_evaluator(self.evaluator, "desktop")

    def setup(self, sandbox: Sandbox) -> str:
        run_steps(sandbox, self.config, self, self.source)
        return self.instruction

    def evaluate(self, sandbox: Sandbox, result: Result) -> Outcome:
        from guiagent.harness.evaluators import evaluate

        return evaluate(sandbox, self.evaluator, result, self)

    def teardown(self, sandbox: Sandbox) -> None:
        sandbox.cleanup()

    @property
    def has_oracle(self) -> bool:
        return self.oracle_plan is not None

    def oracle_action(self, sandbox: Sandbox, step: int) -> Action | None:
        if self.oracle_plan is None:
            return super().oracle_action(sandbox, step)
        from guiagent.harness.oracle import plan_action

        return plan_action(self.oracle_plan, sandbox, step, {})


def load_osworld_task(data: dict, file: Path, root: Path, config: SuiteConfig) -> OSWorldTask:
    """Validate the keys the harness needs; everything else is kept as is."""
    for key, kind in (("id", (str, int)), ("instruction", str), ("evaluator", dict)):
        if key not in data:
            raise TaskFileError(f"{file}: field {key}: missing (an OSWorld task needs id, instruction, evaluator)")
        if not isinstance(data[key], kind):
            raise TaskFileError(f"{file}: field {key}: expected {getattr(kind, '__name__', 'a string')}")
    config_steps = data.get("config") or []
    if not isinstance(config_steps, list):
        raise TaskFileError(f"{file}: field config: expected a list of steps")
    for i, step in enumerate(config_steps + list(data["evaluator"].get("postconfig") or [])):
        if not isinstance(step, dict) or not isinstance(step.get("type"), str):
            raise TaskFileError(f"{file}: field config.{i}: expected {{\"type\": ..., \"parameters\": {{...}}}}")
        if not isinstance(step.get("parameters", {}), dict):
            raise TaskFileError(f"{file}: field config.{i}.parameters: expected a mapping")
    if "func" not in data["evaluator"]:
        raise TaskFileError(f"{file}: field evaluator.func: missing")
    domain = config.domain or domain_of(file, root) or str(data.get("snapshot") or config.name)
    task = OSWorldTask(data, str(file), domain)
    if config.max_steps:
        task.max_steps = config.max_steps
    return task


# ---------------------------------------------------------------------- steps


def run_steps(sandbox: Sandbox, steps: list[dict], task: Task, source: str) -> dict:
    """Run setup/postconfig steps in order; returns what steps report (e.g. the MiniWoB utterance)."""
    out: dict = {}
    base = Path(source).parent if source else Path.cwd()
    for i, step in enumerate(steps):
        kind = step.get("type")
        params = dict(step.get("parameters") or {})
        fn = _STEPS.get(kind or "")
        if fn is None or kind not in STEPS_BY_ENV.get(sandbox.kind, ()):
            raise TaskSkip(f"step {i + 1} type {kind!r} is not supported on {sandbox.kind}")
        try:
            value = fn(sandbox, params, task=task, base=base)
        except TypeError as exc:
            raise TaskSkip(f"step {i + 1} ({kind}): bad parameters ({exc})") from None
        if isinstance(value, dict):
            out.update(value)
    return out


def _launch(sb: Sandbox, p: dict, **_: Any) -> None:
    sb.launch(p["command"], shell=bool(p.get("shell", False)))


def _execute(sb: Sandbox, p: dict, **_: Any) -> None:
    until = p.get("until") or {}
    for _attempt in range(10 if until else 1):
        res = sb.run(p["command"], shell=bool(p.get("shell", False)), timeout=float(p.get("timeout", 120)))
        if not until or _until_met(until, res):
            break
        time.sleep(1)
    for key in ("stdout", "stderr"):
        if p.get(key):  # OSWorld saves the stream to a file of this name in the task cache
            (sb.scratch / str(p[key])).write_text(getattr(res, key), encoding="utf-8")


def _until_met(until: dict, res: Any) -> bool:
    if "returncode" in until and res.returncode != until["returncode"]:
        return False
    if "stdout" in until and str(until["stdout"]) not in res.stdout:
        return False
    return not ("stderr" in until and str(until["stderr"]) not in res.stderr)


def _open(sb: Sandbox, p: dict, **_: Any) -> None:
    path = sb.host_path(p["path"])
    if not path.exists():
        raise InfraError(f"open: {p['path']} does not exist")
    if path.suffix.lower() in TEXT_SUFFIXES:
        # xdg-open has no handler on a bare Xvfb; text files open in the editor the package ships
        sb.launch([_python(), "-m", "guiagent.harness.suites.desktop.apps.editor", str(path)])
        sb.window_action("activate", f"{path.name} - Editor", strict=True)
        return
    if shutil.which("xdg-open"):
        sb.launch(["xdg-open", str(path)])
        return
    raise TaskSkip(f"open: no application here opens {path.suffix or 'this file'} files")


def _sleep(sb: Sandbox, p: dict, **_: Any) -> None:
    time.sleep(min(float(p.get("seconds", 1)), 60.0))


def _activate(sb: Sandbox, p: dict, **_: Any) -> None:
    sb.window_action("activate", p["window_name"], strict=bool(p.get("strict", False)),
                     by_class=bool(p.get("by_class", False)))


def _close(sb: Sandbox, p: dict, **_: Any) -> None:
    sb.window_action("close", p["window_name"], strict=bool(p.get("strict", False)),
                     by_class=bool(p.get("by_class", False)))


def _download(sb: Sandbox, p: dict, *, base: Path, **_: Any) -> None:
    for f in p["files"]:
        src = resolve_local(str(f["url"]), base)
        dest = sb.host_path(f["path"])
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)


def resolve_local(url: str, base: Path) -> Path:
    """A local path or file:// URL (relative paths are relative to the task file); network URLs skip."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("http", "https", "ftp"):
        raise TaskSkip(f"download from the network is not supported here ({url}); use a local path or file:// URL")
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
    elif parsed.scheme in ("",) or len(parsed.scheme) == 1:  # a Windows drive letter parses as a scheme
        path = Path(url).expanduser()
        if not path.is_absolute():
            path = base / path
    else:
        raise TaskSkip(f"unsupported URL scheme {parsed.scheme!r} in {url}")
    if not path.is_file():
        raise InfraError(f"download source {url} not found ({path})")
    return path


def _miniwob(sb: BrowserSandbox, p: dict, *, task: Task, **_: Any) -> dict:
    seed = p.get("seed", task.seed)
    return {"instruction": sb.env.load(str(p["task"]), seed)}


def _adb_shell(sb: Sandbox, p: dict, **_: Any) -> None:
    sb.shell(str(p["command"]))


def _python() -> str:
    import sys

    return sys.executable


_STEPS: dict[str, Callable[..., Any]] = {
    "launch": _launch, "execute": _execute, "command": _execute, "open": _open, "sleep": _sleep,
    "activate_window": _activate, "close_window": _close, "download": _download, "miniwob": _miniwob,
    "adb_shell": _adb_shell,
}

__all__ = ["OSWorldTask", "load_osworld_task", "resolve_local", "run_steps", "unsupported_steps"]
