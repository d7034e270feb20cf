"""OSWorld's evaluator block: postconfig steps, result/expected getters, metrics, conj.

Semantics follow OSWorld's ``DesktopEnv.evaluate``:

- ``func == "infeasible"`` scores 1 only when the agent's last action was FAIL
  (here: ``terminate`` with status failure); on any other task a final FAIL scores 0.
- the postconfig steps run first; then ``metric(result, expected, **options)`` (or
  ``metric(result, **options)`` without an expected getter);
- a list of funcs combines with ``conj``: "and" returns 0 at the first 0, else the
  mean; "or" returns 1 at the first 1, else the max. A missing result file scores 0.

Getters: ``vm_command_line`` (a command's stdout), ``vm_file`` (a file the task left,
copied to the task's scratch folder), ``rule`` (the literal ``rules``), ``cloud_file``
(a local fixture, or http(s) through OSWorld's cache), and for native tasks ``adb_shell``.
Metrics: ``exact_match``, ``check_include_exclude``, ``compare_text_file``, OSWorld's file metrics
in `harness.osworld_metrics` (``compare_table``, ``compare_docx_files``, ``compare_pptx_files``,
``check_direct_json_object``, ``check_json_settings``), ``infeasible``, and ``miniwob_reward``
(MiniWoB's own raw reward: 1 = success).
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.harness.base import Outcome, Sandbox, Task, TaskSkip, confine
from guiagent.harness.osworld_cache import cached_cloud_file, is_network_url
from guiagent.harness.osworld_metrics import FILE_METRICS, unsupported_options
from guiagent.harness.steps import open_problem, resolve_local, run_steps, source_problem, unsupported_steps

if TYPE_CHECKING:
    from guiagent.agent.loop import Result


# ---------------------------------------------------------------------- metrics


def exact_match(result: Any, rules: dict, **_: Any) -> float:
    """1 when the result equals ``rules["expected"]``."""
    return 1.0 if result == rules["expected"] else 0.0


def check_include_exclude(result: Any, rules: dict, **_: Any) -> float:
    """1 when every ``include`` string is in the result and no ``exclude`` string is."""
    if result is None:
        return 0.0
    include = rules.get("include", [])
    exclude = rules.get("exclude", [])
    return 1.0 if all(s in result for s in include) and not any(s in result for s in exclude) else 0.0


def compare_text_file(file1: str | None, file2: str | None, **options: Any) -> float:
    """1 when two text files are equal; ``ignore_blanks`` collapses whitespace, ``ignore_case`` folds case."""
    if not file1 or not file2:
        return 0.0
    try:  # surrogateescape keeps invalid bytes distinct: files with different invalid UTF-8 differ
        a = Path(file1).read_text(encoding="utf-8", errors="surrogateescape")
        b = Path(file2).read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return 0.0
    if options.get("ignore_blanks"):
        a, b = (re.sub(r"\s+", " ", t).strip() for t in (a, b))
    if options.get("ignore_case"):
        a, b = a.lower(), b.lower()
    return 1.0 if a == b else 0.0


METRICS: dict[str, Callable[..., float]] = {
    "exact_match": exact_match,
    "check_include_exclude": check_include_exclude,
    "compare_text_file": compare_text_file,
    **FILE_METRICS,  # compare_table, compare_docx_files, compare_pptx_files, check_direct_json_object, ...
}
# Metrics that read the episode or the env themselves, not getter values.
EPISODE_METRICS = ("infeasible", "miniwob_reward")


# ---------------------------------------------------------------------- getters


def get_vm_command_line(sb: Sandbox, cfg: dict, task: Task) -> str | None:
    """The command's stdout, whatever its exit status: OSWorld's server answers 200 with the output of a
    failed command too ("" when it printed nothing)."""
    return sb.run(cfg["command"], shell=bool(cfg.get("shell", False))).stdout


def _multi(cfg: dict[str, Any]) -> tuple[list[Any], list[Any], set[int]]:
    """OSWorld's file getter arguments: (paths, dests, gives); ``multi`` says path and dest are lists."""
    if cfg.get("multi", False):
        paths, dests = list(cfg["path"]), list(cfg["dest"])
    else:
        paths, dests = [cfg["path"]], [cfg.get("dest") or Path(str(cfg["path"])).name]
    return paths, dests, {int(i) for i in cfg.get("gives", [0])}


