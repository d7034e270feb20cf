"""Every command the README shows is run, here or by CI, so none can rot.

The commands are the lines of the README's ```bash blocks (continuations joined, comments dropped).
Each is accounted for in `COMMANDS`: run here through bash as a user types it (placeholders filled
with real things: a recorded run for ``runs/RUN``, the tiny checkpoint for ``NEW_CHECKPOINT``, a
loopback OpenAI-compatible server for a vLLM URL, the session's simulated phone for a device serial,
an empty Hugging Face cache for weights not downloaded), run by another named test with the same
words, run by `.ci/run`, or, where it needs what this machine cannot have (a CUDA GPU, vLLM,
OSWorld's VM, android_world), listed with that reason. Every flag a README `guiagent` line names
is offered by that subcommand's `--help`.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from guiagent.tools.sysdeps import apt_packages

from tests.test_openai_backend import ChatServer

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
CLICK = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [40, 40]}}\n</tool_call>'
DONE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'
GIVE_UP = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "failure"}}\n</tool_call>'
PHONE_DONE = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'


def readme_commands(text: str = README) -> list[str]:
    """The command lines of every ```bash block, in order, whitespace normalised."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(re.sub(r"\s+", " ", re.sub(r"\s+#\s.*$", "", line)))
    return out


def python_block(marker: str) -> str:
    """The README's ```python block that contains `marker`."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if marker in b]
    assert len(blocks) == 1, f"one README python block holds {marker!r}"
    return blocks[0]


# ---- running a README line as a user does ---------------------------------------------------------

