"""The task model and loaders: built-in suites, native files, OSWorld JSON, AndroidWorld classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from guiagent.harness.androidworld import AndroidWorldTask
from guiagent.harness.base import InvalidTask, TaskFileError, instance_seed
from guiagent.harness.loader import load_suite
from guiagent.harness.native import NativeTask
from guiagent.harness.osworld import OSWorldTask

from guiagent.cli.common import UsageError

MINIWOB_KINDS = {"click", "checkbox", "link", "tab", "dialog", "text", "focus", "scroll"}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_miniwob_suite_has_twelve_plus_tasks_of_every_kind():
    suite = load_suite("miniwob")
    assert not [t for t in suite.tasks if isinstance(t, InvalidTask) or t.skip_reason]
    names = {t.name for t in suite.tasks}
    assert len(names) >= 12
    assert {t.domain for t in suite.tasks} == MINIWOB_KINDS
    assert all(isinstance(t, NativeTask) and t.env_kind == "miniwob" for t in suite.tasks)
    # seeded instances: every task twice, with different seeds
    assert len(suite.tasks) == 2 * len(names)
    assert len({t.seed for t in suite.tasks}) == len(suite.tasks)


def test_builtin_simphone_suite_follows_the_androidworld_protocol():
    suite = load_suite("simphone")
    assert not [t for t in suite.tasks if isinstance(t, InvalidTask)]
    classes = {t.name for t in suite.tasks}
    assert len(classes) >= 10
    assert all(isinstance(t, AndroidWorldTask) for t in suite.tasks)
    for t in suite.tasks:
        assert t.max_steps == int(10 * t.cls.complexity)  # AndroidWorld's budget
        assert t.id.startswith(t.name + "_")
    assert sum(1 for c in {t.cls for t in suite.tasks} if c.answer) >= 2  # information-retrieval tasks
    # several seeds each, reproducible: loading again gives the same parameters
    again = {t.id: t.params for t in load_suite("simphone").tasks}
    assert {t.id: t.params for t in suite.tasks} == again
    assert len({json.dumps(t.params, sort_keys=True) for t in suite.tasks if t.name == "ContactsAddContact"}) == 3


def test_builtin_desktop_suite_is_osworld_json_with_an_infeasible_task():
    suite = load_suite("desktop")
    assert len(suite.tasks) >= 6
    assert all(isinstance(t, OSWorldTask) and not t.skip_reason for t in suite.tasks)
    funcs = [t.evaluator["func"] for t in suite.tasks]
    assert "infeasible" in funcs
    getters = {g["type"] for t in suite.tasks for key in ("result", "expected")
               for g in (t.evaluator.get(key) if isinstance(t.evaluator.get(key), list) else [t.evaluator.get(key)])
               if g}
    assert {"vm_command_line", "vm_file"} <= getters
    assert {t.domain for t in suite.tasks} >= {"text_editor", "form", "os"}  # OSWorld's examples/<domain>/ layout


def test_instance_seed_is_androidworlds_hash():
    # the values AndroidWorld's suite_utils.create_suite(seed=30) gives: int(sha256(...).hexdigest(), 16) % 2**32
    assert instance_seed(30, "SystemWifiTurnOn", 0) == 3688789235
    assert instance_seed(30, "ContactsAddContact", 2) == 596600690
    assert instance_seed(30, "A", 0) == 2443888131
    assert len({instance_seed(30, "A", i) for i in range(5)}) == 5
    assert instance_seed(30, "A", 0) != instance_seed(30, "B", 0)


def test_native_goal_template_is_filled_from_seeded_params(tmp_path):
    _write(tmp_path / "wifi.yaml", """
id: wifi
env: android
goal: "Turn wifi {state} on {day}."
params: {state: ["on", "off"], day: [mon, tue, wed, thu, fri]}
instances: 4
setup: [{type: adb_shell, parameters: {command: "settings put global wifi_on 0"}}]
evaluator:
  func: exact_match
  result: {type: adb_shell, command: "settings get global wifi_on"}
  expected: {type: rule, rules: {expected: "1"}}
tags: [settings]
""")
    tasks = load_suite(str(tmp_path)).tasks
    assert [t.id for t in tasks] == ["wifi_0", "wifi_1", "wifi_2", "wifi_3"]
    texts = [t.instruction() for t in tasks]
    assert all(x.startswith("Turn wifi ") for x in texts)
    assert texts == [t.instruction() for t in load_suite(str(tmp_path)).tasks]
    assert all(t.domain == "settings" and not t.skip_reason for t in tasks)


def test_malformed_task_file_names_file_and_field_and_the_rest_still_loads(tmp_path):
    good = _write(tmp_path / "good.yaml", """
id: ok-task
env: miniwob
setup: [{type: miniwob, parameters: {task: click-test}}]
evaluator: {func: miniwob_reward}
""")
    bad = _write(tmp_path / "bad.yaml", """
