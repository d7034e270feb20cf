"""AndroidWorld-style tasks: Python classes with a goal template, seeded parameters and a check.

The protocol follows AndroidWorld's ``TaskEval`` (subclassing `TaskEval` below is
optional; any class with these members is a task)::

    class ContactsAddContact(TaskEval):
        template = "Add a contact named {name} with phone number {phone}."
        complexity = 2                      # step budget = int(10 * complexity)
        app_names = ("contacts",)

        @classmethod
        def generate_random_params(cls, seed: int) -> dict: ...
        def initialize_task(self, env) -> None: ...   # put the device in the start state
        def is_successful(self, env) -> float: ...    # 0..1, read from device state
        def tear_down(self, env) -> None: ...

`env` is the worker's `AndroidSandbox`: ``env.shell(cmd)`` runs an adb shell command,
``env.interaction_cache`` holds the agent's ``answer(text)`` for information-retrieval
tasks (class attribute ``answer = True`` enables that action), ``env.env`` is the
guiagent `Env`. As in AndroidWorld, an episode scores `is_successful` only when the
agent ended it itself (terminate or answer); running out of steps scores 0.

A module's tasks are its ``TASKS`` list if it has one, else every public class
defined in it with a string ``template`` and an ``is_successful`` method. Each task
gets ``instances`` seeded instances (the suite's setting, ``--instances``), with
AndroidWorld's per-instance seed ``int(sha256(f"{base_seed}_{name}_{i}").hexdigest(), 16) % 2**32``
(base seed 30, as its run.py).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import random
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.harness.base import (
    SUITES_DIR,
    InfraError,
    InvalidTask,
    Outcome,
    Sandbox,
    SuiteConfig,
    Task,
    TaskFileError,
    TaskSkip,
    instance_seed,
)
from guiagent.harness.plan import plan_action

if TYPE_CHECKING:
    from guiagent.agent.loop import Result
    from guiagent.harness.sandboxes.android import AndroidSandbox
    from guiagent.tools.actions import Action


class TaskEval:
    """Convenience base class mirroring AndroidWorld's ``TaskEval``."""

    template: str = ""
    complexity: float = 1.0
    app_names: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    answer: bool = False  # information retrieval: graded on the agent's answer(text)
    start_on_home_screen: bool = True

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = dict(params)
        self.initialized = False

    @classmethod
    def generate_random_params(cls, seed: int) -> dict[str, Any]:
        return {}

    @property
    def goal(self) -> str:
        return self.template.format(**self.params)

    def initialize_task(self, env: AndroidSandbox) -> None:
        if self.initialized:
            raise RuntimeError(f"{type(self).__name__} is already initialized; create a new instance")
        self.initialized = True
        random.seed(self.params.get("seed"))

    def is_successful(self, env: AndroidSandbox) -> float:
        raise NotImplementedError

    def tear_down(self, env: AndroidSandbox) -> None:
        self.initialized = False


# ---------------------------------------------------------------------- the harness task


class AndroidWorldTask(Task):
    """Wraps one instance of a TaskEval-like class."""

    def __init__(self, cls: type[Any], params: dict[str, Any], index: int, seed: int, source: str,
                 default_domain: str) -> None:
        self.cls: Any = cls  # any class with the TaskEval members; subclassing TaskEval is optional
        self.params = params
        self.source = source
        self.seed = seed
        self.name = cls.__name__
        self.id = f"{cls.__name__}_{index}"
        tags = [str(t) for t in getattr(cls, "tags", ()) or getattr(cls, "app_names", ()) or ()]
        self.tags = tags
        self.domain = tags[0] if tags else default_domain
        self.env_kind = "android"
        self.max_steps = max(1, int(10 * float(getattr(cls, "complexity", 1.0))))
        self.answer = bool(getattr(cls, "answer", False))
        self.instance: Any = None

    def setup(self, sandbox: Sandbox) -> str:
        phone = _phone(sandbox)
        self.instance = self.cls(dict(self.params))
        if getattr(self.instance, "start_on_home_screen", True):
            phone.shell("input keyevent KEYCODE_HOME")
        phone.interaction_cache = ""
        self.instance.initialize_task(phone)
        goal = getattr(self.instance, "goal", None) or self.cls.template.format(**self.params)
        return str(goal)

    def evaluate(self, sandbox: Sandbox, result: Result) -> Outcome:
        _phone(sandbox).interaction_cache = result.answer or ""
        done = result.status in ("success", "failure")  # the agent ended the episode itself
        if not done:
            return Outcome(0.0, {"reason": f"episode not done ({result.status}); AndroidWorld scores 0"})
        try:
            score = float(self.instance.is_successful(sandbox))
        except (TaskSkip, InfraError):
            raise
        except Exception as exc:  # noqa: BLE001 - AndroidWorld records it as a failed episode, not a retry
            import traceback

            return Outcome(0.0, {"is_successful": None, "exception": f"{type(exc).__name__}: {exc}",
                                 "traceback": traceback.format_exc(limit=8), "answer": result.answer,
                                 "params": _jsonable(self.params)})
        return Outcome(score, {"is_successful": score, "answer": result.answer, "params": _jsonable(self.params)})

    def teardown(self, sandbox: Sandbox) -> None:
        if self.instance is not None:
            self.instance.tear_down(sandbox)

    @property
    def has_oracle(self) -> bool:
        return hasattr(self.cls, "oracle_action") or hasattr(self.cls, "oracle_plan")

    def oracle_action(self, sandbox: Sandbox, step: int) -> Action | None:
        if hasattr(self.instance, "oracle_action"):
            got = self.instance.oracle_action(sandbox, step)
            if isinstance(got, dict):
                return plan_action([got], sandbox, 1, self.params)
            return got
        if hasattr(self.instance, "oracle_plan"):
            return plan_action(self.instance.oracle_plan(), sandbox, step, self.params)
        return super().oracle_action(sandbox, step)

    def info(self) -> dict:
        return {**super().info(), "params": _jsonable(self.params), "complexity": getattr(self.cls, "complexity", 1)}