def _given(out: list[str | None]) -> str | list[str | None] | None:
    return out[0] if len(out) == 1 else out  # OSWorld: one given file is returned bare, else the list


def get_vm_file(sb: Sandbox, cfg: dict, task: Task) -> str | list[str | None] | None:
    """Copy files the task left into its scratch folder, as OSWorld's ``get_vm_file``: with ``multi``,
    ``path``/``dest`` are lists and ``gives`` (default [0]) picks which are returned; a missing file is None."""
    paths, dests, gives = _multi(cfg)
    out: list[str | None] = []
    for i, (path, dest) in enumerate(zip(paths, dests, strict=False)):
        src = sb.host_path(str(path))
        if not src.is_file():
            if i in gives:
                out.append(None)
            continue
        local = confine(sb.scratch / str(dest), sb.scratch, "vm_file dest")
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, local)
        if i in gives:
            out.append(str(local))
    return _given(out)


def get_rule(sb: Sandbox, cfg: dict, task: Task) -> Any:
    return cfg["rules"]


def get_cloud_file(sb: Sandbox, cfg: dict, task: Task) -> str | list[str | None] | None:
    """A gold file: a local fixture next to the task file, or an http(s) URL through OSWorld's cache
    (``<cache>/<task id>/<dest>``, used as is when present); ``multi``/``gives`` as `get_vm_file`."""
    base = Path(task.source).parent if task.source else Path.cwd()
    paths, dests, gives = _multi(cfg)
    out: list[str | None] = []
    for i, (path, dest) in enumerate(zip(paths, dests, strict=False)):
        url = str(path)
        file = cached_cloud_file(url, str(dest), task) if is_network_url(url) else resolve_local(url, base)
        if i in gives:
            out.append(str(file))
    return _given(out)


def get_adb_shell(sb: Sandbox, cfg: dict, task: Task) -> str:
    return sb.shell(str(cfg["command"])).strip()


GETTERS: dict[str, Callable[[Any, dict, Task], Any]] = {
    "vm_command_line": get_vm_command_line,
    "vm_file": get_vm_file,
    "rule": get_rule,
    "cloud_file": get_cloud_file,
    "adb_shell": get_adb_shell,
}
GETTERS_BY_ENV = {
    "desktop": ("vm_command_line", "vm_file", "rule", "cloud_file"),
    "android": ("adb_shell", "rule"),
    "miniwob": ("rule",),
}


# ---------------------------------------------------------------------- checking and running


def _as_list(value: Any, n: int) -> list:
    if isinstance(value, list):
        return value
    return [value] * n


def unsupported_evaluator(spec: dict, env_kind: str) -> str | None:
    """Why this evaluator cannot run here (None when it can); checked before the task starts."""
    funcs = spec.get("func")
    funcs = funcs if isinstance(funcs, list) else [funcs]
    for key in ("result", "expected", "options"):
        value = spec.get(key)
        if isinstance(value, list) and len(value) != len(funcs):
            return f"evaluator {key} has {len(value)} entries but func has {len(funcs)}"
    all_options = _as_list(spec.get("options") or {}, len(funcs))
    for i, f in enumerate(funcs):
        if f not in METRICS and f not in EPISODE_METRICS:
            return f"evaluator metric {f!r} is not supported"
        opts = all_options[i] if i < len(all_options) and isinstance(all_options[i], dict) else {}
        reason = unsupported_options(str(f), opts, _getters(spec)) if f in FILE_METRICS else None
        if reason:
            return reason
        if f == "miniwob_reward" and env_kind != "miniwob":
            return "metric 'miniwob_reward' needs a miniwob env"
    getters = [g for key in ("result", "expected") for g in _as_list(spec.get(key), len(funcs)) if g]
    for g in getters:
        kind = g.get("type") if isinstance(g, dict) else None
        if kind not in GETTERS:
            return f"evaluator getter {kind!r} is not supported"
        if kind not in GETTERS_BY_ENV.get(env_kind, ()):
            return f"evaluator getter {kind!r} is not available on {env_kind}"
    post = spec.get("postconfig") or []
    reason = unsupported_steps(post, env_kind)
    return f"postconfig: {reason}" if reason else None


COMMAND_STEPS = ("launch", "execute", "command", "open")  # run a program of the task's choosing
COMMAND_GETTERS = ("vm_command_line",)


def _getters(spec: dict[str, Any]) -> list[dict[str, Any]]:
    funcs = spec.get("func")
    n = len(funcs) if isinstance(funcs, list) else 1
    return [g for key in ("result", "expected") for g in _as_list(spec.get(key), n) if isinstance(g, dict)]


