"""Differential tests: our OSWorld metrics score exactly as OSWorld's own functions (the ``desktop-env``
wheel, installed with --no-deps) on the same files, generated here with openpyxl, python-docx and JSON.

OSWorld's metric modules are imported directly, without their package ``__init__`` (which imports every
metric's dependencies, OCR and PDF libraries included)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest
from guiagent.harness import osworld_metrics as ours

pytest.importorskip("openpyxl", reason="needs the [osworld] extra (pip install 'guiagent[osworld]')")
pytest.importorskip("docx", reason="needs the [osworld] extra (pip install 'guiagent[osworld]')")
pytest.importorskip("rapidfuzz", reason="needs the [osworld] extra (pip install 'guiagent[osworld]')")


def _wheel_root() -> Path | None:
    loaded = sys.modules.get("desktop_env")
    if loaded is not None and getattr(loaded, "__path__", None):
        return Path(list(loaded.__path__)[0])
    spec = importlib.util.find_spec("desktop_env")
    return Path(list(spec.submodule_search_locations)[0]) if spec and spec.submodule_search_locations else None


def _osworld(module: str) -> types.ModuleType:
    root = _wheel_root()
    if root is None:
        pytest.skip("needs OSWorld's desktop-env wheel (pip install --no-deps desktop-env)")
    for name, folder in (("desktop_env", root), ("desktop_env.evaluators", root / "evaluators"),
                         ("desktop_env.evaluators.metrics", root / "evaluators" / "metrics")):
        if name not in sys.modules or not hasattr(sys.modules[name], "__path__"):
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(folder)]
            pkg.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
            pkg.__spec__.submodule_search_locations = [str(folder)]
            sys.modules[name] = pkg
    if module == "docs" and "easyocr" not in sys.modules and importlib.util.find_spec("easyocr") is None:
        # docs.py imports easyocr (torch-sized) at the top for an OCR metric this file never calls; an
        # empty stand-in lets the rest of the module load, and any use of it would fail loudly
        sys.modules.setdefault("easyocr", types.ModuleType("easyocr"))
    try:
        return importlib.import_module(f"desktop_env.evaluators.metrics.{module}")
    except ImportError as exc:
        pytest.skip(f"OSWorld's {module} metrics need {exc.name}")


def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> str:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return str(path)


TABLE_CASES = [
    ({"S": [["a", "b"], [1, 2.00001]]}, {"S": [["a", "b"], [1, 2.0]]}, [{"type": "sheet_data", "sheet_idx0": 0,
                                                                          "sheet_idx1": "EI0"}]),
    ({"S": [["a", "b"], [1, 2.001]]}, {"S": [["a", "b"], [1, 2.0]]}, [{"type": "sheet_data", "sheet_idx0": "RI0",
                                                                        "sheet_idx1": "EI0"}]),
    ({"S": [["a"], [1.01]]}, {"S": [["a"], [1.0]]}, [{"type": "sheet_data", "sheet_idx0": "RNS",
                                                      "sheet_idx1": "ENS", "precision": 1}]),
    ({"S": [["a"], [1]], "T": [["x"]]}, {"S": [["a"], [1]]}, [{"type": "sheet_name"}]),
    ({"S": [["a"], [1]]}, {"S": [["a"], [1]]}, [{"type": "sheet_name"},
                                                {"type": "sheet_data", "sheet_idx0": 0, "sheet_idx1": "EI0"}]),
    ({"S": [["a"], [1]]}, {"S": [["a"], [1]]}, [{"type": "sheet_data", "sheet_idx0": "RNnope", "sheet_idx1": "EI0"}]),
    ({"S": [["a", "b"], ["x", None]]}, {"S": [["a", "b"], ["x", ""]]}, [{"type": "sheet_data", "sheet_idx0": 0,
                                                                          "sheet_idx1": "EI0"}]),
    ({"S": [["b", "a"], [2, 1]]}, {"S": [["a", "b"], [1, 2]]}, [{"type": "sheet_data", "sheet_idx0": 0,
                                                                  "sheet_idx1": "EI0"}]),
]


@pytest.mark.parametrize(("result", "expected", "rules"), TABLE_CASES)
def test_compare_table_scores_as_osworld(tmp_path, result, expected, rules):
    theirs = _osworld("table")
    r, e = _xlsx(tmp_path / "r.xlsx", result), _xlsx(tmp_path / "e.xlsx", expected)
    assert ours.compare_table(r, e, rules=rules) == float(theirs.compare_table(r, e, rules=rules))


def test_compare_table_missing_file_scores_zero_as_osworld(tmp_path):
    theirs = _osworld("table")
    e = _xlsx(tmp_path / "e.xlsx", {"S": [["a"]]})
    rules = [{"type": "sheet_name"}]
    assert ours.compare_table(str(tmp_path / "none.xlsx"), e, rules=rules) == theirs.compare_table(
        str(tmp_path / "none.xlsx"), e, rules=rules) == 0.0
    assert ours.compare_table(None, e, rules=rules) == theirs.compare_table(None, e, rules=rules) == 0.0


def _docx(path: Path, paragraphs: list[str]) -> str:
    from docx import Document

    doc = Document()
    for p in paragraphs:
        doc.add_paragraph(p)
    doc.save(path)
    return str(path)


DOCX_CASES = [
    (["Hello  world", "Two"], ["Hello world", "Two"], {}),
    (["Hello world"], ["hello world"], {}),
    (["Hello world"], ["hello world"], {"ignore_case": True}),
    (["b", "a"], ["a", "b"], {"ignore_order": True, "ignore_blanks": False}),
    (["a", "", "b"], ["a", "b"], {"ignore_blanks": False}),
    (["a", "", "b"], ["a", "b"], {"ignore_blanks": False, "delete_empty_lines": True}),
    (["The quick brown fox"], ["The quick brown fax"], {"fuzzy_match": True}),
    (["The quick", "brown fox"], ["The quick", "brown fax"], {"fuzzy_match": True, "ignore_blanks": False}),
    (["Some content here"], ["Some contents here"], {"content_only": True}),
    (["x"], ["x", "y"], {"ignore_blanks": False}),
]


@pytest.mark.parametrize(("a", "b", "options"), DOCX_CASES)
def test_compare_docx_files_scores_as_osworld(tmp_path, a, b, options):
    theirs = _osworld("docs")
    f1, f2 = _docx(tmp_path / "a.docx", a), _docx(tmp_path / "b.docx", b)
    assert ours.compare_docx_files(f1, f2, **options) == pytest.approx(float(theirs.compare_docx_files(f1, f2,
                                                                                                        **options)))


JSON_CASES = [
    ('{"a": 1, "b": "x"}', {"expected": {"a": 1}}),
    ("{'a': 1, 'b': 'x'}", {"expected": {"a": 1, "b": "x"}}),
    ({"a": 2}, {"expected": {"a": 1}}),
    ({"a": [2, 1]}, {"expected": {"a": [1, 2], "ignore_list_order": True}}),
    ({"a": "hello world"}, {"expected": {"a": "world"}, "expect_in_result": True}),
    ({"a": ["p", "q"]}, {"expected": {"a": ["z", "q"]}, "expect_in_result": True}),
    ({"a": "q"}, {"expected": {"a": ["z", "q"]}, "expect_in_result": True}),
    ({"a": 3}, {"expected": {"a": 3}, "expect_in_result": True}),
    ({"a": 1}, {"expected": {"a": "__EVALUATION_FAILED__"}}),
    (None, {"expected": {"a": 1}}),
]


@pytest.mark.parametrize(("result", "rules"), JSON_CASES)
def test_check_direct_json_object_scores_as_osworld(result, rules):
    theirs = _osworld("general")
    assert ours.check_direct_json_object(result, rules) == float(theirs.check_direct_json_object(result, rules))


@pytest.mark.parametrize(("content", "expected"), [
    ({"editor.fontSize": 14, "x": 1}, {"expected": {"editor.fontSize": 14}}),
    ({"editor.fontSize": 12}, {"expected": {"editor.fontSize": 14}}),
    ({}, {"expected": {"k": None}}),
    ("not json", {"expected": {"k": 1}}),
])
def test_check_json_settings_scores_as_osworld(tmp_path, content, expected):
    theirs = _osworld("vscode")
    f = tmp_path / "settings.json"
    f.write_text(content if isinstance(content, str) else json.dumps(content))
    assert ours.check_json_settings(str(f), expected) == float(theirs.check_json_settings(str(f), expected))
    assert ours.check_json_settings(None, expected) == float(theirs.check_json_settings(None, expected))
