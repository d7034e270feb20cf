"""OSWorld's file metrics that unlock most of its tasks, written here with the libraries OSWorld uses.

``compare_table`` (openpyxl + pandas), ``compare_docx_files`` (python-docx, rapidfuzz),
``compare_pptx_files`` (python-pptx), ``check_direct_json_object`` and ``check_json_settings`` (plain
JSON) score the same as OSWorld's functions of those names on the same inputs
(tests/test_osworld_metrics.py compares them against the ``desktop-env`` wheel, 1.0.2). Those libraries
are the optional ``[osworld]`` extra and are imported lazily. Where OSWorld's function has a branch this
module does not implement (a ``compare_table`` rule outside `TABLE_RULES`: ``style``, ``sparkline``,
``filter``; an ``.odt`` document), `unsupported_options` names it and the task is skipped
before it starts, never scored by a different rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

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
        try:
            return book, names[idx] if names and idx < len(names) else ""
        except IndexError:
            return book, ""
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
    """OSWorld's ``compare_table``: its ``rules`` applied in order, any failing one scoring 0.

    ``sheet_data`` compares two sheets' values (pandas, rounded to ``precision`` digits, default 4);
    ``sheet_name`` the workbooks' sheet names; ``sheet_print`` the CSV exports beside the workbooks
    (``<book>-<sheet>.csv``, the task's postconfig writes them; ``ignore_case``); ``sheet_fuzzy`` cell
    ranges by ``exact_match``/``includes``/``included_by``/``fuzzy_match`` after OSWorld's
    normalisations; ``pivot_table`` the pivot tables' ``pivot_props``, ``chart`` the charts' ``chart_props``; ``check_cell`` one cell's value or
    style against a rule; ``freeze``, ``zoom``, ``row_props``/``col_props`` and ``data_validation`` those
    sheet properties. Where OSWorld's function raises on a malformed file, this scores 0.
    """
    import os

    import openpyxl
    import pandas as pd

    if result is None or not os.path.exists(result):
        return 0.0
    try:
        xl_result = openpyxl.load_workbook(filename=result)  # OSWorld loads it both ways: a broken file scores 0
        book = pd.ExcelFile(result)
    except Exception:  # noqa: BLE001
        return 0.0
    names = list(book.sheet_names)
    gold, gold_names, xl_gold = None, None, None
    if expected is not None:
        xl_gold = openpyxl.load_workbook(filename=expected)
        gold = pd.ExcelFile(expected)
        gold_names = list(gold.sheet_names)
    books = {"pandas": (book, gold), "openpyxl": (xl_result, xl_gold), "path": (result, expected)}

    def sheet(kind: str, idx: int | str) -> tuple[Any, str]:
        r, e = books[kind]
        return _sheet(r, names, e, gold_names, idx)

    for rule in options["rules"]:
        kind = rule["type"]
        check = _TABLE_CHECKS.get(kind)
        if check is None:
            raise NotImplementedError(f"compare_table rule {kind!r} is not implemented here")
        try:
            ok = check(rule, sheet, names, gold_names)
        except Exception:  # noqa: BLE001 - where OSWorld's function raises: a crashed metric is a 0 either way
            return 0.0
        if not ok:
            return 0.0
    return 1.0


_Sheet = Callable[[str, "int | str"], "tuple[Any, str]"]


def _rule_sheet_name(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
    return names == gold_names


def _rule_sheet_data(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
    digits = rule.get("precision", 4)
    a = _frame(*sheet("pandas", rule["sheet_idx0"]))
    if a is None:
        return False
    b = _frame(*sheet("pandas", rule["sheet_idx1"]))
    return bool(a.round(digits).equals(b.round(digits))) if b is not None else False


def _printed(path: Any, name: str) -> list[str] | None:
    """The non-blank-ended, stripped lines of the CSV export ``<book>-<name>.csv``; None when missing."""
    import os

    try:
        csv = f"{os.path.splitext(path)[0]}-{name}.csv"
        text = None
        for encoding in ("utf-8", "latin-1"):  # OSWorld's later encodings are never reached after latin-1
            try:
                with open(csv, encoding=encoding) as f:
                    text = f.read()
                break
            except UnicodeDecodeError:
                continue
    except Exception:  # noqa: BLE001 - a missing export reads as None, as OSWorld
        return None
    lines = [line.strip() for line in (text or "").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _rule_sheet_print(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
    a = _printed(*sheet("path", rule["sheet_idx0"]))
    if a is None:
        return False
    b = _printed(*sheet("path", rule["sheet_idx1"]))
    if b is None:
        return False
    if rule.get("ignore_case", False):
        a, b = [x.lower() for x in a], [x.lower() for x in b]
    return a == b


_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _xml_text(elem: Any) -> Any:
    """An element's value as xmltodict gives it (OSWorld reads cells so): its text stripped (None when
    blank), or a dict of its ``@``attributes and ``#text`` when it has attributes."""
    text = (elem.text or "").strip() or None
    if not elem.attrib:
        return text
    out: dict[str, Any] = {}
    for key, value in elem.attrib.items():
        out["@" + (key[1:].replace("}", ":") if key.startswith("{") else key)] = value
    if text is not None:
        out["#text"] = text
    return out