def runs_commands(steps: list[Any], spec: dict[str, Any]) -> bool:
    """Whether a task with these setup steps and this evaluator runs commands (in bubblewrap, or --unsafe-host)."""
    every = [*steps, *(spec.get("postconfig") or [])]
    return any(isinstance(s, dict) and s.get("type") in COMMAND_STEPS for s in every) or any(
        g.get("type") in COMMAND_GETTERS for g in _getters(spec))


def path_problem(steps: list[Any], spec: dict[str, Any], base: Path) -> str | None:
    """Why a path in these steps or getters leads out of the folders a task may use (None when none does).

    Checked when the task is loaded, so a hostile task file is skipped before anything of it runs; the
    sandbox checks again, with symlinks resolved, when the file is used.
    """
    from guiagent.harness.isolation import TASK_HOME, home_relative

    def home(p: Any) -> bool:
        rel = home_relative(str(p))
        return rel is not None and not os.path.normpath(rel or ".").startswith("..")

    def name(p: Any) -> bool:  # a file name in the task's scratch folder
        return not Path(str(p)).is_absolute() and not os.path.normpath(str(p)).startswith("..")

    def source(p: Any) -> bool:  # a fixture next to the task file; http(s) URLs land in the task's cache folder
        parsed = urllib.parse.urlparse(str(p))
        if parsed.scheme not in ("", "file") and len(parsed.scheme) != 1:
            return True
        path = Path(urllib.request.url2pathname(parsed.path) if parsed.scheme == "file" else str(p)).expanduser()
        target = os.path.normpath(path if path.is_absolute() else base / path)
        return Path(target).is_relative_to(os.path.normpath(base.resolve()))

    checks: list[tuple[str, Any, Callable[[Any], bool]]] = []
    for i, step in enumerate([*steps, *(spec.get("postconfig") or [])]):
        params = (step.get("parameters") or {}) if isinstance(step, dict) else {}
        kind = step.get("type") if isinstance(step, dict) else None
        if kind == "open":
            checks.append((f"step {i + 1} open path", params.get("path"), home))
        if kind == "download":
            for f in params.get("files") or []:
                if isinstance(f, dict):
                    checks += [(f"step {i + 1} download path", f.get("path"), home),
                               (f"step {i + 1} download url", f.get("url"), source)]
        if kind in ("execute", "command"):
            checks += [(f"step {i + 1} {key} file", params[key], name) for key in ("stdout", "stderr")
                       if params.get(key)]
    for g in _getters(spec):
        path, dest = g.get("path"), g.get("dest")
        paths: list[Any] = path if isinstance(path, list) else [path]
        dests: list[Any] = dest if isinstance(dest, list) else [dest]
        if g.get("type") == "vm_file":
            checks += [("vm_file path", p, home) for p in paths if p is not None]
        if g.get("type") == "cloud_file":
            checks += [("cloud_file path", p, source) for p in paths if p is not None]
        if g.get("type") in ("vm_file", "cloud_file"):
            checks += [(f"{g['type']} dest", d, name) for d in dests if d is not None]
    for what, value, ok in checks:
        if value is not None and not ok(value):
            return f"{what} {value!r} leads outside the task's folders ({TASK_HOME}, its scratch folder, {base})"
    return None


def needs_problem(steps: list[Any], spec: dict[str, Any]) -> str | None:
    """What these setup steps, postconfig steps or getters need that this machine cannot give (None: nothing).

    Checked when the task is loaded, so a task the harness cannot evaluate is skipped before its episode:
    skipping it after would make what is counted depend on what the agent did.
    """
    for i, step in enumerate([*steps, *(spec.get("postconfig") or [])]):
        params = (step.get("parameters") or {}) if isinstance(step, dict) else {}
        kind = step.get("type") if isinstance(step, dict) else None
        where = f"step {i + 1}" if i < len(steps) else f"postconfig step {i + 1 - len(steps)}"
        if kind == "download":
            for f in params.get("files") or []:
                problem = source_problem(str(f.get("url"))) if isinstance(f, dict) else None
                if problem:
                    return f"{where}: {problem}"
        if kind == "open" and params.get("path"):
            problem = open_problem(str(params["path"]))
            if problem:
                return f"{where}: {problem}"
    for g in _getters(spec):
        if g.get("type") == "cloud_file":
            path = g.get("path")
            paths: list[Any] = path if isinstance(path, list) else [path]
            for p in paths:
                problem = source_problem(str(p)) if p is not None else None
                if problem:
                    return f"evaluator cloud_file: {problem}"
    return None