def _phone(sandbox: Sandbox) -> AndroidSandbox:
    from guiagent.harness.sandboxes.android import AndroidSandbox

    if not isinstance(sandbox, AndroidSandbox):  # the runner opens the android sandbox for env_kind "android"
        raise TaskSkip(f"AndroidWorld tasks need a phone, not a {sandbox.kind} env")
    return sandbox


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


# ---------------------------------------------------------------------- loading


def _import(file: Path) -> Any:
    try:
        rel = file.resolve().relative_to(SUITES_DIR.resolve())
        return importlib.import_module("guiagent.harness.suites." + ".".join(rel.with_suffix("").parts))
    except ValueError:
        pass
    digest = hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:8]
    name = f"guiagent_tasks_{re.sub(r'[^A-Za-z0-9_]', '_', file.stem)}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise TaskFileError(f"{file}: not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def task_classes(module: Any) -> list[type[Any]]:
    listed = getattr(module, "TASKS", None)
    if listed is not None:
        return list(listed)
    return [c for name, c in vars(module).items()
            if inspect.isclass(c) and c.__module__ == module.__name__ and not name.startswith("_")
            and isinstance(getattr(c, "template", None), str) and getattr(c, "template", "")
            and callable(getattr(c, "is_successful", None))]


def _params(cls: type[Any], seed: int) -> dict[str, Any]:
    """As AndroidWorld's ``suite_utils._instantiate_task``: device time set, the global random module
    seeded, ``generate_random_params()``, then ``params["seed"] = seed``."""
    set_time = getattr(cls, "set_device_time", None)
    if callable(set_time):
        set_time(None)  # create_suite's env, None unless a run passes one
    gen = getattr(cls, "generate_random_params", None)
    if gen is None:
        return {"seed": seed}
    if len(inspect.signature(gen).parameters) >= 1:
        params = gen(seed)
    else:  # AndroidWorld's own signature: no argument, the global random module is seeded
        random.seed(seed)
        params = gen()
    params = dict(params or {})
    params["seed"] = seed
    return params


def load_module_tasks(file: Path, root: Path, config: SuiteConfig) -> list[Task]:
    """The task instances of a Python task module; a broken class becomes an InvalidTask."""
    try:
        module = _import(file)
    except TaskFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure is the file's problem
        raise TaskFileError(f"{file}: cannot import ({type(exc).__name__}: {exc})") from None
    classes = task_classes(module)
    if not classes:
        raise TaskFileError(f"{file}: no task classes (a class with a 'template' and 'is_successful', or TASKS)")
    out: list[Task] = []
    for cls in classes:
        missing = [m for m in ("template", "is_successful", "initialize_task") if not hasattr(cls, m)]
        if missing:
            out.append(InvalidTask(str(file), f"{file}: class {cls.__name__}: field {missing[0]}: missing",
                                   cls.__name__))
            continue
        for i in range(config.instances):
            seed = instance_seed(config.base_seed, cls.__name__, i)
            try:
                params = _params(cls, seed)
                cls.template.format(**params)
            except Exception as exc:  # noqa: BLE001 - a broken generator spoils only its own task
                out.append(InvalidTask(str(file), f"{file}: class {cls.__name__}: field generate_random_params: "
                                       f"{type(exc).__name__}: {exc}", f"{cls.__name__}_{i}"))
                continue
            out.append(AndroidWorldTask(cls, params, i, seed, str(file), config.domain or config.name))
    return out


__all__ = ["AndroidWorldTask", "TaskEval", "load_module_tasks", "task_classes"]