def read_cell_value(path: str, sheet_name: str, coordinate: str) -> Any:
    """A cell's stored value read from the .xlsx XML, as OSWorld's ``read_cell_value``: a number as a
    float, a (shared, inline or formula) string as text, an error as its code; None for an empty or
    missing cell, sheet or file, and for booleans and dates."""
    import os
    import xml.etree.ElementTree as ET
    import zipfile

    if not os.path.exists(path):
        return None
    try:
        with zipfile.ZipFile(path, "r") as z:
            try:
                sst = ET.fromstring(z.read("xl/sharedStrings.xml"))
                shared = ["".join(t.text for t in si.iter(f"{_MAIN_NS}t"))  # type: ignore[misc]
                          for si in sst.findall(f"{_MAIN_NS}si")]
            except Exception:  # noqa: BLE001 - OSWorld then has no shared strings (an empty <t/> does it)
                shared = []
            workbook = ET.fromstring(z.read("xl/workbook.xml"))
            ids = {s.get("name"): s.get("sheetId") for s in workbook.iter(f"{_MAIN_NS}sheet")}
            xml = ET.fromstring(z.read(f"xl/worksheets/sheet{ids[sheet_name]}.xml"))
            cells = [c for row in xml.iter(f"{_MAIN_NS}row") for c in row.findall(f"{_MAIN_NS}c")
                     if c.get("r") == coordinate]
            if not cells:
                return None
    except Exception:  # noqa: BLE001 - unreadable, no such sheet: None, as OSWorld
        return None
    try:
        return _stored_value(cells[0], shared)
    except (KeyError, ValueError):  # a non-numeric number or string index: None, as OSWorld
        return None


def _stored_value(cell: Any, shared: list[str]) -> Any:
    kind = cell.get("t")
    v = cell.find(f"{_MAIN_NS}v")
    if kind in (None, "n", "s", "str", "e") and v is None:
        return None
    if kind in (None, "n"):
        return float(_xml_text(v))  # an empty <v/> raises there too
    if kind == "s":
        return shared[int(_xml_text(v))]  # no shared strings: OSWorld raises here too
    if kind in ("str", "e"):
        return _xml_text(v)
    if kind == "inlineStr":
        box = cell.find(f"{_MAIN_NS}is")
        if box is None:
            return None
        if len(box) == 0 and not box.attrib and not (box.text or "").strip():
            raise TypeError("empty inline string")  # xmltodict gives None, which OSWorld then indexes
        texts = box.findall(f"{_MAIN_NS}t")
        if not texts:
            return None
        return _xml_text(texts[0]) if len(texts) == 1 else [_xml_text(t) for t in texts]
    return None  # booleans and dates are not read