id: broken
env: miniwob
evaluator: {func: miniwob_reward}
max_steps: ten
""")
    syntax = _write(tmp_path / "syntax.json", '{"id": "x", "env": "desktop",\n "instruction": }')
    listed = _write(tmp_path / "many.yaml", """
tasks:
  - {id: first, env: desktop, instruction: hi, evaluator: {func: infeasible}}
  - {id: second, env: desktop, instruction: hi}
""")
    tasks = load_suite(str(tmp_path)).tasks
    invalid = {t.id: t.message for t in tasks if isinstance(t, InvalidTask)}
    valid = {t.id for t in tasks if not isinstance(t, InvalidTask)}
    assert valid >= {"ok-task_0", "first"}
    assert invalid["bad"] == f"{bad}: field max_steps: Input should be a valid integer, unable to parse string as an integer"
    assert invalid["syntax"].startswith(f"{syntax}: not valid JSON (line 2")
    assert invalid["second"] == f"{listed}: field tasks.1.evaluator: Field required"
    assert str(good) not in "".join(invalid.values())


def test_unknown_file_kind_is_reported(tmp_path):
    f = _write(tmp_path / "notatask.json", '{"hello": 1}')
    [task] = load_suite(str(f)).tasks
    assert isinstance(task, InvalidTask)
    assert task.message == f"{f}: not a task file: a guiagent task needs 'env', an OSWorld task 'evaluator'"


def _osworld(config: list, evaluator: dict) -> dict:
    return {"id": "0b17a146-1234", "snapshot": "os", "instruction": "Do it.", "source": "x", "config": config,
            "trajectory": "trajectories/", "related_apps": ["os"], "evaluator": evaluator, "proxy": False}


def test_osworld_task_json_loads_as_is(tmp_path):
    f = _write(tmp_path / "examples" / "os" / "0b17a146-1234.json", json.dumps(_osworld(
        [{"type": "execute", "parameters": {"command": ["touch", "/home/user/a"], "shell": False}}],
        {"func": "check_include_exclude", "result": {"type": "vm_command_line", "command": "ls"},
         "expected": {"type": "rule", "rules": {"include": ["a"]}}})))
    [task] = load_suite(str(tmp_path)).tasks
    assert isinstance(task, OSWorldTask)
    assert (task.id, task.domain, task.instruction, task.max_steps) == ("0b17a146-1234", "os", "Do it.", 15)
    assert task.skip_reason is None and task.source == str(f)


@pytest.mark.parametrize(("config", "evaluator", "reason"), [
    ([{"type": "googledrive", "parameters": {}}], {"func": "infeasible"},
     "setup step 1 type 'googledrive' is not supported on desktop"),
    ([{"type": "chrome_open_tabs", "parameters": {"urls_to_open": ["https://x"]}}], {"func": "infeasible"},
     "setup step 1 type 'chrome_open_tabs' is not supported on desktop"),
    ([], {"func": "compare_pdfs", "result": {"type": "vm_file", "path": "/home/user/a.pdf"}},
     "evaluator metric 'compare_pdfs' is not supported"),
    ([], {"func": "compare_table", "result": {"type": "vm_file", "path": "/home/user/a.xlsx"},
          "options": {"rules": [{"type": "style"}]}},
     "compare_table rule 'style' is not implemented here (only sheet_name, sheet_data, sheet_print, sheet_fuzzy, "
     "pivot_table, chart, check_cell, freeze, zoom, row_props, col_props, data_validation)"),
    ([], {"func": "exact_match", "result": {"type": "accessibility_tree"}, "expected": {"type": "rule", "rules": {}}},
     "evaluator getter 'accessibility_tree' is not supported"),
    ([], {"func": "infeasible", "postconfig": [{"type": "login", "parameters": {}}]},
     "postconfig: setup step 1 type 'login' is not supported on desktop"),
])
def test_osworld_unsupported_features_mark_the_task_skipped(tmp_path, config, evaluator, reason):
    _write(tmp_path / "t.json", json.dumps(_osworld(config, evaluator)))
    [task] = load_suite(str(tmp_path)).tasks
    assert task.skip_reason == reason


ANDROIDWORLD_MODULE = '''
import random
from guiagent.harness.androidworld import TaskEval

class _Helper(TaskEval):
    template = "ignored {x}"

class PlainStyle:  # duck-typed, AndroidWorld's own generate_random_params() without a seed argument
    template = "Say {word}."
    complexity = 1.5
    app_names = ("notes",)

    def __init__(self, params):
        self.params = params

    @classmethod
    def generate_random_params(cls):
        return {"word": random.choice(["a", "b", "c", "d", "e", "f"])}

    def initialize_task(self, env): pass
    def is_successful(self, env): return 1.0
    def tear_down(self, env): pass

class Broken(TaskEval):
    template = "Broken {thing}."

    @classmethod
    def generate_random_params(cls, seed):
        raise KeyError("thing")

    def is_successful(self, env): return 0.0
'''


def test_androidworld_module_classes_become_seeded_instances(tmp_path):
    f = _write(tmp_path / "my_tasks.py", ANDROIDWORLD_MODULE)
    tasks = load_suite(str(f), instances=3).tasks
    plain = [t for t in tasks if not isinstance(t, InvalidTask)]
    broken = [t for t in tasks if isinstance(t, InvalidTask)]
    assert [t.id for t in plain] == ["PlainStyle_0", "PlainStyle_1", "PlainStyle_2"]
    assert all(t.max_steps == 15 and t.domain == "notes" for t in plain)
    assert [t.params["seed"] for t in plain] == [instance_seed(30, "PlainStyle", i) for i in range(3)]
    assert [t.id for t in broken] == ["Broken_0", "Broken_1", "Broken_2"]
    assert broken[0].message == f"{f}: class Broken: field generate_random_params: KeyError: 'thing'"


def test_androidworld_module_that_fails_to_import_is_invalid(tmp_path):
    f = _write(tmp_path / "oops.py", "import not_a_module_anywhere\n")
    [task] = load_suite(str(f)).tasks
    assert isinstance(task, InvalidTask)
    assert task.message == f"{f}: cannot import (ModuleNotFoundError: No module named 'not_a_module_anywhere')"


def test_selecting_unknown_tasks_is_an_error():
    suite = load_suite("desktop")
    assert [t.id for t in suite.select(["form-signup"])] == ["form-signup"]
    with pytest.raises(TaskFileError, match="no task 'nope' in suite desktop"):
        suite.select(["nope"])


@pytest.mark.parametrize(("argv", "message"), [
    (["no-such-suite", "--model", "oracle"], "no-such-suite: no such suite or file"),
    (["miniwob", "--model", "oracle", "--workers", "0"], "expected a positive integer"),
    (["miniwob", "--model", "oracle", "--tasks", "nope"], "no task 'nope' in suite miniwob"),
    (["miniwob", "--model", "bogus:thing"], "unknown model spec 'bogus:thing'"),
])
def test_bench_usage_errors_are_one_line(argv, message, tmp_path):
    from guiagent.cli.bench import main

    with pytest.raises(UsageError, match=message):
        main([*argv, "--out", str(tmp_path / "out")])


def test_bench_list_prints_tasks(capsys):
    from guiagent.cli.bench import main

    assert main(["desktop", "--list"]) == 0
    out = capsys.readouterr().out
    assert "os-infeasible-spreadsheet\tos\tdesktop\tmax_steps=15" in out


def test_an_osworld_index_file_selects_its_examples(tmp_path):
    ev = {"func": "infeasible"}
    for domain, tid in (("os", "a1"), ("os", "a2"), ("gimp", "b1")):
        _write(tmp_path / "examples" / domain / f"{tid}.json", json.dumps({**_osworld([], ev), "id": tid}))
    index = _write(tmp_path / "test_small.json", json.dumps({"os": ["a2"], "gimp": ["b1", "missing"]}))
    tasks = load_suite(str(index)).tasks
    assert [(t.id, t.domain) for t in tasks if not isinstance(t, InvalidTask)] == [("a2", "os"), ("b1", "gimp")]
    [bad] = [t for t in tasks if isinstance(t, InvalidTask)]
    assert "missing.json: not found (listed in the OSWorld index)" in bad.message
    # a folder holding the index and the examples loads every example once, and ignores the index
    assert sorted(t.id for t in load_suite(str(tmp_path)).tasks) == ["a1", "a2", "b1"]


def test_progress_plain_lines_and_tty_bar():
    import io

    from guiagent.harness.progress import BenchProgress
    from guiagent.harness.results import TaskRecord

    out = io.StringIO()
    p = BenchProgress(2, stream=out, tty=False)
    p.started("a")
    p.finished(TaskRecord(task={"id": "a"}, status="scored", score=1.0, success=True, steps=3, seconds=1.5))
    p.finished(TaskRecord(task={"id": "b"}, status="error", reason="device lost"))
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/2] a  success 1.00 (3 steps, 1.5 s) | 1/2 done, success 1/1 (100.0%)")
    assert lines[1].startswith("[2/2] b  error: device lost | 2/2 done, success 1/2 (50.0%)")  # errors count
    assert lines[1].endswith("ETA 0s")

    tty = io.StringIO()
    p = BenchProgress(1, stream=tty, tty=True)
    p.started("a")
    p.finished(TaskRecord(task={"id": "a"}, status="scored", score=1.0, success=True, steps=1, seconds=0.1))
    p.close()
    text = tty.getvalue()
    assert "\r\x1b[2K[" in text and "1/1 done, success 1/1 (100.0%)" in text and "\n" not in text