def agent_failed(result: Result, task: Task) -> bool:
    """OSWorld's FAIL: the agent's last action, under the task's infeasible mapping (`INFEASIBLE_MAPPINGS`),
    was FAIL: terminate(status=failure) with ours, never with OSWorld's Qwen agent's."""
    return getattr(task, "infeasible_mapping", None) != "osworld" and result.status == "failure"


def evaluate(sb: Sandbox, spec: dict, result: Result, task: Task) -> Outcome:
    """Score an episode with an OSWorld-style evaluator block."""
    funcs = spec["func"] if isinstance(spec["func"], list) else [spec["func"]]
    if spec.get("postconfig"):  # OSWorld runs them first, on infeasible tasks and after a FAIL too
        run_steps(sb, list(spec["postconfig"]), task, task.source)
    if funcs == ["infeasible"]:
        ok = agent_failed(result, task)
        return Outcome(1.0 if ok else 0.0, {"metric": "infeasible", "last_action_fail": ok,
                                            "infeasible_mapping": getattr(task, "infeasible_mapping", None)})
    if agent_failed(result, task):
        return Outcome(0.0, {"reason": "the agent gave up (FAIL) on a feasible task"})
    n = len(funcs)
    results = _as_list(spec.get("result"), n)
    expecteds = _as_list(spec.get("expected"), n)
    options = _as_list(spec.get("options") or {}, n)
    conj = spec.get("conj", "and")
    scores: list[float] = []
    details: list[dict] = []
    for f, r_cfg, e_cfg, opts in zip(funcs, results, expecteds, options, strict=True):
        score, detail = _one(sb, f, r_cfg, e_cfg, opts or {}, task, result)
        scores.append(score)
        details.append(detail)
        if conj == "and" and score == 0:
            return Outcome(0.0, _detail(conj, details, n))
        if conj == "or" and score == 1:
            return Outcome(1.0, _detail(conj, details, n))
    total = sum(scores) / len(scores) if conj == "and" else max(scores)
    return Outcome(total, _detail(conj, details, n))


def _detail(conj: str, details: list[dict], n: int) -> dict:
    return details[0] if n == 1 else {"conj": conj, "metrics": details}


def _one(sb: Sandbox, func: str, r_cfg: dict | None, e_cfg: dict | None, opts: dict, task: Task,
         result: Result) -> tuple[float, dict]:
    if func == "miniwob_reward":
        from guiagent.envs.browser import BrowserEnv

        if not isinstance(sb.env, BrowserEnv):  # unsupported_evaluator allows it on miniwob tasks only
            raise TaskSkip(f"metric {func!r} needs the MiniWoB browser, not a {sb.kind} env")
        reward = sb.env.reward()
        raw = float(reward.get("raw_reward") or 0)
        return (1.0 if reward.get("done") and raw >= 1.0 else 0.0), {"metric": func, **reward}
    if func == "infeasible":
        ok = agent_failed(result, task)
        return (1.0 if ok else 0.0), {"metric": func, "last_action_fail": ok}
    metric = METRICS.get(func)
    if metric is None:
        raise TaskSkip(f"evaluator metric {func!r} is not supported")
    try:
        got = _get(sb, r_cfg, task) if r_cfg else None
    except FileNotFoundError as exc:
        return 0.0, {"metric": func, "result": None, "error": f"file not found: {exc}"}
    expected = _get(sb, e_cfg, task) if e_cfg else None
    score = float(metric(got, expected, **opts) if e_cfg else metric(got, **opts))
    return score, {"metric": func, "result": _short(got), "expected": _short(expected)}


def _get(sb: Sandbox, cfg: dict[str, Any], task: Task) -> Any:
    kind = cfg.get("type")
    getter = GETTERS.get(kind) if isinstance(kind, str) else None
    if getter is None:
        raise TaskSkip(f"evaluator getter {cfg.get('type')!r} is not supported")
    return getter(sb, cfg, task)


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 500:
        return value[:500] + "…"
    return value


__all__ = ["GETTERS", "METRICS", "agent_failed", "needs_problem", "path_problem", "runs_commands", "check_include_exclude", "compare_text_file", "evaluate",
           "exact_match", "unsupported_evaluator"]