def _rule_sheet_fuzzy(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.cell_range import MultiCellRange
    from rapidfuzz import fuzz

    s1, s2 = sheet("path", rule["sheet_idx0"]), sheet("path", rule["sheet_idx1"])
    ok = True
    for sub in rule["rules"]:
        for rng in MultiCellRange(sub["range"]):
            for row, col in rng.cells:
                coordinate = f"{get_column_letter(col)}{row:d}"
                v1, v2 = str(read_cell_value(*s1, coordinate)), str(read_cell_value(*s2, coordinate))
                for old, new in sub.get("normalization", []):
                    v1, v2 = v1.replace(old, new), v2.replace(old, new)
                if "trim_leadings" in sub:
                    v1, v2 = v1.lstrip(sub["trim_leadings"]), v2.lstrip(sub["trim_leadings"])
                if "trim_trailings" in sub:
                    v1, v2 = v1.rstrip(sub["trim_trailings"]), v2.rstrip(sub["trim_trailings"])
                if "ignore_chars" in sub:
                    drop = set(sub["ignore_chars"])
                    v1, v2 = "".join(c for c in v1 if c not in drop), "".join(c for c in v2 if c not in drop)
                if sub.get("ignore_case", False):
                    v1, v2 = v1.lower(), v2.lower()
                how = sub["type"]
                if how == "includes":
                    hit = v2 in v1
                elif how == "included_by":
                    hit = v1 in v2
                elif how == "fuzzy_match":
                    hit = fuzz.ratio(v1, v2) >= sub.get("threshold", 85.0)
                elif how == "exact_match":
                    hit = v1 == v2
                else:
                    raise ValueError(f"unknown sheet_fuzzy type {how!r}")  # OSWorld's raises (unbound name)
                ok = ok and hit
    return ok


def _pivots(book: Any, name: str, props: set[str]) -> dict[str, Any]:
    """OSWorld's summary of a sheet's pivot tables, keyed by data source: the selected ``props``, with
    field numbers shifted past the source's empty leading columns, as OSWorld does."""
    from openpyxl.utils import coordinate_to_tuple

    try:
        ws = book[name]
    except KeyError:
        return {}
    out: dict[str, Any] = {}
    for pvt in ws._pivots:
        raw = [[(item.h, item.x) for item in f.items if item.x is not None] for f in pvt.pivotFields]
        left = 0
        while left < len(raw) and not raw[left]:
            left += 1
        right = len(raw)
        while right > left and not raw[right - 1]:
            right -= 1
        selection, right_bias = raw[left:right], len(raw) - right
        src = pvt.cache.cacheSource
        first, last = src.worksheetSource.ref.split(":")
        r1, c1 = coordinate_to_tuple(first)
        r2, c2 = coordinate_to_tuple(last)
        key = f"{src.type};{(r1, c1 + left)}:{(r2, c2 - right_bias)};{src.worksheetSource.sheet}"
        info: dict[str, Any] = {}
        for prop, attr in (("name", "name"), ("show_total", "visualTotals"), ("show_empty_row", "showEmptyRow"),
                           ("show_empty_col", "showEmptyCol"), ("show_headers", "showHeaders"),
                           ("location", "location")):
            if prop in props:
                info[prop] = getattr(pvt, attr)
        if "filter" in props or "selection" in props:
            info["selection"] = selection if "ordered" in props else [set(r) for r in selection]
        if "filter" in props:
            info["filter_fields"] = {f.fld for f in pvt.pageFields}
        if "col_fields" in props:
            info["col_fields"] = [f.x - left for f in pvt.colFields]
        if "row_fields" in props:
            info["row_fields"] = [f.x - left for f in pvt.rowFields]
        if "data_fields" in props:
            named = "data_fields_name" in props
            info["data_fields"] = [f"{f.fld - left:d};{f.name if named else ''};{f.subtotal};{f.showDataAs}"
                                   for f in pvt.dataFields]
        out[key] = info
    return out


def _rule_pivot_table(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
    props = set(rule.get("pivot_props", []))
    return _pivots(*sheet("openpyxl", rule["sheet_idx0"]), props) == _pivots(*sheet("openpyxl", rule["sheet_idx1"]),
                                                                               props)


def _ref_formula(source: Any) -> Any:
    """A chart data source's cell reference (numeric, else text); "" when it has none, as OSWorld."""
    for attr in ("numRef", "strRef"):
        ref = getattr(source, attr, None)
        if ref is not None and hasattr(ref, "f"):
            return ref.f
    return ""


def _rich_title(title: Any) -> Any:
    try:
        return title.tx.rich.p[0].r[0].t
    except Exception:  # noqa: BLE001 - no (rich) title: None, as OSWorld
        return None


def _charts(book: Any, name: str, props: set[str]) -> dict[str, Any]:
    """OSWorld's summary of a sheet's charts, keyed by their series' value and category references: the
    selected ``props`` (``title``, ``legend``, ``anchor``, ``width``, ``height``, ``type``,
    ``direction``, ``xtitle``/``ytitle``/``ztitle``)."""
    try:
        ws = book[name]
    except KeyError:
        return {}
    out: dict[str, Any] = {}
    for ch in ws._charts:
        key = ";".join(f"{_ref_formula(ser.val)},{_ref_formula(ser.cat)}" for ser in ch.series)
        info: dict[str, Any] = {}
        if "title" in props:
            info["title"] = _rich_title(ch.title)
        if "legend" in props:
            info["legend"] = ch.legend.position if ch.legend is not None else None
        if "anchor" in props:  # OSWorld's list: the start column, then the end row twice
            a = ch.anchor
            info["anchor"] = [a.editAs, a._from.col, a.to.row, a.to.col, a.to.row]
        if "width" in props:
            info["width"] = ch.width
        if "height" in props:
            info["height"] = ch.height
        if "type" in props:
            info["type"] = ch.tagname
        if "direction" in props:
            info["direction"] = ch.barDir  # not a bar chart: OSWorld's raises, a 0
        for axis in ("x", "y", "z"):
            if f"{axis}title" in props:
                info[f"{axis}title"] = _rich_title(getattr(getattr(ch, f"{axis}_axis", None), "title", None))
        out[key] = info
    return out


def _rule_chart(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
    props = set(rule.get("chart_props", []))
    return _charts(*sheet("openpyxl", rule["sheet_idx0"]), props) == _charts(*sheet("openpyxl", rule["sheet_idx1"]),
                                                                             props)


def _worksheet(book: Any, name: str) -> Any:
    try:
        return book[name]
    except Exception:  # noqa: BLE001 - a missing sheet reads as None, as OSWorld
        return None


def match_value(value: Any, rule: dict[str, Any]) -> bool:
    """OSWorld's value rule ``{"method": ..., "ref": ...}``: ``re[.FLAG...]`` (search), ``eq``/``ne``/
    ``lt``/``le``/``gt``/``ge``, ``approx:<tolerance>``, ``spreadsheet_range`` [inner, outer],
    ``range.<l><r>`` ([a, b], ``t`` strict, ``e`` inclusive), ``str_list_eq``/``str_set_eq`` (a quoted
    comma list)."""
    import operator

    method = rule["method"]
    if method.startswith("re"):
        flags = 0
        for name in method.split(".")[1:]:
            flags |= getattr(re, name)
        return re.search(rule["ref"], value, re.RegexFlag(flags)) is not None
    if method in {"eq", "ne", "le", "lt", "ge", "gt"}:
        return bool(getattr(operator, method)(value, rule["ref"]))
    if method.startswith("approx"):
        tolerance = float(method.split(":")[1])
        try:
            value = float(value)
        except (ValueError, TypeError):
            return False
        return abs(value - rule["ref"]) <= tolerance
    if method == "spreadsheet_range":
        from openpyxl.worksheet.cell_range import MultiCellRange

        inner, outer = MultiCellRange(rule["ref"][0]), MultiCellRange(rule["ref"][1])
        return all(r in value for r in inner) and all(r in outer for r in value)
    if method.startswith("range."):
        lo, hi = method[6], method[7]
        return bool(getattr(operator, "l" + lo)(rule["ref"][0], value)
                    and getattr(operator, "l" + hi)(value, rule["ref"][1]))
    if method in {"str_list_eq", "str_set_eq"}:
        box = list if method == "str_list_eq" else set
        return bool(box(value.strip("\"'").split(",")) == box(rule["ref"]))
    raise NotImplementedError(f"value rule method {method!r}")


CELL_STYLES = ("number_format", "font_name", "font_family", "font_color", "font_bold", "font_italic",
               "font_underline", "font_size", "fill_type", "bgcolor", "fgcolor", "hyperlink", "merge")


def cell_style(prop: str, cell: Any) -> Any:
    """A cell's style property as OSWorld's ``_read_cell_style`` reads it (font ones None on an empty
    cell; ``bgcolor``/``fgcolor`` are both the fill's foreground colour)."""
    from openpyxl.cell.cell import MergedCell

    filled = cell.value is not None
    if prop == "number_format":
        return cell.number_format if filled and cell.data_type == "n" else None
    fonts = {"font_name": "name", "font_family": "family", "font_bold": "bold", "font_italic": "italic",
             "font_underline": "underline", "font_size": "size"}
    if prop in fonts:
        return getattr(cell.font, fonts[prop]) if filled else None
    if prop == "font_color":
        return cell.font.color.rgb if filled else None
    if prop in ("fill_type", "bgcolor", "fgcolor"):
        try:
            return cell.fill.tagname if prop == "fill_type" else cell.fill.fgColor.rgb
        except Exception:  # noqa: BLE001 - no fill: None, as OSWorld
            return None
    if prop == "hyperlink":
        return (cell.hyperlink or "") if filled else None
    if prop == "merge":
        return isinstance(cell, MergedCell)
    raise NotImplementedError(f"cell style {prop!r}")


def _rule_check_cell(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
    ws = _worksheet(*sheet("openpyxl", rule["sheet_idx"]))
    if ws is None:
        return False
    cell = ws[rule["coordinate"]]
    ok = True
    for prop, value_rule in rule["props"].items():
        if prop == "value":
            try:
                value = read_cell_value(*sheet("path", rule["sheet_idx"]), rule["coordinate"])
            except Exception:  # noqa: BLE001 - OSWorld reads an unreadable value as None here
                value = None
        else:
            try:
                value = cell_style(prop, cell)
            except Exception:  # noqa: BLE001 - likewise for a style
                value = None
        ok = ok and match_value(value, value_rule)
    return ok


def _rule_freeze(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
    a = _worksheet(*sheet("openpyxl", rule["sheet_idx0"]))
    if a is None:
        return False
    b = _worksheet(*sheet("openpyxl", rule["sheet_idx1"]))
    return bool(a.freeze_panes == b.freeze_panes)  # a missing second sheet raises in OSWorld: 0


def _rule_zoom(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
    ws = _worksheet(*sheet("openpyxl", rule["sheet_idx"]))
    if ws is None:
        return False
    return match_value(ws.sheet_view.zoomScale or 100.0, rule)


def _dimensions(book: Any, name: str, obj: str, props: set[str]) -> dict[Any, dict[str, Any]]:
    try:
        ws = book[name]
    except KeyError:
        return {}
    return {no: {p: getattr(dim, p) for p in props} for no, dim in getattr(ws, f"{obj}_dimensions").items()}


def _rule_dimensions(obj: str) -> Callable[..., bool]:
    def check(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
        props = set(rule.get("props", []))
        return _dimensions(*sheet("openpyxl", rule["sheet_idx0"]), obj, props) == _dimensions(
            *sheet("openpyxl", rule["sheet_idx1"]), obj, props)
    return check


def _rule_data_validation(rule: dict[str, Any], sheet: _Sheet, names: list[str], gold_names: Any) -> bool:
    ws = _worksheet(*sheet("openpyxl", rule["sheet_idx"]))
    if ws is None:
        return False
    validations = ws.data_validations.dataValidation
    if len(validations) < len(rule["dv_props"]):
        return False
    # every validation on the sheet must match one of the wanted ones
    return all(any(all(match_value(getattr(dv, attr), how) for attr, how in want.items())
                   for want in rule["dv_props"]) for dv in validations)


_TABLE_CHECKS: dict[str, Callable[..., bool]] = {
    "sheet_name": _rule_sheet_name, "sheet_data": _rule_sheet_data, "sheet_print": _rule_sheet_print,
    "sheet_fuzzy": _rule_sheet_fuzzy, "pivot_table": _rule_pivot_table, "chart": _rule_chart, "check_cell": _rule_check_cell,
    "freeze": _rule_freeze, "zoom": _rule_zoom, "row_props": _rule_dimensions("row"),
    "col_props": _rule_dimensions("column"), "data_validation": _rule_data_validation,
}
TABLE_RULES = tuple(_TABLE_CHECKS)


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


# ---------------------------------------------------------------------- presentations

# OSWorld's option names and defaults; a value is read for its truth, as OSWorld does. The ``*_position``,
# ``shift_size``, ``image_size`` and ``modify_height`` options are OSWorld's checks for single tasks (fixed
# slide numbers, texts and EMU thresholds); ``enable_debug`` only makes OSWorld read every shape's type.
PPTX_OPTIONS: dict[str, Any] = {
    "examine_number_of_slides": True, "examine_shape": True, "examine_text": True, "examine_indent": True,
    "examine_font_name": True, "examine_font_size": True, "examine_font_bold": True,
    "examine_font_italic": True, "examine_color_rgb": True, "examine_font_underline": True,
    "examine_strike_through": True, "examine_alignment": True, "examine_title_bottom_position": False,
    "examine_table_bottom_position": False, "examine_right_position": False, "examine_top_position": False,
    "examine_shape_for_shift_size": False, "examine_image_size": False, "examine_modify_height": False,
    "examine_bullets": True, "examine_background_color": True, "examine_note": True,
    "approximately_tolerance": 0.005, "enable_debug": True,
}
_BOX = ("left", "top", "width", "height")


def compare_pptx_files(file1: str | None, file2: str | None, **options: Any) -> float:
    """OSWorld's ``compare_pptx_files``: 1 when two .pptx files match slide by slide and shape by shape.

    Checks (each an ``examine_*`` option, defaults as OSWorld's `PPTX_OPTIONS`): slide count, background
    colour, notes, shape boxes (within ``approximately_tolerance``, relative), texts, paragraph alignment
    (unset = left) and level, run fonts (name, size, bold, italic, RGB colour, underline, strike),
    bullets, table cell formatting, and OSWorld's task-specific position checks. Shape, paragraph and
    run counts must always match. Properties are read in OSWorld's order, because python-pptx writes on
    some reads (a paragraph's level adds an ``a:pPr``) and the bullet check, which reads the whole slide
    at each run, sees those. A missing or unreadable file, or one where OSWorld's function raises (a theme
    background colour, a shape without a box against one with), scores 0.
    """
    if not file1 or not file2:
        return 0.0
    from pptx import Presentation

    opt = {key: options.get(key, default) for key, default in PPTX_OPTIONS.items()}
    try:
        return 1.0 if _same_presentation(Presentation(file1), Presentation(file2), opt) else 0.0
    except Exception:  # noqa: BLE001 - where OSWorld's function raises: a crashed metric is a 0 either way
        return 0.0


def _same_presentation(p1: Any, p2: Any, opt: dict[str, Any]) -> bool:
    if opt["examine_number_of_slides"] and len(p1.slides) != len(p2.slides):
        return False
    return all(_same_slide(s1, s2, number, opt)
               for number, (s1, s2) in enumerate(zip(p1.slides, p2.slides, strict=False), start=1))


def _background_rgb(slide: Any) -> Any:
    """The slide's solid background colour, else its master's; python-pptx's ``fill`` rewrites a style
    reference to no fill on reading it, as it does for OSWorld."""
    from pptx.enum.dml import MSO_FILL

    fill = slide.background.fill
    if fill.type == MSO_FILL.SOLID:
        return fill.fore_color.rgb
    if fill.type == MSO_FILL.BACKGROUND:
        master = slide.slide_layout.slide_master.background.fill
        return master.fore_color.rgb if master.type == MSO_FILL.SOLID else None
    return None


def _close(a: Any, b: Any, tolerance: float) -> bool:
    if a == b:
        return True
    if a == 0 or b == 0:
        return False
    return bool(abs(a - b) / max(abs(a), abs(b)) <= tolerance)


def _same_box(s1: Any, s2: Any, tolerance: float) -> bool:
    return all(_close(getattr(s1, k), getattr(s2, k), tolerance) for k in _BOX)  # lazily, in OSWorld's order


def _text_shapes(shapes: Any) -> list[Any]:
    """Every shape with a text frame, group members included, in document order."""
    out: list[Any] = []
    for shape in shapes:
        if hasattr(shape, "text") and hasattr(shape, "text_frame"):
            out.append(shape)
        if hasattr(shape, "shapes"):
            out += _text_shapes(shape.shapes)
    return out


def _same_slide(s1: Any, s2: Any, number: int, opt: dict[str, Any]) -> bool:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    # both colours and both notes are read whatever the options say: a colour python-pptx cannot give
    # as RGB (a theme colour) or a notes page without a body fails OSWorld's function, so it scores 0
    if _background_rgb(s1) != _background_rgb(s2) and opt["examine_background_color"]:
        return False
    if s1.notes_slide.notes_text_frame.text.strip() != s2.notes_slide.notes_text_frame.text.strip() \
            and opt["examine_note"]:
        return False
    texts1, texts2 = _text_shapes(s1.shapes), _text_shapes(s2.shapes)
    if len(s1.shapes) != len(s2.shapes):
        return False
    tol = float(opt["approximately_tolerance"])
    for a, b in zip(s1.shapes, s2.shapes, strict=True):
        if opt["enable_debug"]:
            _ = (a.shape_type, b.shape_type)  # OSWorld's debug log reads both; an unknown shape type raises there
        if not _same_position(a, b, number, tol, opt):
            return False
        if a.shape_type == MSO_SHAPE_TYPE.TABLE and not _same_table(a.table, b.table, opt):
            return False
        if hasattr(a, "text") and hasattr(b, "text") and not _same_text_shape(a, b, s1, s2, opt):
            return False
    if len(texts1) != len(texts2):
        return False
    if opt["examine_alignment"]:
        for a, b in zip(texts1, texts2, strict=True):
            if a.text.strip() != b.text.strip() and opt["examine_text"]:
                return False
            ps1, ps2 = a.text_frame.paragraphs, b.text_frame.paragraphs
            if len(ps1) != len(ps2) or any(_alignment(x) != _alignment(y) for x, y in zip(ps1, ps2, strict=True)):
                return False
    return True


def _same_position(a: Any, b: Any, number: int, tol: float, opt: dict[str, Any]) -> bool:
    """The box checks: ``examine_shape`` and OSWorld's task-specific ones, in OSWorld's order."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    picture, table, freeform = MSO_SHAPE_TYPE.PICTURE, MSO_SHAPE_TYPE.TABLE, MSO_SHAPE_TYPE.FREEFORM
    texts = hasattr(a, "text") and hasattr(b, "text")
    if opt["examine_title_bottom_position"]:
        if texts and a.text == b.text:
            if a.text == "Product Comparison" and (a.top <= b.top or a.top < 3600000):
                return False
        elif not _same_box(a, b, tol):
            return False
    if opt["examine_table_bottom_position"]:
        if number == 3 and a.shape_type == table and b.shape_type == table:
            if a.top <= b.top or a.top < 3600000:
                return False
        elif not _same_box(a, b, tol):
            return False
    if opt["examine_right_position"] and number == 2 and not hasattr(a, "text") and not hasattr(b, "text") \
            and (a.left <= b.left or a.left < 4320000):
        return False
    if opt["examine_top_position"] and number == 2 and a.shape_type == picture and b.shape_type == picture \
            and (a.top >= b.top or a.top > 1980000):
        return False
    if opt["examine_shape_for_shift_size"] and not _same_box(a, b, tol) and not (
            texts and a.text == b.text == "Elaborate on what you want to discuss."):
        return False
    if not _same_box(a, b, tol) and opt["examine_shape"]:  # the boxes are read even when not examined
        return False
    if opt["examine_image_size"]:
        if a.shape_type == picture and b.shape_type == picture:
            if not (_close(a.width, b.width, tol) and _close(a.height, b.height, tol)):
                return False
        elif not _same_box(a, b, tol):
            return False
    if opt["examine_modify_height"]:
        if (not hasattr(a, "text") and not hasattr(b, "text")) or (
                a.shape_type == freeform and b.shape_type == freeform):
            if not _close(a.height, b.height, tol):
                return False
        elif not _same_box(a, b, tol):
            return False
    return True


def _unset_or_false(a: Any, b: Any) -> bool:
    return a in (None, False) and b in (None, False)


def _underline_differs(u1: Any, u2: Any) -> bool:
    """OSWorld's underline rule: two set values that differ, or unset against True (unset against False
    or against a named underline style passes)."""
    if u1 == u2:
        return False
    return (u1 is not None and u2 is not None) or (u1 is None and u2 is True) or (u1 is True and u2 is None)


def _color_differs(f1: Any, f2: Any) -> bool:
    """Two explicit RGB colours that differ; a theme or unset colour is not compared. Reading ``color``
    turns a non-solid run fill into an empty solid one, as it does for OSWorld."""
    if hasattr(f1.color, "rgb") and hasattr(f2.color, "rgb"):
        return bool(f1.color.rgb != f2.color.rgb)
    return False


def _same_table(t1: Any, t2: Any, opt: dict[str, Any]) -> bool:
    """Table cells' run formatting (their texts are not compared, as in OSWorld); bold, italic and
    underline are compared whatever the ``examine_font_*`` options say, as OSWorld does."""
    if len(t1.rows) != len(t2.rows) or len(t1.columns) != len(t2.columns):
        return False
    for r in range(len(t1.rows)):
        for c in range(len(t1.columns)):
            ps1, ps2 = t1.cell(r, c).text_frame.paragraphs, t2.cell(r, c).text_frame.paragraphs
            if len(ps1) != len(ps2):
                return False
            for p1, p2 in zip(ps1, ps2, strict=True):
                if len(p1.runs) != len(p2.runs):
                    return False
                for r1, r2 in zip(p1.runs, p2.runs, strict=True):
                    if _color_differs(r1.font, r2.font) and opt["examine_color_rgb"]:
                        return False
                    f1, f2 = r1.font, r2.font
                    if f1.bold != f2.bold and not _unset_or_false(f1.bold, f2.bold):
                        return False
                    if f1.italic != f2.italic and not _unset_or_false(f1.italic, f2.italic):
                        return False
                    if _underline_differs(f1.underline, f2.underline):
                        return False
    return True


def _alignment(paragraph: Any) -> Any:
    from pptx.enum.text import PP_ALIGN

    value = paragraph.alignment
    return PP_ALIGN.LEFT if value is None else value


def _same_text_shape(a: Any, b: Any, slide1: Any, slide2: Any, opt: dict[str, Any]) -> bool:
    if a.text.strip() != b.text.strip() and opt["examine_text"]:
        return False
    ps1, ps2 = a.text_frame.paragraphs, b.text_frame.paragraphs
    if len(ps1) != len(ps2):
        return False
    for p1, p2 in zip(ps1, ps2, strict=True):
        if opt["examine_alignment"] and _alignment(p1) != _alignment(p2):
            return False
        if p1.text != p2.text and opt["examine_text"]:
            return False
        # python-pptx adds an empty a:pPr to a paragraph whose level (or alignment) is read, which the
        # bullet check below sees: the level is read whatever the options say, as OSWorld reads it
        if p1.level != p2.level and opt["examine_indent"]:
            return False
        if len(p1.runs) != len(p2.runs):
            return False
        for r1, r2 in zip(p1.runs, p2.runs, strict=True):
            if not _same_run(r1.font, r2.font, opt):
                return False
            if opt["examine_bullets"] and not _same_bullets(slide1.element, slide2.element):
                return False
    return True


def _same_run(f1: Any, f2: Any, opt: dict[str, Any]) -> bool:
    if f1.name != f2.name and opt["examine_font_name"]:
        return False
    if f1.size != f2.size and opt["examine_font_size"]:
        return False
    if f1.bold != f2.bold and opt["examine_font_bold"] and not _unset_or_false(f1.bold, f2.bold):
        return False
    if f1.italic != f2.italic and opt["examine_font_italic"] and not _unset_or_false(f1.italic, f2.italic):
        return False
    if _color_differs(f1, f2) and opt["examine_color_rgb"]:
        return False
    if _underline_differs(f1.underline, f2.underline) and opt["examine_font_underline"]:
        return False
    strike1, strike2 = (f._element.attrib.get("strike", "noStrike") for f in (f1, f2))  # python-pptx has no strike API
    return not (strike1 != strike2 and opt["examine_strike_through"])


def _bullets(slide_xml: Any) -> list[tuple[Any, str, str]] | None:
    """(level, bullet character, text) of each paragraph with text anywhere on the slide; None when a
    text element is empty, where OSWorld's extraction fails and it skips the bullet check."""
    from pptx.oxml.ns import qn

    out = []
    for p in slide_xml.iter(qn("a:p")):
        pieces = [t.text for t in p.iter(qn("a:t"))]
        if any(piece is None for piece in pieces):
            return None
        text = "".join(pieces)
        if not text.strip():
            continue
        ppr = p.find(qn("a:pPr"))
        if ppr is None:
            level, char = "No Level", "No Bullet"  # no a:pPr differs from an a:pPr without a level
        else:
            bu = ppr.find(qn("a:buChar"))
            level = "0" if ppr.get("lvl") is None else ppr.get("lvl")  # unset is level 0, as OSWorld reads it
            char = bu.get("char") if bu is not None else "No Bullet"
        out.append((level, char, text))
    return out


def _same_bullets(slide1: Any, slide2: Any) -> bool:
    b1, b2 = _bullets(slide1), _bullets(slide2)
    return b1 is None or b2 is None or b1 == b2


FILE_METRICS: dict[str, Callable[..., float]] = {
    "compare_table": compare_table,
    "compare_docx_files": compare_docx_files,
    "compare_pptx_files": compare_pptx_files,
    "check_direct_json_object": check_direct_json_object,
    "check_json_settings": check_json_settings,
}
NEEDS_EXTRA = {"compare_table": ("openpyxl", "pandas"), "compare_docx_files": ("docx", "rapidfuzz"),
               "compare_pptx_files": ("pptx",)}


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


__all__ = ["CELL_STYLES", "FILE_METRICS", "PPTX_OPTIONS", "TABLE_RULES", "cell_style", "check_direct_json_object",
           "check_json_settings", "compare_docx_files", "compare_pptx_files", "compare_table", "match_value",
           "read_cell_value", "unsupported_options"]
