"""OSWorld's file metrics that unlock most of its tasks, written here with the libraries OSWorld uses.

``compare_table`` (openpyxl + pandas), ``compare_docx_files`` (python-docx, rapidfuzz),
``check_direct_json_object`` and ``check_json_settings`` (plain JSON) score the same as OSWorld's
functions of those names on the same inputs (tests/test_osworld_metrics.py compares them against
the ``desktop-env`` wheel). Those libraries are the optional ``[osworld]`` extra and are imported
lazily. Where OSWorld's function has a branch this module does not implement (a ``compare_table``
rule other than ``sheet_name``/``sheet_data``, an ``.odt`` document), `unsupported_options` names it
and the task is skipped before it starts, never scored by a different rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

TABLE_RULES = ("sheet_name", "sheet_data")
OSWORLD_EXTRA_HINT = "pip install 'guiagent[osworld]'"


def check_direct_json_object(result: Any, rules: dict[str, Any], **_: Any) -> float:
    """1 when the JSON object `result` (a dict, or text with ' read as ") has the ``expected`` values.

    ``expect_in_result``: a list value passes when any of its items is in (or equals) the result's value,
    a string value when it is a substring of it; otherwise every key must be equal (``ignore_list_order``
    among the expected keys compares sorted lists).
    """
    if isinstance(result, str):
        try:
            result = json.loads(result.strip().replace("'", '"'))
        except json.JSONDecodeError:
            return 0.0  # OSWorld's function raises here; a crashed metric is a 0 either way
    if result is None:
        return 0.0
    expected = rules.get("expected", {})
    if isinstance(expected, dict) and any(v == "__EVALUATION_FAILED__" for v in expected.values()):
        return 0.0
    try:
        if not rules.get("expect_in_result", False):
            for key, want in rules["expected"].items():
                if rules["expected"].get("ignore_list_order", False):
                    if sorted(want) != sorted(result.get(key)):
                        return 0.0
                elif want != result.get(key):
                    return 0.0
            return 1.0
        for key, want in rules["expected"].items():
            got = result.get(key)
            if isinstance(want, list):
                if not any(isinstance(got, list) and w in got or isinstance(got, str) and w == got for w in want):
                    return 0.0
            elif isinstance(want, str):
                if want not in got:
                    return 0.0
            else:
                return 0.0
        return 1.0
    except Exception:  # noqa: BLE001 - OSWorld scores any malformed result 0
        return 0.0


def check_json_settings(actual: str | None, expected: dict[str, Any], **_: Any) -> float:
    """1 when the JSON file `actual` has every key/value of ``expected["expected"]``."""
    if not actual:
        return 0.0
    try:
        with open(actual) as f:
            data = json.load(f)
    except Exception:  # noqa: BLE001 - unreadable or not JSON: 0, as OSWorld
        return 0.0
    for key, value in expected["expected"].items():
        if not isinstance(data, dict) or key not in data or data[key] != value:
            return 0.0
    return 1.0


# ---------------------------------------------------------------------- spreadsheets


def _sheet(book: Any, names: list[str], expected: Any, expected_names: list[str] | None,
           idx: int | str) -> tuple[Any, str]:
    """OSWorld's sheet index: an int or RI<n> (result, by position), RN<name>, EI<n>, EN<name>."""
    if isinstance(idx, int):
        return book, names[idx] if 0 <= idx < len(names) else ""
    for prefix, target, by_name in (("RI", book, False), ("RN", book, True), ("EI", expected, False),
                                    ("EN", expected, True)):
        if idx.startswith(prefix):
            if by_name:
                return target, idx[2:]
            pool = names if prefix == "RI" else (expected_names or [])
            try:
                return target, pool[int(idx[2:])]
            except (ValueError, IndexError):
                return target, ""
    raise ValueError(f"unrecognized sheet index {idx!r}")


def _frame(book: Any, name: str) -> Any:
    import pandas as pd

    try:
        return pd.read_excel(book, name)
    except Exception:  # noqa: BLE001 - a missing sheet reads as None, as OSWorld
        return None


def compare_table(result: str | None, expected: str | None = None, **options: Any) -> float:
    """OSWorld's ``compare_table`` for the ``sheet_name`` and ``sheet_data`` rules, applied in order.

    ``sheet_data`` compares two sheets' values (pandas, rounded to ``precision`` digits, default 4);
    ``sheet_name`` the workbooks' sheet names. Any failing rule scores 0.
    """
    import os

    import openpyxl
    import pandas as pd

    if result is None or not os.path.exists(result):
        return 0.0
    try:
        openpyxl.load_workbook(filename=result)  # OSWorld loads it both ways: a broken file scores 0
        book = pd.ExcelFile(result)
    except Exception:  # noqa: BLE001
        return 0.0
    names = list(book.sheet_names)
    gold, gold_names = None, None
    if expected is not None:
        openpyxl.load_workbook(filename=expected)
        gold = pd.ExcelFile(expected)
        gold_names = list(gold.sheet_names)
    for rule in options["rules"]:
        kind = rule["type"]
        if kind == "sheet_name":
            ok = names == gold_names
        elif kind == "sheet_data":
            digits = rule.get("precision", 4)
            a = _frame(*_sheet(book, names, gold, gold_names, rule["sheet_idx0"]))
            if a is None:
                return 0.0
            b = _frame(*_sheet(book, names, gold, gold_names, rule["sheet_idx1"]))
            ok = bool(a.round(digits).equals(b.round(digits))) if b is not None else False
        else:
            raise NotImplementedError(f"compare_table rule {kind!r} is not implemented here")
        if not ok:
            return 0.0
    return 1.0


# ---------------------------------------------------------------------- documents


def compare_docx_files(file1: str | None, file2: str | None, **options: Any) -> float:
    """OSWorld's ``compare_docx_files`` on two .docx files: paragraph texts, with ``ignore_blanks``
    (default on: whitespace collapsed), ``ignore_case``, ``ignore_order``, ``content_only`` and
    ``fuzzy_match`` (rapidfuzz ratios), ``delete_empty_lines``."""
    if not file1 or not file2:
        return 0.0
    if not (file1.endswith(".docx") and file2.endswith(".docx")):
        return 0.0  # .odt pairs are refused by `unsupported_options` before the task runs
    from docx import Document
    from rapidfuzz import fuzz

    try:
        p1 = [p.text for p in Document(file1).paragraphs]
        p2 = [p.text for p in Document(file2).paragraphs]
    except Exception:  # noqa: BLE001 - an unreadable document scores 0, as OSWorld
        return 0.0
    ignore_case = options.get("ignore_case", False)
    if options.get("ignore_order", False):
        p1, p2 = sorted(p1), sorted(p2)
    if options.get("delete_empty_lines", False):
        p1, p2 = [p for p in p1 if p.strip()], [p for p in p2 if p.strip()]

    def joined(ps: list[str]) -> str:
        text = re.sub(r"\s+", " ", "\n".join(ps)).strip()
        return text.lower() if ignore_case else text

    fuzzy = options.get("fuzzy_match", False)
    if options.get("content_only", False):
        return float(fuzz.ratio(joined(p1), joined(p2)) / 100.0)
    if options.get("ignore_blanks", True):
        t1, t2 = joined(p1), joined(p2)
        if fuzzy:
            return float(fuzz.ratio(t1, t2) / 100.0)
        return 1.0 if t1 == t2 else 0.0
    if len(p1) != len(p2):
        return 0.0
    pairs = [(a.lower(), b.lower()) if ignore_case else (a, b) for a, b in zip(p1, p2, strict=True)]
    if fuzzy:
        if not p1:
            return 1.0
        return float(sum(fuzz.ratio(a, b) / 100.0 for a, b in pairs) / len(p1))
    return 1.0 if all(a == b for a, b in pairs) else 0.0


FILE_METRICS: dict[str, Callable[..., float]] = {
    "compare_table": compare_table,
    "compare_docx_files": compare_docx_files,
    "check_direct_json_object": check_direct_json_object,
    "check_json_settings": check_json_settings,
}
NEEDS_EXTRA = {"compare_table": ("openpyxl", "pandas"), "compare_docx_files": ("docx", "rapidfuzz")}


def unsupported_options(func: str, options: dict[str, Any], getters: list[dict[str, Any]]) -> str | None:
    """Why this metric cannot score these options here (None when it can): a missing library of the
    ``[osworld]`` extra, a ``compare_table`` rule or a file type this module does not implement."""
    import importlib.util

    for module in NEEDS_EXTRA.get(func, ()):
        if importlib.util.find_spec(module) is None:
            return f"metric {func!r} needs {module} ({OSWORLD_EXTRA_HINT})"
    if func == "compare_table":
        for rule in options.get("rules") or []:
            kind = rule.get("type") if isinstance(rule, dict) else None
            if kind not in TABLE_RULES:
                return f"compare_table rule {kind!r} is not implemented here (only {', '.join(TABLE_RULES)})"
    if func == "compare_docx_files":
        for g in getters:
            for name in (g.get("dest"), g.get("path")):
                for n in name if isinstance(name, list) else [name]:
                    if isinstance(n, str) and n.endswith(".odt"):
                        return "compare_docx_files on .odt documents is not implemented here"
    return None


__all__ = ["FILE_METRICS", "TABLE_RULES", "check_direct_json_object", "check_json_settings", "compare_docx_files",
           "compare_table", "unsupported_options"]
