"""The house's import rules, checked on the source: every import names `guiagent.…`, dependencies point one
way between the role packages (DESIGN.md), nothing below the CLI imports it, and no two files import each
other, directly or round a longer loop (lazy imports inside functions and TYPE_CHECKING blocks count too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"guiagent": "guiagent", "guiagent.agent": "agent", "guiagent.envs": "envs", "guiagent.tools": "tools",
            "guiagent.model": "model", "guiagent.harness": "harness"}
# role -> the roles it may import (DESIGN.md: tools uses none; model and envs use tools; agent uses model, envs,
# tools; harness uses agent and below; the CLI and the package root may use anything)
ALLOWED = {
    "tools": {"tools"}, "model": {"model", "tools"}, "envs": {"envs", "tools"},
    "agent": {"agent", "model", "envs", "tools"}, "harness": {"harness", "agent", "model", "envs", "tools"},
}
BARE = ("agent", "envs", "tools", "model", "harness")


def _modules() -> dict[str, Path]:
    mods = {}
    for package, folder in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join([package, *parts])] = path
    return mods


def _imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for every import statement anywhere in the file."""
    out: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.lineno, node.module, a.name) for a in node.names]
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()

    def owner(name: str) -> str:
        while name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        targets = set()
        for _, module, name in _imports(path):
            if module.split(".")[0] != "guiagent":
                continue
            full = f"{module}.{name}" if name else module
            targets.add(full if full in mods else owner(module))
        graph[mod] = targets - {mod}
    return graph


def _role(module: str) -> str:
    """The role package a module belongs to: agent, envs, tools, model, harness, cli, or root (`guiagent`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in (*BARE, "cli") else "root"


def test_every_import_uses_the_guiagent_namespace():
    files = [p for folder in (*PACKAGES.values(), "tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    bare = [f"{p.relative_to(ROOT)}:{line}: {module}" for p in files for line, module, _ in _imports(p)
            if module.split(".")[0] in BARE]
    assert not bare, "\n".join(bare)


def test_dependencies_point_one_way_and_nothing_imports_the_cli():
    wrong = []
    for mod, targets in _graph().items():
        for target in targets:
            role, target_role = _role(mod), _role(target)
            if role in ALLOWED and target_role not in ALLOWED[role]:
                wrong.append(f"{mod} -> {target}")
            if target_role == "cli" and role not in ("cli", "root"):
                wrong.append(f"{mod} -> {target} (the CLI is a leaf)")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycle_between_files():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_a_cycle_and_a_bare_import(tmp_path, monkeypatch):
    """The rules above are not vacuous: a planted cycle and a planted bare import are found."""
    pkg = tmp_path / "tools"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from guiagent.tools.b import x\n")
    (pkg / "b.py").write_text("def f():\n    from guiagent.tools import a\nimport model.base\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path, raising=False)
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "PACKAGES", {"guiagent.tools": "tools"})
    graph = _graph()
    assert graph["guiagent.tools.a"] == {"guiagent.tools.b"} and "guiagent.tools.a" in graph["guiagent.tools.b"]
    assert [m for _, m, _ in _imports(pkg / "b.py")] == ["model.base", "guiagent.tools"]


# The harness bottom up: a module imports harness modules of lower layers only (so task formats never import each
# other, the loader or the runner, and the shared vocabulary imports none). The built-in suites are data.
HARNESS_LAYERS = [
    {"base", "isolation", "offline.suite", "offline.protowire", "offline.oracle", "osworld_metrics"},
    {"osworld_cache"},
    {"steps", "plan", "remote_env", "results", "osworld_agent", "sandboxes.adb_controller", "androidworld_agent", "offline.screenspot", "offline.androidcontrol", "offline.report"},
    {"evaluators", "progress", "oracle", "sandboxes.browser", "sandboxes.desktop", "sandboxes.android"},
    {"native", "osworld", "androidworld", "sandboxes", "offline.runner"},
    {"loader", "offline"},
    {"runner"},
]


def test_the_harness_layers_point_one_way():
    layer = {f"guiagent.harness.{m}": i for i, mods in enumerate(HARNESS_LAYERS) for m in mods}
    graph = _graph()
    harness = [m for m in graph if m.startswith("guiagent.harness.") and not m.startswith("guiagent.harness.suites")]
    unplaced = sorted(set(harness) - set(layer))
    assert not unplaced, f"place these modules in HARNESS_LAYERS: {unplaced}"
    wrong = [f"{mod} -> {target}" for mod in harness for target in graph[mod]
             if target in layer and layer[target] >= layer[mod]]
    assert not wrong, "\n".join(sorted(wrong))
