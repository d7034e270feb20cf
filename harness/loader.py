"""The suite loader: a built-in suite, a folder of task files or one file -> task instances.

It picks the format of each file and leaves the rest to that format's module:

- native task files (YAML or JSON with ``env``, or ``tasks: [...]``): `harness.native`;
- OSWorld task JSON (``evaluator``), loaded as is, and OSWorld's index files
  (``{domain: [id, ...]}`` naming ``examples/<domain>/<id>.json``): `harness.osworld`;
- AndroidWorld-style Python task classes (``.py``): `harness.androidworld`.

A file that cannot be read or validated becomes an `InvalidTask`: it is reported with
a one-line message naming the file and the field, and the rest of the suite still runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guiagent.harness.androidworld import load_module_tasks
from guiagent.harness.base import SUITES_DIR, InvalidTask, SuiteConfig, Task, TaskFileError, safe_id
from guiagent.harness.native import native_tasks
from guiagent.harness.osworld import load_osworld_task

BUILTIN_SUITES = ("miniwob", "simphone", "desktop")


@dataclass
class Suite:
    name: str
    root: Path
    tasks: list[Task]
    config: SuiteConfig

    def select(self, ids: list[str]) -> list[Task]:
        """Tasks whose instance id or task name is in `ids`; unknown ids are a TaskFileError."""
        wanted = set(ids)
        chosen = [t for t in self.tasks if t.id in wanted or t.name in wanted]
        known = {t.id for t in self.tasks} | {t.name for t in self.tasks}
        unknown = sorted(wanted - known)
        if unknown:
            sample = ", ".join(sorted({t.name for t in self.tasks})[:8])
            raise TaskFileError(f"no task {unknown[0]!r} in suite {self.name} (tasks: {sample}"
                                f"{', ...' if len({t.name for t in self.tasks}) > 8 else ''})")
        return chosen


def suite_path(spec: str) -> Path:
    """A built-in suite name or a path -> the folder or file to load."""
    if spec in BUILTIN_SUITES:
        return SUITES_DIR / spec
    path = Path(spec).expanduser()
    if not path.exists():
        raise TaskFileError(f"{spec}: no such suite or file (built-in suites: {', '.join(BUILTIN_SUITES)})")
    return path


def load_suite(spec: str, *, instances: int | None = None, max_steps: int | None = None) -> Suite:
    """Load a built-in suite, a folder of task files or one task file.

    `instances` overrides the number of seeded instances per templated task and
    `max_steps` every task's step budget. Bad files become `InvalidTask`s.
    """
    path = suite_path(spec)
    root = path if path.is_dir() else path.parent
    config = _suite_config(root, spec if spec in BUILTIN_SUITES else path.stem if path.is_file() else path.name)
    if instances is not None:
        config.instances = instances
    files = _index_files(path) if path.is_file() and path.suffix == ".json" else None
    if files is not None:
        root = path.parent / "examples"
    else:
        files = _task_files(path, config)
    tasks: list[Task] = []
    for f in files:
        tasks.extend(load_file(f, root, config))
    if max_steps is not None:
        for t in tasks:
            if not isinstance(t, InvalidTask):
                t.max_steps = max_steps
    _dedupe_ids(tasks)
    return Suite(name=config.name, root=root, tasks=tasks, config=config)


def is_osworld_index(data: Any) -> bool:
    """OSWorld's test_all.json / test_small.json: ``{domain: [task id, ...]}``."""
    return isinstance(data, dict) and bool(data) and all(
        isinstance(v, list) and all(isinstance(i, str) for i in v) for v in data.values())


def _index_files(path: Path) -> list[Path] | None:
    """The task files an OSWorld index lists (``examples/<domain>/<id>.json`` next to it); None if not an index."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not is_osworld_index(data):
        return None
    examples = path.parent / "examples"
    return [examples / domain / f"{task_id}.json" for domain, ids in data.items() for task_id in ids]


def _suite_config(root: Path, default_name: str) -> SuiteConfig:
    cfg = SuiteConfig(name=default_name)
    file = root / "suite.yaml"
    if not file.is_file():
        return cfg
    data = _read_data(file)
    if not isinstance(data, dict):
        raise TaskFileError(f"{file}: expected a mapping of suite settings")
    for key, value in data.items():
        if not hasattr(cfg, key):
            raise TaskFileError(f"{file}: field {key}: unknown suite setting "
                                "(name, description, tasks, instances, base_seed, max_steps, domain)")
        setattr(cfg, key, value)
    return cfg


def _task_files(path: Path, config: SuiteConfig) -> list[Path]:
    if path.is_file():
        return [path]
    seen: dict[Path, None] = {}
    for pattern in config.tasks:
        for f in sorted(path.glob(pattern)):
            if not f.is_file() or f.name in ("suite.yaml", "__init__.py") or f.name.startswith(("_", ".")):
                continue
            if any(part.startswith((".", "_")) for part in f.relative_to(path).parts[:-1]):
                continue
            seen.setdefault(f, None)
    return list(seen)


def _read_data(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError(f"{file}: unreadable ({exc})") from None
    if file.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskFileError(f"{file}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise TaskFileError(f"{file}: not valid YAML ({where}{getattr(exc, 'problem', None) or exc})") from None


def load_file(file: Path, root: Path, config: SuiteConfig) -> list[Task]:
    """The task instances one file defines; a bad file gives one InvalidTask."""
    try:
        if file.suffix == ".py":
            return load_module_tasks(file, root, config)
        if not file.is_file():
            raise TaskFileError(f"{file}: not found (listed in the OSWorld index)")
        data = _read_data(file)
        if is_osworld_index(data):
            return []  # an index inside a folder of examples: the examples themselves are loaded
        if isinstance(data, dict) and "env" in data:
            return native_tasks(data, file, root, config)
        if isinstance(data, dict) and "tasks" in data and isinstance(data["tasks"], list):
            out: list[Task] = []
            for i, item in enumerate(data["tasks"]):
                if not isinstance(item, dict):
                    out.append(InvalidTask(str(file), f"{file}: field tasks.{i}: expected a mapping",
                                           f"{file.stem}_{i}"))
                    continue
                try:
                    out.extend(native_tasks(item, file, root, config, where=f"tasks.{i}."))
                except TaskFileError as exc:
                    out.append(InvalidTask(str(file), str(exc), safe_id(str(item.get("id") or f"{file.stem}_{i}"))))
            return out
        if isinstance(data, dict) and "evaluator" in data:
            return [load_osworld_task(data, file, root, config)]
        raise TaskFileError(f"{file}: not a task file: a guiagent task needs 'env', an OSWorld task 'evaluator'")
    except TaskFileError as exc:
        return [InvalidTask(str(file), str(exc))]


def _dedupe_ids(tasks: list[Task]) -> None:
    seen: dict[str, int] = {}
    for t in tasks:
        n = seen.get(t.id, 0)
        seen[t.id] = n + 1
        if n:
            t.id = f"{t.id}~{n + 1}"


__all__ = ["BUILTIN_SUITES", "Suite", "is_osworld_index", "load_file", "load_suite", "suite_path"]