def shell(line: str, cwd: Path, timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
    """`line` through bash in `cwd`, with this interpreter's `guiagent` first on PATH and no hub access."""
    bindir = str(Path(sys.executable).parent)
    full = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""), "HF_HUB_OFFLINE": "1",
            "HF_HUB_CACHE": str(cwd / "empty-hf-cache"), "BROWSER": "", **env}
    p = subprocess.run(["bash", "-c", line], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def not_downloaded(p: subprocess.CompletedProcess) -> None:
    """The one-line message for weights that are not on disk (tests/test_firstrun.py holds its content)."""
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and f"hf:{MODEL} is not downloaded" in lines[0] and f"`hf download {MODEL}`" in lines[0]


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"{folder}/{pattern}: {found}"
    return found[0]


def write_script(path: Path, replies: list[str]) -> Path:
    path.write_text(json.dumps(replies))
    return path


@pytest.fixture
def recorded(tmp_path: Path, xvfb) -> Path:
    """A two-step desktop run in runs/RUN (a click, then terminate), recorded by `guiagent run`."""
    script = write_script(tmp_path / "replies.json", [CLICK, DONE])
    p = shell(f"guiagent run 'click the corner' --env desktop --model scripted:{script} --out runs/RUN --quiet",
              tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    return tmp_path / "runs" / "RUN"


@pytest.fixture
def vllm() -> Iterator[ChatServer]:
    """A loopback OpenAI-compatible server that ends each episode at its first step."""
    server = ChatServer()
    server.reply = DONE
    yield server
    server.close()


def served(line: str, server: ChatServer) -> str:
    return re.sub(r"http://127\.0\.0\.1:\d+/v1", server.url, line)


# ---- the commands run here -----------------------------------------------------------------------

def run_replay(line: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("recorded")
    p = shell(line, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr  # the same clicks as recorded


def run_new_checkpoint_on_recorded_screens(line: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("recorded")
    checkpoint = request.getfixturevalue("tiny_checkpoint")
    p = shell(line.replace('"…"', '"click the corner"').replace("NEW_CHECKPOINT", str(checkpoint))
              + " --max-new-tokens 24 --out runs/NEW", tmp_path, timeout=420)
    # a random-weight model replies nonsense; what the line promises is a run on the recorded screens
    assert p.returncode in (0, 1), p.stdout + p.stderr
    steps = (tmp_path / "runs" / "NEW" / "steps.jsonl").read_text().splitlines()
    assert steps and json.loads(steps[0])["screenshot"] == "step_001.png"


def run_not_downloaded(line: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("xvfb")
    if "my_tasks.py" in line:
        (tmp_path / "my_tasks.py").write_text(python_block("class SystemWifiOn(TaskEval)"))
    p = shell(line.replace("emulator-5554", request.getfixturevalue("phone").serial), tmp_path)
    not_downloaded(p)
    assert not (tmp_path / "runs").exists(), "a failed start leaves no run folder"


def run_served(line: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("xvfb")
    server = request.getfixturevalue("vllm")
    p = shell(served(line.replace("guiagent run ...", 'guiagent run "Open the settings" --env desktop'), server)
              + " --out runs/SERVED", tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert any(r.get("image_sizes") for r in server.requests), "the served model saw the screen"
    assert (tmp_path / "runs" / "SERVED" / "step_001.png").is_file()


def run_view(line: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    run = request.getfixturevalue("recorded")
    target = tmp_path / "runs" / "20261126-120000"
    run.rename(target)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {shlex.quote(str(opened))}\n')
    browser.chmod(0o755)
    p = shell(line.replace("RUN_DIR", "runs/20261126-120000"), tmp_path, BROWSER=str(browser))
    assert p.returncode == 0, p.stdout + p.stderr
    report = tmp_path / "report.html" if "-o report.html" in line else target / "report.html"
    page = report.read_text()
    assert '<section class="step" id="step-2">' in page and 'src="data:image/webp;base64,' in page
    if "--open" in line:
        deadline = time.monotonic() + 10
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opened.read_text().strip() == report.resolve().as_uri()


def run_oracle_suite(line: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("xvfb")
    env = {"ANDROID_ADB_SERVER_PORT": str(request.getfixturevalue("adb_server").port)} if "simphone" in line else {}
    p = shell(line, tmp_path, timeout=540, **env)
    assert p.returncode == 0, p.stdout + p.stderr
    s = summary(only(tmp_path / "runs", "bench-*"))
    # the sizes the README's comment states, and the oracle wins every one of them
    size = {"miniwob": 19 * 2, "simphone": 11 * 3, "desktop": 7}[line.split()[2]]
    assert (s["total"], s["successes"], s["skipped"], s["errors"]) == (size, size, 0, 0), s


def run_list(line: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    p = shell(line, tmp_path)
    assert p.returncode == 0, p.stderr
    rows = [r.split("\t") for r in p.stdout.splitlines()]
    assert len(rows) == 11 * 3 and all(r[2] == "android" and r[3].startswith("max_steps=") for r in rows)


def run_osworld_index(line: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("xvfb")
    server = request.getfixturevalue("vllm")
    server.reply = GIVE_UP  # OSWorld's FAIL: wins the infeasible task, loses the file task
    home = tmp_path / "home"
    examples = home / "OSWorld" / "evaluation_examples"
    tasks = {
        "infeasible-1": {"config": [], "evaluator": {"func": "infeasible"}},
        "file-1": {"config": [], "evaluator": {
            "func": "compare_text_file", "result": {"type": "vm_file", "path": "/home/user/out.txt", "dest": "out.txt"},
            "expected": {"type": "rule", "rules": {"expected": "hello"}}}},
    }
    for task_id, body in tasks.items():
        (examples / "examples" / "os").mkdir(parents=True, exist_ok=True)
        (examples / "examples" / "os" / f"{task_id}.json").write_text(json.dumps(
            {"id": task_id, "snapshot": "os", "instruction": f"task {task_id}", "source": "test", **body}))
    (examples / "test_small.json").write_text(json.dumps({"os": list(tasks)}))
    p = shell(served(line, server), tmp_path, HOME=str(home))
    assert p.returncode in (0, 1), p.stdout + p.stderr
    s = summary(only(tmp_path / "runs", "bench-*"))
    assert s["total"] == 2 and s["successes"] == 1, s


def run_own_tasks(line: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """my_tasks.py as the README writes it, with the weights not downloaded and then with a scripted model."""
    run_not_downloaded(line, tmp_path, request)
    phone = request.getfixturevalue("phone")
    script = write_script(tmp_path / "replies.json", [PHONE_DONE] * 10)
    again = line.replace(f"hf:{MODEL}", f"scripted:{script}").replace("emulator-5554", phone.serial)
    p = shell(again + " --out runs/OWN", tmp_path, ANDROID_ADB_SERVER_PORT=str(phone.server.port))
    assert p.returncode in (0, 1), p.stdout + p.stderr
    s = summary(tmp_path / "runs" / "OWN")
    assert s["total"] == (3 if "--instances 3" in line else 1) and s["scored"] == s["total"], s


HERE: dict[str, Callable[[str, Path, pytest.FixtureRequest], None]] = {
    "guiagent replay runs/RUN --env desktop": run_replay,
    'guiagent run "…" --env replay:runs/RUN --model hf:NEW_CHECKPOINT': run_new_checkpoint_on_recorded_screens,
    f'guiagent run "Open the settings" --env desktop --model hf:{MODEL}': run_not_downloaded,
    'guiagent run "Open the settings" --env desktop --model openai:http://127.0.0.1:8000/v1': run_served,
    "guiagent run ... --model openai:http://127.0.0.1:30000/v1": run_served,
    "guiagent view runs/20261126-120000": run_view,
    "guiagent view RUN_DIR -o report.html --open": run_view,
    "guiagent bench miniwob --model oracle": run_oracle_suite,
    "guiagent bench simphone --model oracle --workers 2": run_oracle_suite,
    "guiagent bench desktop --model oracle": run_oracle_suite,
    f"guiagent bench miniwob --model hf:{MODEL} --workers 4 --out runs/mw-7b": run_not_downloaded,
    f"guiagent bench miniwob --model hf:{MODEL} --out runs/mw-7b --resume": run_not_downloaded,
    "guiagent bench simphone --list": run_list,
    "guiagent bench ~/OSWorld/evaluation_examples/test_small.json --model openai:http://127.0.0.1:8000/v1":
        run_osworld_index,
    f"guiagent bench my_tasks.py --model hf:{MODEL} --instances 3": run_own_tasks,
    f"guiagent bench my_tasks.py --model hf:{MODEL} --device emulator-5554": run_own_tasks,
}

# Run, exactly as written, by another test: its source holds every word of the line.
ELSEWHERE = {
    "guiagent demo": "tests/test_namespace.py::test_a_wheel_install_runs_the_demo_from_an_empty_folder_without_a_display",
    'guiagent run "Open the text editor and type hello" --env desktop':
        "tests/test_firstrun.py::test_a_model_not_downloaded_is_one_message_that_says_how_to_get_it",
}

# Run by .ci/run on every push, as written (apt-get without sudo: CI is root).
CI = {
    "sudo apt-get install " + " ".join(apt_packages()),  # guiagent/tools/sysdeps.py is the list
    "pip install torch==2.13.0 -e '.[test]'",
    "python -m pytest -q",
}

# What this machine cannot run; the `guiagent` part of such a line is still checked against --help.
CANNOT = {
    "pip install -e '.[gpu]'": "a GPU box's install (torchvision, qwen-vl-utils, accelerate from an index)",
    "pip install flash-attn --no-build-isolation": "builds against CUDA",
    "vllm serve Qwen/Qwen2.5-VL-7B-Instruct --port 8000 --max-model-len 32768 --limit-mm-per-prompt "
    "'{\"image\": 4}' --mm-processor-kwargs '{\"min_pixels\": 3136, \"max_pixels\": 12845056}' "
    "[--tensor-parallel-size 2] [--data-parallel-size 4]": "vLLM needs a CUDA GPU",
    "python -m sglang.launch_server --model-path Qwen/Qwen2.5-VL-7B-Instruct --port 30000 --context-length 32768 "
    "[--tp 2] [--dp 4]": "SGLang needs a CUDA GPU",
    "vllm serve Qwen/Qwen2.5-VL-72B-Instruct --tensor-parallel-size 4 --max-model-len 32768 --port 8000":
        "vLLM needs four CUDA GPUs",
    "guiagent bench aw_system.py --model openai:http://127.0.0.1:8000/v1 --instances 3":
        "imports android_world, which no package index serves (tests/test_androidworld_unmodified.py runs tasks "
        "in its style)",
    "guiagent bench aw_system.py --model openai:http://127.0.0.1:8000/v1 --device emulator-5554":
        "imports android_world and needs its AVD",
    "guiagent bench miniwob --model openai:http://127.0.0.1:8000/v1 --workers 8 --out runs/mw-vllm":
        "eight Chromium workers against a served model: a GPU box's load (tests/test_harness_runner.py runs the "
        "suite with workers)",
    "python run_guiagent.py --observation_type screenshot --action_space pyautogui --max_steps 15 "
    "--test_all_meta_path evaluation_examples/test_all.json --result_dir ./results_guiagent":
        "OSWorld's runner and VM (tests/test_osworld_agent.py runs the agent it plugs in)",
    "guiagent bench screenspot --data DIR_OR_FILE --images DIR --model SPEC [--workers N] [--out DIR] [--resume]":
        "a synopsis; tests/test_offline_bench.py runs it on data in the published format",
    "guiagent bench screenspot-pro --data ANNOTATIONS_DIR --images IMAGES_DIR --model SPEC ...":
        "a synopsis; tests/test_offline_bench.py runs it on data in the published format",
    "guiagent bench androidcontrol --data TFRECORD_OR_JSONL_OR_DIR [--setting high|low|both] --model SPEC ...":
        "a synopsis; tests/test_offline_bench.py runs it on data in the published format",
}


def test_every_readme_command_is_accounted_for():
    commands = readme_commands()
    assert len(commands) == len(set(commands)), "a README command appears twice: account for it once"
    kinds = [HERE, ELSEWHERE, CI, CANNOT]
    assert sum(len(k) for k in kinds) == len(set().union(*kinds)), "a command is listed under two kinds"
    assert set(commands) == set().union(*kinds), (
        f"not accounted for: {sorted(set(commands) - set().union(*kinds))}; "
        f"no longer in the README: {sorted(set().union(*kinds) - set(commands))}")


@pytest.mark.parametrize("line", sorted(HERE))
def test_readme_command_runs(line, tmp_path, request):
    HERE[line](line, tmp_path, request)


@pytest.mark.parametrize("line", sorted(ELSEWHERE))
def test_readme_command_is_run_by_a_named_test(line):
    path, name = ELSEWHERE[line].split("::")
    tree = ast.parse((ROOT / path).read_text())
    funcs = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == name]
    assert funcs, f"{path} has no test {name}"
    words = {n.value for n in ast.walk(funcs[0]) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    decorators = {n.value for d in funcs[0].decorator_list for n in ast.walk(d)
                  if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    missing = [w for w in shlex.split(line)[1:] if w not in words | decorators]
    assert not missing, f"{path}::{name} does not run {line!r}: lacks {missing}"


def test_ci_runs_the_readme_install_and_test_commands():
    def plain(line: str) -> str:  # quiet flags and redirections change nothing that runs
        return re.sub(r"\s+", " ", re.sub(r" -q\b| -y\b| >/dev/null$", "", line)).strip()

    ci = [plain(ln) for ln in re.sub(r"\\\n\s*", " ", (ROOT / ".ci" / "run").read_text()).splitlines()]
    for line in CI:
        expected = plain(re.sub(r"^sudo ", "", line))
        if expected.startswith("apt-get install"):  # CI adds --no-recommends; the packages are the README's
            (got,) = [ln for ln in ci if ln.startswith("apt-get install")]
            assert got.split()[-len(expected.split()) + 2:] == expected.split()[2:], got
        else:
            assert expected in ci, f".ci/run does not run {expected!r}"


def _help(sub: list[str]) -> str:
    from guiagent.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main([*sub, "--help"]) == 0
    return buf.getvalue()


def _subcommand(words: list[str]) -> list[str]:
    from guiagent.cli.bench_offline import SUITES

    if words[0] == "bench" and len(words) > 1 and words[1] in SUITES:
        return words[:2]
    return words[:1]


def test_every_flag_the_readme_names_is_offered():
    """The synopsis and every `guiagent` line: each --flag is in that subcommand's --help."""
    synopsis = re.search(r"## The command line\n\n```\n(.*?)```", README, re.S)
    assert synopsis
    lines = [ln.strip() for ln in re.sub(r"\n\s+\[", " [", synopsis.group(1)).splitlines() if ln.strip()]
    lines += [ln for ln in readme_commands() if ln.startswith("guiagent ")]
    checked = 0
    for line in lines:
        words = line.split()[1:]
        sub = _subcommand(words)
        text = _help(sub)
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", line.split("#")[0]):
            assert re.search(rf"(?<![\w-]){re.escape(flag)}\b", text), f"`guiagent {' '.join(sub)}` has no {flag}"
            checked += 1
    assert checked > 40


def test_commands_in_the_prose_name_real_modules_scripts_and_extras():
    """Inline `python -m M`, `python benchmarks/S.py` and `pip install …[extra]` name what exists."""
    import importlib.util

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    spans = re.findall(r"`([^`\n]+)`", README) + readme_commands()
    modules = {m for s in spans for m in re.findall(r"^python -m ([\w.]+)", s)}
    assert "guiagent.model.tiny" in modules
    external = {"sglang.launch_server", "pytest"}  # the served model's engine; the test runner
    for module in sorted(modules - external):
        # only `guiagent` is installed: a bare `model.tiny` imports from a checkout's root, nowhere else
        assert module.split(".")[0] == "guiagent" and importlib.util.find_spec(module) is not None, (
            f"README: `python -m {module}` names no installed module")
    scripts = {m for s in spans for m in re.findall(r"python (benchmarks/\w+\.py)", s)}
    assert scripts and all((ROOT / s).is_file() for s in scripts), scripts
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    named = {e for s in spans for e in re.findall(r"(?:\.|guiagent)\[(\w+)\]", s)}
    assert named and named <= extras, named - extras
