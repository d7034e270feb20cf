"""Differential tests: our OSWorld metrics score exactly as OSWorld's own functions (the ``desktop-env``
wheel, installed with --no-deps) on the same files, generated here with openpyxl, python-docx,
python-pptx and JSON.

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


# ---------------------------------------------------------------------- compare_table's other rules
#
# Each case: the result and gold workbooks (rows per sheet, then an edit of the openpyxl book, or of the
# saved file's XML), files beside them (the CSV exports `sheet_print` reads), the rules, and the score both
# functions must give.


_SST = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{n}" uniqueCount="{n}">'
        '{items}</sst>')
_SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def _share_strings(parts: dict[str, bytes], extra: list[str]) -> None:
    """Move openpyxl's inline strings into a shared-string table, as LibreOffice saves text cells; the
    `extra` strings are added after them."""
    import re

    strings: list[str] = []

    def share(m: re.Match) -> str:
        strings.append(m.group(3))
        return f'<c r="{m.group(1)}"{m.group(2)} t="s"><v>{len(strings) - 1}</v></c>'

    for name in [n for n in parts if n.startswith("xl/worksheets/sheet")]:
        parts[name] = re.sub(r'<c r="(\w+)"((?: s="\d+")?) t="inlineStr"><is><t(?: xml:space="preserve")?>(.*?)</t>'
                             r"</is></c>", share, parts[name].decode()).encode()
    items = "".join(f'<si><t xml:space="preserve">{text}</t></si>' if text else "<si><t/></si>"
                    for text in strings + extra)
    parts["xl/sharedStrings.xml"] = _SST.format(n=len(strings), items=items).encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SST_TYPE}"/></Types>'.encode())
    rels = "xl/_rels/workbook.xml.rels"
    parts[rels] = parts[rels].replace(
        b"</Relationships>", f'<Relationship Type="{_SST_REL}" Target="sharedStrings.xml" Id="rId99"/>'
                             "</Relationships>".encode())


def _book(path: Path, sheets: dict[str, list[list[object]]], edit=None, files=None, xml=None, inline=False,
          strings=()) -> str:
    """A workbook of `sheets` (rows), changed by `edit` (the openpyxl book), its text in shared strings
    (and `strings` after them) unless `inline`, then sheet 1's cells replaced by the `xml` given for their coordinates, with
    `files` (suffix: content) written beside it."""
    import re
    import zipfile

    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    if edit is not None:
        edit(wb)
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    if not inline:
        _share_strings(parts, list(strings))
    if xml:  # cells openpyxl does not write (a formula's cached string, an inline string)
        sheet = parts["xl/worksheets/sheet1.xml"].decode()
        for coordinate, cell in xml.items():
            sheet = re.sub(rf'<c r="{coordinate}"[^>]*?(/>|>.*?</c>)', cell, sheet)
        parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    for suffix, content in (files or {}).items():
        target = Path(str(path)[:-5] + suffix)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def _theirs_table(theirs, r, e, rules) -> float:
    try:
        return float(theirs.compare_table(r, e, rules=rules))
    except Exception:  # noqa: BLE001 - OSWorld's function raising is a 0 (ours returns 0 there)
        return 0.0


def _table_case(name, result, expected, rules, score):
    """`result`/`expected`: a dict of _book's keyword arguments (``sheets`` at least)."""
    return pytest.param(result, expected, rules, score, id=name)


_S = {"Sheet1": [["Name", "Score"], ["Ann", 1], ["Bob", 2.5]]}
_PRINT = [{"type": "sheet_print", "sheet_idx0": "RNSheet1", "sheet_idx1": "ENSheet1"}]
_CSV = "Name,Score\nAnn,1\nBob,2.50\n"


def _sheets(**extra):
    return {"sheets": _S, **extra}


def _csv(text):
    return _sheets(files={"-Sheet1.csv": text})


PRINT_CASES = [
    _table_case("print-equal", _csv(_CSV), _csv(_CSV), _PRINT, 1.0),
    _table_case("print-trailing-blank-lines-and-spaces", _csv("Name,Score \r\n Ann,1\nBob,2.50\n\n  \n"), _csv(_CSV),
                _PRINT, 1.0),
    _table_case("print-leading-blank-line", _csv("\n" + _CSV), _csv(_CSV), _PRINT, 0.0),
    _table_case("print-differs", _csv("Name,Score\nAnn,1\nBob,2.5\n"), _csv(_CSV), _PRINT, 0.0),
    _table_case("print-case", _csv(_CSV.upper()), _csv(_CSV), _PRINT, 0.0),
    _table_case("print-ignore-case", _csv(_CSV.upper()), _csv(_CSV), [{**_PRINT[0], "ignore_case": True}], 1.0),
    _table_case("print-latin1", _csv("Name\nJos\xe9\n".encode("latin-1")), _csv("Name\nJos\xc3\xa9\n".encode("latin-1")),
                _PRINT, 1.0),
    _table_case("print-bom-kept", _csv("\ufeff" + _CSV), _csv(_CSV), _PRINT, 0.0),
    _table_case("print-no-result-export", _sheets(), _csv(_CSV), _PRINT, 0.0),
    _table_case("print-no-gold-export", _csv(_CSV), _sheets(), _PRINT, 0.0),
    _table_case("print-other-sheet-name", _csv(_CSV), _csv(_CSV), [{**_PRINT[0], "sheet_idx0": "RNData"}], 0.0),
    _table_case("print-by-position", _csv(_CSV), _csv(_CSV), [{**_PRINT[0], "sheet_idx0": 0}], 1.0),
]


def _fuzzy(*subrules):
    return [{"type": "sheet_fuzzy", "sheet_idx0": "RNSheet1", "sheet_idx1": "ENSheet1", "rules": list(subrules)}]


def _cells(*rows):
    return {"sheets": {"Sheet1": [list(r) for r in rows]}}


FUZZY_CASES = [
    _table_case("fuzzy-exact", _cells(["a", 1, 2.5]), _cells(["a", 1, 2.5]),
                _fuzzy({"range": ["A1:C1"], "type": "exact_match"}), 1.0),
    _table_case("fuzzy-exact-int-vs-float", _cells([1]), _cells([1.0]), _fuzzy({"range": ["A1"], "type": "exact_match"}),
                1.0),
    _table_case("fuzzy-exact-number-vs-text", _cells([1]), _cells(["1"]), _fuzzy({"range": ["A1"], "type": "exact_match"}),
                0.0),
    _table_case("fuzzy-exact-differs", _cells(["a", "b"]), _cells(["a", "c"]),
                _fuzzy({"range": ["A1:B1"], "type": "exact_match"}), 0.0),
    _table_case("fuzzy-outside-range", _cells(["a", "b"]), _cells(["a", "c"]),
                _fuzzy({"range": ["A1"], "type": "exact_match"}), 1.0),
    _table_case("fuzzy-two-ranges", _cells(["a", "b"], ["c", "d"]), _cells(["a", "b"], ["c", "x"]),
                _fuzzy({"range": ["A1:B1", "A2"], "type": "exact_match"}, {"range": ["B2"], "type": "exact_match"}), 0.0),
    _table_case("fuzzy-empty-both", _cells(["a"]), _cells(["a"]), _fuzzy({"range": ["B1:C3"], "type": "exact_match"}),
                1.0),
    _table_case("fuzzy-empty-vs-text-none", _cells(["a"]), _cells(["a", "None"]),
                _fuzzy({"range": ["B1"], "type": "exact_match"}), 1.0),
    _table_case("fuzzy-includes", _cells(["Name (full)"]), _cells(["name"]),
                _fuzzy({"range": ["A1"], "type": "includes", "ignore_case": True}), 1.0),
    _table_case("fuzzy-includes-case", _cells(["Name (full)"]), _cells(["name"]),
                _fuzzy({"range": ["A1"], "type": "includes"}), 0.0),
    _table_case("fuzzy-included-by", _cells(["name"]), _cells(["Name (full)"]),
                _fuzzy({"range": ["A1"], "type": "included_by"}), 0.0),
    _table_case("fuzzy-included-by-ok", _cells(["full"]), _cells(["Name (full)"]),
                _fuzzy({"range": ["A1"], "type": "included_by"}), 1.0),
    _table_case("fuzzy-ratio", _cells(["Main Street 12"]), _cells(["Main Stret 12"]),
                _fuzzy({"range": ["A1"], "type": "fuzzy_match"}), 1.0),
    _table_case("fuzzy-ratio-threshold", _cells(["Main Street 12"]), _cells(["Main Stret 12"]),
                _fuzzy({"range": ["A1"], "type": "fuzzy_match", "threshold": 99}), 0.0),
    _table_case("fuzzy-normalize-trim-ignore", _cells(["+ 12 Oak Rd. "]), _cells(["12 Oak Road"]),
                _fuzzy({"range": ["A1"], "type": "exact_match", "normalization": [["Rd.", "Road"]],
                        "trim_leadings": "+ ", "trim_trailings": " "}), 1.0),
    _table_case("fuzzy-normalize-missing", _cells(["+ 12 Oak Rd. "]), _cells(["12 Oak Road"]),
                _fuzzy({"range": ["A1"], "type": "exact_match", "trim_leadings": "+ ", "trim_trailings": " "}), 0.0),
    _table_case("fuzzy-ignore-chars", _cells(["(555) 123-4567"]), _cells(["5551234567"]),
                _fuzzy({"range": ["A1"], "type": "exact_match", "ignore_chars": " ()-"}), 1.0),
    _table_case("fuzzy-missing-sheet-both", _cells(["a"]), _cells(["b"]),
                [{**_fuzzy({"range": ["A1"], "type": "exact_match"})[0], "sheet_idx0": "RNX", "sheet_idx1": "ENX"}], 1.0),
    _table_case("fuzzy-missing-sheet-one", _cells(["a"]), _cells(["a"]),
                [{**_fuzzy({"range": ["A1"], "type": "exact_match"})[0], "sheet_idx0": "RNX"}], 0.0),
    _table_case("fuzzy-bool-reads-none", _cells([True]), _cells([None, "x"]),
                _fuzzy({"range": ["A1"], "type": "exact_match"}), 1.0),
    _table_case("fuzzy-error-cell", _cells(["#N/A"]), _cells(["#N/A"]), _fuzzy({"range": ["A1"], "type": "exact_match"}),
                1.0),
    # a formula's cached string and an inline string are stripped by OSWorld's XML reading; shared ones not
    _table_case("fuzzy-formula-string-stripped", {**_cells(["x"]), "xml": {"A1": '<c r="A1" t="str"><f>B1</f><v> ab </v></c>'}},
                _cells(["ab"]), _fuzzy({"range": ["A1"], "type": "exact_match"}), 1.0),
    _table_case("fuzzy-inline-string", {**_cells(["x"]), "xml": {"A1": '<c r="A1" t="inlineStr"><is><t>ab</t></is></c>'}},
                _cells(["ab"]), _fuzzy({"range": ["A1"], "type": "exact_match"}), 1.0),
    _table_case("fuzzy-inline-string-preserved-space",
                {**_cells(["x"]), "xml": {"A1": '<c r="A1" t="inlineStr"><is><t xml:space="preserve"> ab</t></is></c>'}},
                _cells(["ab"]), _fuzzy({"range": ["A1"], "type": "exact_match"}), 0.0),
    _table_case("fuzzy-shared-string-spaces", _cells([" ab "]), _cells(["ab"]),
                _fuzzy({"range": ["A1"], "type": "exact_match"}), 0.0),
    _table_case("fuzzy-shared-string-trimmed", _cells([" ab "]), _cells(["ab"]),
                _fuzzy({"range": ["A1"], "type": "exact_match", "trim_leadings": " ", "trim_trailings": " "}), 1.0),
    # openpyxl's own inline strings with spaces carry xml:space, which OSWorld reads as a dict's text
    _table_case("fuzzy-openpyxl-inline-spaces", {**_cells([" ab"]), "inline": True}, {**_cells([" ab"]), "inline": True},
                _fuzzy({"range": ["A1"], "type": "exact_match", "trim_leadings": " "}), 1.0),
    _table_case("fuzzy-openpyxl-inline-vs-shared", {**_cells([" ab"]), "inline": True}, _cells([" ab"]),
                _fuzzy({"range": ["A1"], "type": "exact_match"}), 0.0),
    # an empty shared string makes OSWorld's reading drop the table: then a text cell raises, a number reads
    _table_case("fuzzy-empty-shared-string", {**_cells(["a"]), "strings": [""]}, _cells(["a"]),
                _fuzzy({"range": ["A1"], "type": "exact_match"}), 0.0),
    _table_case("fuzzy-empty-shared-string-number", {**_cells([1]), "strings": [""]}, _cells([1]),
                _fuzzy({"range": ["A1"], "type": "exact_match"}), 1.0),
    _table_case("fuzzy-empty-shared-string-used", {**_cells(["a"]), "strings": [""],
                                                   "xml": {"A1": '<c r="A1" t="s"><v>1</v></c>'}},
                _cells(["a"]), _fuzzy({"range": ["A1"], "type": "exact_match"}), 0.0),
    _table_case("fuzzy-empty-formula-number", {**_cells(["x"]), "xml": {"A1": '<c r="A1"><f>1/0</f><v></v></c>'}},
                _cells(["ab"]), _fuzzy({"range": ["A1"], "type": "exact_match"}), 0.0),  # OSWorld's raises
]


def _pivot(ref="A1:C4", rows=(0,), cols=(), pages=(), data=((2, "sum"),), lead=0, hidden=(), name="P1",
           loc="E3:F6", sheet="Data", reverse=False):
    """A pivot table on sheet Pivot over `ref` of `sheet`; `lead` empty fields before the used ones,
    `reverse`: the used fields' items listed in the other order."""
    def edit(wb):
        from openpyxl.pivot.cache import (
            CacheDefinition,
            CacheField,
            CacheSource,
            SharedItems,
            WorksheetSource,
        )
        from openpyxl.pivot.table import (
            DataField,
            FieldItem,
            Location,
            PageField,
            PivotField,
            RowColField,
            TableDefinition,
        )

        fields = [PivotField() for _ in range(lead)]
        for i in range(3):
            used = i in rows or i in cols or i in pages
            items = [FieldItem(x=0, h=True if (i, 0) in hidden else None), FieldItem(x=1)]
            items = [*(items[::-1] if reverse else items), FieldItem(t="default")]
            fields.append(PivotField(axis="axisRow" if i in rows else None, items=items if used else []))
        cache = CacheDefinition(cacheSource=CacheSource(type="worksheet", worksheetSource=WorksheetSource(ref=ref,
                                                                                                         sheet=sheet)),
                                cacheFields=[CacheField(name=f"F{i}", sharedItems=SharedItems()) for i in range(3 + lead)])
        table = TableDefinition(name=name, cacheId=1, dataCaption="Values",
                                location=Location(ref=loc, firstHeaderRow=1, firstDataRow=1, firstDataCol=1),
                                pivotFields=fields, rowFields=[RowColField(x=x + lead) for x in rows],
                                colFields=[RowColField(x=x + lead) for x in cols],
                                pageFields=[PageField(fld=f + lead) for f in pages],
                                dataFields=[DataField(name=f"Sum {f}", fld=f + lead, subtotal=s) for f, s in data])
        table.cache = cache
        wb["Pivot"]._pivots.append(table)
    return {"sheets": {"Data": [["Region", "Item", "Sales"], ["N", "a", 1], ["S", "b", 2], ["N", "b", 3]], "Pivot": []},
            "edit": edit}


_PIVOT = [{"type": "pivot_table", "sheet_idx0": "RNPivot", "sheet_idx1": "ENPivot",
           "pivot_props": ["col_fields", "filter", "row_fields", "data_fields"]}]


def _props(*props):
    return [{**_PIVOT[0], "pivot_props": list(props)}]


PIVOT_CASES = [
    _table_case("pivot-equal", _pivot(), _pivot(), _PIVOT, 1.0),
    _table_case("pivot-row-field", _pivot(rows=(1,)), _pivot(), _PIVOT, 0.0),
    _table_case("pivot-row-as-col", _pivot(rows=(), cols=(0,)), _pivot(), _PIVOT, 0.0),
    _table_case("pivot-subtotal", _pivot(data=((2, "count"),)), _pivot(), _PIVOT, 0.0),
    _table_case("pivot-data-field", _pivot(data=((1, "sum"),)), _pivot(), _PIVOT, 0.0),
    _table_case("pivot-filter-field", _pivot(pages=(1,)), _pivot(), _PIVOT, 0.0),
    _table_case("pivot-filter-not-examined", _pivot(pages=(1,)), _pivot(), _props("row_fields", "data_fields"), 0.0),
    _table_case("pivot-hidden-item", _pivot(hidden=((0, 0),)), _pivot(), _PIVOT, 0.0),
    _table_case("pivot-hidden-item-unexamined", _pivot(hidden=((0, 0),)), _pivot(), _props("row_fields"), 1.0),
    _table_case("pivot-source", _pivot(ref="A1:C3"), _pivot(), _PIVOT, 0.0),
    _table_case("pivot-source-sheet", _pivot(sheet="Other"), _pivot(), _props("row_fields"), 0.0),
    # empty leading fields shift the source's first column and the field numbers alike: the same pivot
    _table_case("pivot-leading-empty-fields", _pivot(ref="A1:D4", lead=1), _pivot(ref="A1:C4"), _PIVOT, 0.0),
    _table_case("pivot-leading-empty-fields-shifted", _pivot(ref="A1:D4", lead=1),
                _pivot(ref="B1:D4"), _PIVOT, 1.0),
    _table_case("pivot-name", _pivot(name="Other"), _pivot(), _PIVOT, 1.0),
    _table_case("pivot-name-examined", _pivot(name="Other"), _pivot(), _props("name"), 0.0),
    _table_case("pivot-data-name", _pivot(), _pivot(), _props("data_fields", "data_fields_name"), 1.0),
    _table_case("pivot-location", _pivot(loc="H3:I6"), _pivot(), _props("row_fields"), 1.0),
    _table_case("pivot-location-examined", _pivot(loc="H3:I6"), _pivot(), _props("location"), 0.0),
    _table_case("pivot-selection-ordered", _pivot(rows=(0, 1)), _pivot(rows=(0, 1)), _props("selection", "ordered"),
                1.0),
    _table_case("pivot-item-order", _pivot(reverse=True), _pivot(), _props("selection"), 1.0),
    _table_case("pivot-item-order-ordered", _pivot(reverse=True), _pivot(), _props("selection", "ordered"), 0.0),
    _table_case("pivot-missing", _sheets(), _pivot(), _PIVOT, 0.0),
    _table_case("pivot-no-sheet-either-side", _sheets(), _sheets(), _PIVOT, 1.0),
]


def _chart(kind="bar", title="Sales", ref="B1:B4", cats="A2:A4", direction="col", xtitle=None, legend="r",
           anchor="E2", width=15, second=False):
    """A chart on Sheet1 of `kind` over `ref` (categories `cats`), with a second line chart if `second`;
    `anchor` a cell (openpyxl's one-cell anchor) or ((col, row), (col, row)), a two-cell one as LibreOffice
    saves."""
    def edit(wb):
        from openpyxl.chart import BarChart, LineChart, PieChart, Reference
        from openpyxl.chart.legend import Legend

        ws = wb.worksheets[0]
        chart = {"bar": BarChart, "line": LineChart, "pie": PieChart}[kind]()
        (c1, r1), (c2, r2) = (_rc(x) for x in ref.split(":"))
        chart.add_data(Reference(ws, min_col=c1, min_row=r1, max_col=c2, max_row=r2), titles_from_data=True)
        (k1, s1), (k2, s2) = (_rc(x) for x in cats.split(":"))
        chart.set_categories(Reference(ws, min_col=k1, min_row=s1, max_col=k2, max_row=s2))
        if title is not None:
            chart.title = title
        if kind == "bar":
            chart.type = direction
        if xtitle is not None:
            chart.x_axis.title = xtitle
        chart.legend = Legend(legendPos=legend) if legend else None
        chart.width = width
        if isinstance(anchor, tuple):
            from openpyxl.drawing.spreadsheet_drawing import AnchorMarker, TwoCellAnchor

            (c1, r1), (c2, r2) = anchor
            anchor_ = TwoCellAnchor(_from=AnchorMarker(col=c1, row=r1), to=AnchorMarker(col=c2, row=r2))
            ws.add_chart(chart)
            chart.anchor = anchor_
        else:
            ws.add_chart(chart, anchor)
        if second:
            line = LineChart()
            line.add_data(Reference(ws, min_col=3, min_row=1, max_row=4), titles_from_data=True)
            ws.add_chart(line, "E20")
    return {"sheets": {"Sheet1": [["Month", "Sales", "Cost"], ["Jan", 1, 4], ["Feb", 2, 5], ["Mar", 3, 6]]},
            "edit": edit}


def _rc(coordinate):
    from openpyxl.utils import coordinate_to_tuple

    row, col = coordinate_to_tuple(coordinate)
    return col, row


def _chart_rule(*props):
    return [{"type": "chart", "sheet_idx0": 0, "sheet_idx1": "EI0", "chart_props": list(props)}]


CHART_CASES = [
    _table_case("chart-equal", _chart(), _chart(), _chart_rule("type", "title"), 1.0),
    _table_case("chart-type", _chart(kind="line"), _chart(), _chart_rule("type", "title"), 0.0),
    _table_case("chart-type-unexamined", _chart(kind="line"), _chart(), _chart_rule("title"), 1.0),
    _table_case("chart-title", _chart(title="Costs"), _chart(), _chart_rule("type", "title"), 0.0),
    _table_case("chart-no-title", _chart(title=None), _chart(), _chart_rule("type", "title"), 0.0),
    _table_case("chart-no-title-both", _chart(title=None), _chart(title=None), _chart_rule("title"), 1.0),
    _table_case("chart-data", _chart(ref="C1:C4"), _chart(), _chart_rule("type"), 0.0),
    _table_case("chart-categories", _chart(cats="A1:A4"), _chart(), _chart_rule("type"), 0.0),
    _table_case("chart-series-count", _chart(ref="B1:C4"), _chart(), _chart_rule("type"), 0.0),
    _table_case("chart-direction", _chart(direction="bar"), _chart(), _chart_rule("type", "direction"), 0.0),
    _table_case("chart-direction-equal", _chart(direction="bar"), _chart(direction="bar"),
                _chart_rule("type", "direction"), 1.0),
    _table_case("chart-direction-of-a-line", _chart(kind="line"), _chart(kind="line"), _chart_rule("direction"),
                0.0),  # OSWorld's raises: a line chart has no bar direction
    _table_case("chart-xtitle", _chart(xtitle="Month"), _chart(), _chart_rule("xtitle"), 0.0),
    _table_case("chart-xtitle-equal", _chart(xtitle="Month"), _chart(xtitle="Month"), _chart_rule("xtitle", "ytitle",
                                                                                                   "ztitle"), 1.0),
    _table_case("chart-legend", _chart(legend="b"), _chart(), _chart_rule("legend"), 0.0),
    _table_case("chart-no-legend", _chart(legend=None), _chart(), _chart_rule("legend"), 0.0),
    _table_case("chart-anchor-one-cell", _chart(), _chart(), _chart_rule("anchor"), 0.0),  # OSWorld's raises: no end
    _table_case("chart-anchor-two-cell", _chart(anchor=((4, 1), (10, 14))), _chart(anchor=((4, 1), (10, 14))),
                _chart_rule("anchor"), 1.0),
    _table_case("chart-anchor-column", _chart(anchor=((5, 1), (10, 14))), _chart(anchor=((4, 1), (10, 14))),
                _chart_rule("anchor"), 0.0),
    _table_case("chart-anchor-end", _chart(anchor=((4, 1), (10, 15))), _chart(anchor=((4, 1), (10, 14))),
                _chart_rule("anchor"), 0.0),
    # OSWorld's list reads the end row where the start row would be: a chart moved down a row but not
    # longer is the same
    _table_case("chart-anchor-start-row", _chart(anchor=((4, 2), (10, 14))), _chart(anchor=((4, 1), (10, 14))),
                _chart_rule("anchor"), 1.0),
    _table_case("chart-anchor-unexamined", _chart(anchor="F2"), _chart(), _chart_rule("type", "title"), 1.0),
    # openpyxl reads every chart back at its default size (the anchor holds the real one): never differs
    _table_case("chart-width", _chart(width=20), _chart(), _chart_rule("width", "height"), 1.0),
    _table_case("chart-second", _chart(second=True), _chart(), _chart_rule("type"), 0.0),
    _table_case("chart-none", _sheets(), _chart(), _chart_rule("type"), 0.0),
    _table_case("chart-none-both", _sheets(), _sheets(), _chart_rule("type"), 1.0),
]


def _cell_rule(coordinate, props, sheet_idx=0):
    return [{"type": "check_cell", "sheet_idx": sheet_idx, "coordinate": coordinate, "props": props}]


def _bold(wb):
    from openpyxl.styles import Font, PatternFill

    ws = wb.worksheets[0]
    ws["A1"].font = Font(bold=True, color="FFFF0000")
    ws["A1"].fill = PatternFill("solid", fgColor="FF0000FF")
    ws.merge_cells("B1:C1")


CELL_CASES = [
    _table_case("cell-approx", _cells([191.66671]), _sheets(), _cell_rule("A1", {"value": {"method": "approx:0.001",
                                                                                          "ref": 191.6667}}), 1.0),
    _table_case("cell-approx-off", _cells([191.7]), _sheets(), _cell_rule("A1", {"value": {"method": "approx:0.001",
                                                                                        "ref": 191.6667}}), 0.0),
    _table_case("cell-approx-text", _cells(["191.6667"]), _sheets(),
                _cell_rule("A1", {"value": {"method": "approx:0.001", "ref": 191.6667}}), 1.0),
    _table_case("cell-approx-empty", _cells([]), _sheets(), _cell_rule("A1", {"value": {"method": "approx:1", "ref": 0}}),
                0.0),
    _table_case("cell-eq", _cells(["Total"]), _sheets(), _cell_rule("A1", {"value": {"method": "eq", "ref": "Total"}}), 1.0),
    _table_case("cell-number-reads-float", _cells([3]), _sheets(), _cell_rule("A1", {"value": {"method": "eq", "ref": 3}}),
                1.0),
    _table_case("cell-gt", _cells([3]), _sheets(), _cell_rule("A1", {"value": {"method": "gt", "ref": 3}}), 0.0),
    _table_case("cell-range", _cells([3]), _sheets(), _cell_rule("A1", {"value": {"method": "range.te", "ref": [2, 3]}}),
                1.0),
    _table_case("cell-re", _cells(["Total: 12"]), _sheets(),
                _cell_rule("A1", {"value": {"method": "re.I", "ref": r"^total: \d+$"}}), 1.0),
    _table_case("cell-re-empty", _cells([]), _sheets(), _cell_rule("A1", {"value": {"method": "re", "ref": "x"}}), 0.0),
    _table_case("cell-bold", {**_cells(["x"]), "edit": _bold}, _sheets(),
                _cell_rule("A1", {"font_bold": {"method": "eq", "ref": True},
                                  "font_color": {"method": "eq", "ref": "FFFF0000"}}), 1.0),
    _table_case("cell-fill", {**_cells(["x"]), "edit": _bold}, _sheets(),
                _cell_rule("A1", {"bgcolor": {"method": "eq", "ref": "FF0000FF"},
                                  "fill_type": {"method": "eq", "ref": "patternFill"}}), 1.0),
    _table_case("cell-no-fill", _cells(["x"]), _sheets(), _cell_rule("A1", {"bgcolor": {"method": "eq",
                                                                                       "ref": "FF0000FF"}}), 0.0),
    _table_case("cell-merged", {**_cells(["x"]), "edit": _bold}, _sheets(),
                _cell_rule("C1", {"merge": {"method": "eq", "ref": True}}), 1.0),
    _table_case("cell-merge-first", {**_cells(["x"]), "edit": _bold}, _sheets(),
                _cell_rule("B1", {"merge": {"method": "eq", "ref": True}}), 0.0),
    _table_case("cell-not-bold", _cells(["x"]), _sheets(), _cell_rule("A1", {"font_bold": {"method": "eq", "ref": True}}),
                0.0),
    _table_case("cell-bold-empty-cell", {**_cells([]), "edit": _bold}, _sheets(),
                _cell_rule("A1", {"font_bold": {"method": "eq", "ref": None}}), 1.0),
    _table_case("cell-number-format", {**_cells([0.5]), "edit": lambda wb: setattr(wb.worksheets[0]["A1"],
                                                                                   "number_format", "0.00%")},
                _sheets(), _cell_rule("A1", {"number_format": {"method": "eq", "ref": "0.00%"}}), 1.0),
    _table_case("cell-unknown-style-reads-none", _cells(["x"]), _sheets(),
                _cell_rule("A1", {"font_shadow": {"method": "eq", "ref": None}}), 1.0),
    _table_case("cell-gold-sheet", _cells(["a"]), _cells(["b"]), _cell_rule("A1", {"value": {"method": "eq", "ref": "b"}},
                                                                           sheet_idx="EI0"), 1.0),
    _table_case("cell-no-sheet", _cells(["a"]), _sheets(), _cell_rule("A1", {"value": {"method": "eq", "ref": "a"}},
                                                                      sheet_idx=3), 0.0),
]


def _freeze(cell):
    return {**_sheets(), "edit": lambda wb: setattr(wb.worksheets[0], "freeze_panes", cell)}


def _zoom(scale):
    return {**_sheets(), "edit": lambda wb: setattr(wb.worksheets[0].sheet_view, "zoomScale", scale)}


def _hide_row(row, width=None):
    def edit(wb):
        ws = wb.worksheets[0]
        ws.row_dimensions[row].hidden = True
        if width is not None:
            ws.column_dimensions["B"].width = width
    return {**_sheets(), "edit": edit}


def _validation(formula, sqref="D2:D29", kind="list"):
    def edit(wb):
        from openpyxl.worksheet.datavalidation import DataValidation

        dv = DataValidation(type=kind, formula1=formula)
        dv.add(sqref)
        wb.worksheets[0].add_data_validation(dv)
    return {**_sheets(), "edit": edit}


_FREEZE = [{"type": "freeze", "sheet_idx0": 0, "sheet_idx1": "EI0"}]
_ROWS = [{"type": "row_props", "sheet_idx0": 0, "sheet_idx1": "EI0", "props": ["hidden"]}]
_DV = [{"type": "data_validation", "sheet_idx": 0, "dv_props": [
    {"ranges": {"method": "spreadsheet_range", "ref": ["D2:D29", "D2:D1048576"]}, "type": {"method": "eq", "ref": "list"},
     "formula1": {"method": "str_set_eq", "ref": ["Pass", "Fail", "Held"]}}]}]

SHEET_PROPERTY_CASES = [
    _table_case("freeze-equal", _freeze("B2"), _freeze("B2"), _FREEZE, 1.0),
    _table_case("freeze-differs", _freeze("A2"), _freeze("B2"), _FREEZE, 0.0),
    _table_case("freeze-none", _sheets(), _freeze("B2"), _FREEZE, 0.0),
    _table_case("freeze-none-both", _sheets(), _sheets(), _FREEZE, 1.0),
    _table_case("freeze-no-gold-sheet", _freeze("B2"), _freeze("B2"), [{**_FREEZE[0], "sheet_idx1": "ENX"}], 0.0),
    _table_case("zoom-lt", _zoom(150), _sheets(), [{"type": "zoom", "sheet_idx": 0, "method": "lt", "ref": 260}], 1.0),
    _table_case("zoom-not-lt", _zoom(300), _sheets(), [{"type": "zoom", "sheet_idx": 0, "method": "lt", "ref": 260}], 0.0),
    _table_case("zoom-unset-is-100", _sheets(), _sheets(), [{"type": "zoom", "sheet_idx": 0, "method": "eq",
                                                            "ref": 100}], 1.0),
    _table_case("rows-hidden-equal", _hide_row(3), _hide_row(3), _ROWS, 1.0),
    _table_case("rows-hidden-differs", _hide_row(2), _hide_row(3), _ROWS, 0.0),
    _table_case("rows-hidden-none", _sheets(), _hide_row(3), _ROWS, 0.0),
    _table_case("cols-width", _hide_row(3, width=20), _hide_row(3, width=30),
                [{"type": "col_props", "sheet_idx0": 0, "sheet_idx1": "EI0", "props": ["width"]}], 0.0),
    _table_case("cols-width-equal", _hide_row(3, width=20), _hide_row(3, width=20),
                [{"type": "col_props", "sheet_idx0": 0, "sheet_idx1": "EI0", "props": ["width"]}], 1.0),
    _table_case("validation-list", _validation('"Pass,Fail,Held"'), _sheets(), _DV, 1.0),
    _table_case("validation-list-order", _validation('"Held,Pass,Fail"', sqref="D2:D500"), _sheets(), _DV, 1.0),
    _table_case("validation-list-differs", _validation('"Pass,Fail"'), _sheets(), _DV, 0.0),
    _table_case("validation-too-small", _validation('"Pass,Fail,Held"', sqref="D2:D10"), _sheets(), _DV, 0.0),
    _table_case("validation-other-column", _validation('"Pass,Fail,Held"', sqref="E2:E29"), _sheets(), _DV, 0.0),
    _table_case("validation-type", _validation("1", kind="whole"), _sheets(), _DV, 0.0),
    _table_case("validation-none", _sheets(), _sheets(), _DV, 0.0),
]


@pytest.mark.parametrize(("result", "expected", "rules", "score"),
                         PRINT_CASES + FUZZY_CASES + PIVOT_CASES + CHART_CASES + CELL_CASES + SHEET_PROPERTY_CASES)
def test_compare_table_rules_score_as_osworld(tmp_path, result, expected, rules, score):
    theirs = _osworld("table")
    r, e = _book(tmp_path / "r.xlsx", **result), _book(tmp_path / "e.xlsx", **expected)
    got = ours.compare_table(r, e, rules=rules)
    assert (got, got) == (_theirs_table(theirs, r, e, rules), score)


def test_compare_table_rules_are_all_registered():
    """A rule with an implementation is runnable; OSWorld's others still skip the task before it starts."""
    for kind in ours.TABLE_RULES:
        assert ours.unsupported_options("compare_table", {"rules": [{"type": kind}]}, []) is None
    for kind in ("style", "sparkline", "filter"):
        reason = ours.unsupported_options("compare_table", {"rules": [{"type": "sheet_data"}, {"type": kind}]}, [])
        assert reason is not None and f"rule {kind!r}" in reason


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


# ---------------------------------------------------------------------- presentations
#
# Every pair is the deck `_deck` builds with python-pptx, each side changed by its own edit: a case names
# what differs, the options scored and the score both functions give. The deck has a title-and-content
# slide (placeholders, levels, notes), a slide of a text box, a picture, an autoshape, a freeform and a
# group, and a slide of a table and a text box, so that every check of compare_pptx_files has something
# to read.


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _deck() -> object:
    import io

    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.util import Emu, Pt

    prs = Presentation()
    s1 = prs.slides.add_slide(prs.slide_layouts[1])
    s1.shapes.title.text = "Quarterly report"
    s1.shapes.title.name = "title"
    body = s1.placeholders[1]
    body.name = "body"
    tf = body.text_frame
    tf.text = "Revenue"
    run = tf.paragraphs[0].runs[0]
    run.font.name, run.font.size, run.font.bold = "Arial", Pt(24), True
    run.font.color.rgb = RGBColor(0x11, 0x22, 0x33)
    for text, level in (("Costs", 1), ("Outlook", 0)):
        p = tf.add_paragraph()
        p.text = text
        p.level = level
    s1.notes_slide.notes_text_frame.text = "Speak slowly"

    s2 = prs.slides.add_slide(prs.slide_layouts[6])
    box = s2.shapes.add_textbox(Emu(500000), Emu(600000), Emu(3000000), Emu(800000))
    box.name = "elaborate"
    box.text_frame.text = "Elaborate on what you want to discuss."
    pic = s2.shapes.add_picture(io.BytesIO(_png()), Emu(5000000), Emu(1500000), Emu(1000000), Emu(1000000))
    pic.name = "picture"
    rect = s2.shapes.add_shape(MSO_SHAPE.RECTANGLE, Emu(500000), Emu(3000000), Emu(2000000), Emu(700000))
    rect.name = "box"
    rect.text_frame.text = "Box"
    ff = s2.shapes.build_freeform(Emu(4000000), Emu(4000000))
    ff.add_line_segments([(Emu(4500000), Emu(4000000)), (Emu(4500000), Emu(4600000))])
    free = ff.convert_to_shape()
    free.name = "freeform"
    group = s2.shapes.add_group_shape()
    group.name = "group"
    for i, text in enumerate(("inner one", "inner two")):
        child = group.shapes.add_textbox(Emu(6000000), Emu(4000000 + i * 600000), Emu(2000000), Emu(500000))
        child.name = f"inner{i}"
        child.text_frame.text = text

    s3 = prs.slides.add_slide(prs.slide_layouts[6])
    table = s3.shapes.add_table(2, 2, Emu(500000), Emu(1000000), Emu(4000000), Emu(1000000))
    table.name = "table"
    for (r, c), text in zip([(0, 0), (0, 1), (1, 0), (1, 1)], "AB12", strict=True):
        table.table.cell(r, c).text = text
    heading = s3.shapes.add_textbox(Emu(500000), Emu(4000000), Emu(4000000), Emu(600000))
    heading.name = "heading"
    heading.text_frame.text = "Product Comparison"
    return prs


def _find(shapes, name):
    for shape in shapes:
        if shape.name == name:
            return shape
        if hasattr(shape, "shapes"):
            found = _find(shape.shapes, name)
            if found is not None:
                return found
    return None


def _shape(prs, slide: int, name: str):
    return _find(prs.slides[slide].shapes, name)


def _run(prs, slide: int, name: str, para: int = 0, run: int = 0):
    return _shape(prs, slide, name).text_frame.paragraphs[para].runs[run]


def _font(attr, value, slide=0, name="body", para=0, run=0):
    return lambda prs: setattr(_run(prs, slide, name, para, run).font, attr, value)


def _rgb(value, slide=0, name="body", para=0, run=0):
    from pptx.dml.color import RGBColor

    return lambda prs: setattr(_run(prs, slide, name, para, run).font.color, "rgb", RGBColor.from_string(value))


def _theme_font_color(slide=0, name="body", para=0, run=0):
    from pptx.enum.dml import MSO_THEME_COLOR

    return lambda prs: setattr(_run(prs, slide, name, para, run).font.color, "theme_color", MSO_THEME_COLOR.ACCENT_2)


def _text(value, slide=0, name="body", para=0, run=0):
    return lambda prs: setattr(_run(prs, slide, name, para, run), "text", value)


def _para(attr, value, slide=0, name="body", para=0):
    return lambda prs: setattr(_shape(prs, slide, name).text_frame.paragraphs[para], attr, value)


def _box(slide, name, **box):
    def edit(prs):
        shape = _shape(prs, slide, name)
        for key, value in box.items():
            setattr(shape, key, value)
    return edit


def _grow(slide, name, key, factor):
    def edit(prs):
        shape = _shape(prs, slide, name)
        setattr(shape, key, int(getattr(shape, key) * factor))
    return edit


def _notes(text, slide=0):
    return lambda prs: setattr(prs.slides[slide].notes_slide.notes_text_frame, "text", text)


def _background(value=None, slide=0, theme=False):
    def edit(prs):
        from pptx.dml.color import RGBColor
        from pptx.enum.dml import MSO_THEME_COLOR

        fill = prs.slides[slide].background.fill
        fill.solid()
        if theme:
            fill.fore_color.theme_color = MSO_THEME_COLOR.ACCENT_1
        else:
            fill.fore_color.rgb = RGBColor.from_string(value)
    return edit


def _strike(value="sngStrike", slide=0, name="body", para=0, run=0):
    return lambda prs: _run(prs, slide, name, para, run).font._element.set("strike", value)


def _bullet(char, slide=0, name="body", para=0):
    def edit(prs):
        from pptx.oxml.ns import qn

        ppr = _shape(prs, slide, name).text_frame.paragraphs[para]._p.get_or_add_pPr()
        ppr.append(ppr.makeelement(qn("a:buChar"), {"char": char}))
    return edit


def _add_run(text, slide=0, name="body", para=0):
    return lambda prs: setattr(_shape(prs, slide, name).text_frame.paragraphs[para].add_run(), "text", text)


def _add_paragraph(text, slide=0, name="body"):
    return lambda prs: setattr(_shape(prs, slide, name).text_frame.add_paragraph(), "text", text)


def _add_slide(prs):
    prs.slides.add_slide(prs.slide_layouts[6])


def _add_textbox(slide=1):
    from pptx.util import Emu

    return lambda prs: prs.slides[slide].shapes.add_textbox(Emu(1), Emu(1), Emu(100), Emu(100))


def _add_group_child(prs):
    from pptx.util import Emu

    _shape(prs, 1, "group").shapes.add_textbox(Emu(6000000), Emu(5300000), Emu(100), Emu(100)).text_frame.text = "x"


def _cell(r, c, text=None, bold=None, rgb=None, underline=None):
    def edit(prs):
        from pptx.dml.color import RGBColor

        run = _shape(prs, 2, "table").table.cell(r, c).text_frame.paragraphs[0].runs[0]
        if text is not None:
            run.text = text
        if bold is not None:
            run.font.bold = bold
        if rgb is not None:
            run.font.color.rgb = RGBColor.from_string(rgb)
        if underline is not None:
            run.font.underline = underline
    return edit


def _add_table_row(prs):
    from pptx.util import Emu

    s3 = prs.slides[2]
    _shape(prs, 2, "table")._element.getparent().remove(_shape(prs, 2, "table")._element)
    table = s3.shapes.add_table(3, 2, Emu(500000), Emu(1000000), Emu(4000000), Emu(1000000))
    table.name = "table"
    for (r, c), text in zip([(0, 0), (0, 1), (1, 0), (1, 1)], "AB12", strict=True):
        table.table.cell(r, c).text = text
    s3.shapes._spTree.append(_shape(prs, 2, "heading")._element)  # keep the heading after the table


def _no_xfrm(slide=1, name="elaborate"):
    def edit(prs):
        sppr = _shape(prs, slide, name)._element.spPr
        sppr.remove(sppr.xfrm)
    return edit


def _chain(*edits):
    def edit(prs):
        for e in edits:
            e(prs)
    return edit


def _same(_prs):
    pass


def _case(case_id, a, b, options, expected):
    return pytest.param(a, b, options, expected, id=case_id)


_OFF = False
PPTX_CASES = [
    # equal decks, under each option that can still pass on them
    _case("equal", _same, _same, {}, 1.0),
    _case("equal-no-debug", _same, _same, {"enable_debug": False}, 1.0),
    _case("equal-all-off", _same, _same, {k: False for k in ours.PPTX_OPTIONS if k.startswith("examine")}, 1.0),
    _case("equal-image-size", _same, _same, {"examine_image_size": True}, 1.0),
    _case("equal-modify-height", _same, _same, {"examine_modify_height": True}, 1.0),
    _case("equal-shift-size", _same, _same, {"examine_shape_for_shift_size": True}, 1.0),
    _case("equal-title-bottom", _same, _same, {"examine_title_bottom_position": True}, 0.0),
    _case("equal-table-bottom", _same, _same, {"examine_table_bottom_position": True}, 0.0),
    _case("equal-right-position", _same, _same, {"examine_right_position": True}, 0.0),
    _case("equal-top-position", _same, _same, {"examine_top_position": True}, 0.0),
    _case("typo-option-is-ignored", _same, _text("Income"), {"examine_aligment": False}, 0.0),
    # text
    _case("text", _text("Income"), _same, {}, 0.0),
    _case("text-not-examined", _text("Income"), _same, {"examine_text": _OFF}, 0.0),
    _case("text-not-examined-no-bullets", _text("Income"), _same, {"examine_text": _OFF, "examine_bullets": _OFF},
          1.0),
    _case("title-text", _text("Annual report", name="title"), _same, {}, 0.0),
    _case("trailing-space", _text("Revenue "), _same, {}, 0.0),
    _case("trailing-space-no-bullets", _text("Revenue "), _same, {"examine_bullets": _OFF}, 0.0),
    _case("empty-run-skips-bullets", _text(""), _text(""), {}, 1.0),
    _case("empty-run-one-side", _text(""), _same, {}, 0.0),
    _case("extra-paragraph", _add_paragraph("More"), _same, {}, 0.0),
    _case("extra-empty-paragraph", _add_paragraph(""), _same, {"examine_text": _OFF}, 0.0),
    _case("split-run", _chain(_text("Reve"), _add_run("nue")), _same, {}, 0.0),
    _case("split-run-both", _chain(_text("Reve"), _add_run("nue")), _chain(_text("Reve"), _add_run("nue")), {}, 1.0),
    _case("box-text", _text("Crate", slide=1, name="box"), _same, {}, 0.0),
    # fonts
    _case("font-name", _font("name", "Courier New"), _same, {}, 0.0),
    _case("font-name-off", _font("name", "Courier New"), _same, {"examine_font_name": _OFF}, 1.0),
    _case("font-name-unset", _font("name", None), _same, {}, 0.0),
    _case("font-size", _font("size", 240000), _same, {}, 0.0),
    _case("font-size-off", _font("size", 240000), _same, {"examine_font_size": _OFF}, 1.0),
    _case("bold-unset", _font("bold", None), _same, {}, 0.0),
    _case("bold-off", _font("bold", None), _same, {"examine_font_bold": _OFF}, 1.0),
    _case("bold-false-vs-unset", _font("bold", False, para=1), _same, {}, 1.0),
    _case("italic", _font("italic", True), _same, {}, 0.0),
    _case("italic-off", _font("italic", True), _same, {"examine_font_italic": _OFF}, 1.0),
    _case("italic-false-vs-unset", _font("italic", False), _same, {}, 1.0),
    _case("colour", _rgb("FF0000"), _same, {}, 0.0),
    _case("colour-off", _rgb("FF0000"), _same, {"examine_color_rgb": _OFF}, 1.0),
    _case("colour-vs-unset", _rgb("FF0000", para=1), _same, {}, 1.0),
    _case("colour-vs-theme", _theme_font_color(), _same, {}, 1.0),
    _case("underline", _font("underline", True), _same, {}, 0.0),
    _case("underline-off", _font("underline", True), _same, {"examine_font_underline": _OFF}, 1.0),
    _case("underline-false-vs-unset", _font("underline", False), _same, {}, 1.0),
    _case("underline-true-vs-false", _font("underline", True), _font("underline", False), {}, 0.0),
    _case("underline-double-vs-unset", _font("underline", 3), _same, {}, 1.0),  # MSO_UNDERLINE.DOUBLE_LINE
    _case("underline-double-vs-single", _font("underline", 3), _font("underline", True), {}, 0.0),
    _case("strike", _strike(), _same, {}, 0.0),
    _case("strike-off", _strike(), _same, {"examine_strike_through": _OFF}, 1.0),
    _case("strike-explicit-none", _strike("noStrike"), _same, {}, 1.0),
    # paragraphs
    _case("alignment", _para("alignment", 2), _same, {}, 0.0),  # PP_ALIGN.CENTER
    # setting an alignment adds an a:pPr, which the bullet check run on an earlier shape's run sees as a
    # paragraph without level ("No Level") against one of level 0: OSWorld scores these 0
    _case("alignment-off", _para("alignment", 2), _same, {"examine_alignment": _OFF}, 0.0),
    _case("alignment-off-no-bullets", _para("alignment", 2), _same, {"examine_alignment": _OFF,
                                                                    "examine_bullets": _OFF}, 1.0),
    _case("alignment-left-vs-unset", _para("alignment", 1), _same, {}, 0.0),
    _case("alignment-left-vs-unset-no-bullets", _para("alignment", 1), _same, {"examine_bullets": _OFF}, 1.0),
    _case("title-left-vs-unset", _para("alignment", 1, name="title"), _same, {}, 1.0),
    # the level is read (adding the a:pPr on both sides before the title's bullet check) even unexamined
    _case("title-left-vs-unset-nothing-read", _para("alignment", 1, name="title"), _same,
          {"examine_alignment": _OFF, "examine_indent": _OFF}, 1.0),
    _case("alignment-left-vs-unset-set-paragraph", _para("alignment", 1, para=2), _same, {}, 1.0),
    _case("alignment-left-vs-unset-later-shape", _para("alignment", 1, slide=1, name="box"), _same, {}, 0.0),
    _case("alignment-in-group", _para("alignment", 3, slide=1, name="inner0"), _same, {}, 0.0),
    _case("alignment-in-group-off", _para("alignment", 3, slide=1, name="inner0"), _same,
          {"examine_alignment": _OFF}, 0.0),
    _case("alignment-in-group-off-no-bullets", _para("alignment", 3, slide=1, name="inner0"), _same,
          {"examine_alignment": _OFF, "examine_bullets": _OFF}, 1.0),
    _case("level", _para("level", 2, para=1), _same, {}, 0.0),
    _case("level-off", _para("level", 2, para=1), _same, {"examine_indent": _OFF}, 0.0),
    _case("level-off-no-bullets", _para("level", 2, para=1), _same, {"examine_indent": _OFF,
                                                                   "examine_bullets": _OFF}, 1.0),
    _case("level-zero-vs-unset", _para("level", 0), _same, {}, 0.0),  # the a:pPr again
    _case("level-zero-vs-unset-no-bullets", _para("level", 0), _same, {"examine_bullets": _OFF}, 1.0),
    _case("bullet", _bullet("•"), _same, {}, 0.0),
    _case("bullet-off", _bullet("•"), _same, {"examine_bullets": _OFF}, 1.0),
    _case("bullet-same", _bullet("•"), _bullet("•"), {}, 1.0),
    _case("bullet-char", _bullet("•"), _bullet("-"), {}, 0.0),
    _case("bullet-later-shape", _bullet("-", slide=1, name="box"), _same, {}, 0.0),
    # notes and backgrounds
    _case("notes", _notes("Speak fast"), _same, {}, 0.0),
    _case("notes-off", _notes("Speak fast"), _same, {"examine_note": _OFF}, 1.0),
    _case("notes-whitespace", _notes("  Speak slowly\n"), _same, {}, 1.0),
    _case("notes-on-a-slide-without", _notes("hi", slide=2), _same, {}, 0.0),
    _case("background", _background("FF0000"), _same, {}, 0.0),
    _case("background-off", _background("FF0000"), _same, {"examine_background_color": _OFF}, 1.0),
    _case("background-same", _background("00FF00", slide=1), _background("00FF00", slide=1), {}, 1.0),
    _case("background-colour", _background("00FF00", slide=1), _background("00FF01", slide=1), {}, 0.0),
    _case("background-theme", _background(theme=True), _background(theme=True),
          {"examine_background_color": _OFF}, 0.0),  # OSWorld's function raises reading the RGB
    # slides and shapes
    _case("extra-slide", _add_slide, _same, {}, 0.0),
    _case("extra-slide-off", _add_slide, _same, {"examine_number_of_slides": _OFF}, 1.0),
    _case("extra-shape", _add_textbox(), _same, {}, 0.0),
    _case("extra-shape-all-off", _add_textbox(), _same,
          {k: False for k in ours.PPTX_OPTIONS if k.startswith("examine")}, 0.0),
    _case("extra-group-child", _add_group_child, _same, {}, 0.0),
    _case("extra-group-child-off", _add_group_child, _same, {"examine_alignment": _OFF, "examine_bullets": _OFF},
          0.0),
    _case("group-text", _text("inner 1", slide=1, name="inner0"), _same, {}, 0.0),
    _case("group-text-no-bullets", _text("inner 1", slide=1, name="inner0"), _same, {"examine_bullets": _OFF},
          0.0),
    _case("group-text-no-alignment-bullets", _text("inner 1", slide=1, name="inner0"), _same,
          {"examine_bullets": _OFF, "examine_alignment": _OFF}, 1.0),
    _case("move-within-tolerance", _grow(1, "box", "left", 1.004), _same, {}, 1.0),
    _case("move-past-tolerance", _grow(1, "box", "left", 1.01), _same, {}, 0.0),
    _case("move-with-tolerance", _grow(1, "box", "left", 1.01), _same, {"approximately_tolerance": 0.02}, 1.0),
    _case("move-shape-off", _grow(1, "box", "top", 1.5), _same, {"examine_shape": _OFF}, 1.0),
    _case("move-to-zero", _box(1, "box", left=0), _same, {}, 0.0),
    _case("resize-picture", _grow(1, "picture", "width", 2), _same, {}, 0.0),
    _case("no-box-both", _no_xfrm(), _no_xfrm(), {}, 1.0),
    _case("no-box-one-side", _no_xfrm(), _same, {"examine_shape": _OFF}, 0.0),  # OSWorld's raises
    # tables
    _case("table-text", _cell(1, 1, text="3"), _same, {}, 0.0),
    _case("table-text-no-bullets", _cell(1, 1, text="3"), _same, {"examine_bullets": _OFF}, 1.0),
    _case("table-bold", _cell(0, 0, bold=True), _same, {}, 0.0),
    _case("table-bold-not-examined", _cell(0, 0, bold=True), _same, {"examine_font_bold": _OFF}, 0.0),
    _case("table-bold-false", _cell(0, 0, bold=False), _same, {}, 1.0),
    _case("table-colour", _cell(0, 1, rgb="0000FF"), _cell(0, 1, rgb="0000FE"), {}, 0.0),
    _case("table-colour-off", _cell(0, 1, rgb="0000FF"), _cell(0, 1, rgb="0000FE"),
          {"examine_color_rgb": _OFF}, 1.0),
    _case("table-underline", _cell(1, 0, underline=True), _same, {"examine_font_underline": _OFF}, 0.0),
    _case("table-row", _add_table_row, _same, {}, 0.0),
    # OSWorld's task-specific position checks
    _case("title-bottom-moved-down", _box(2, "heading", top=4500000), _same,
          {"examine_title_bottom_position": True, "examine_shape": _OFF}, 1.0),
    _case("title-bottom-moved-up", _box(2, "heading", top=3000000), _same,
          {"examine_title_bottom_position": True, "examine_shape": _OFF}, 0.0),
    _case("title-bottom-other-moved", _chain(_box(2, "heading", top=4500000), _grow(1, "picture", "left", 1.1)),
          _same, {"examine_title_bottom_position": True, "examine_shape": _OFF}, 0.0),
    _case("table-bottom-moved-down", _box(2, "table", top=3700000), _same,
          {"examine_table_bottom_position": True, "examine_shape": _OFF}, 1.0),
    _case("table-bottom-not-enough", _box(2, "table", top=2000000), _same,
          {"examine_table_bottom_position": True, "examine_shape": _OFF}, 0.0),
    _case("right-position-group-unmoved", _box(1, "picture", left=6000000), _same,  # the group has no text
          {"examine_right_position": True, "examine_shape": _OFF}, 0.0),
    _case("right-position-left", _box(1, "picture", left=4000000), _same,
          {"examine_right_position": True, "examine_shape": _OFF}, 0.0),
    _case("top-position", _box(1, "picture", top=1000000), _same,
          {"examine_top_position": True, "examine_shape": _OFF}, 1.0),
    _case("top-position-too-low", _box(1, "picture", top=1400000), _box(1, "picture", top=2100000),
          {"examine_top_position": True, "examine_shape": _OFF}, 1.0),
    _case("top-position-down", _box(1, "picture", top=1800000), _same,
          {"examine_top_position": True, "examine_shape": _OFF}, 0.0),
    _case("shift-size-elaborate", _grow(1, "elaborate", "width", 1.5), _same,
          {"examine_shape_for_shift_size": True, "examine_shape": _OFF}, 1.0),
    _case("shift-size-other", _grow(1, "box", "width", 1.5), _same,
          {"examine_shape_for_shift_size": True, "examine_shape": _OFF}, 0.0),
    _case("image-size", _grow(1, "picture", "height", 1.2), _same,
          {"examine_image_size": True, "examine_shape": _OFF}, 0.0),
    _case("image-moved", _grow(1, "picture", "left", 1.2), _same,
          {"examine_image_size": True, "examine_shape": _OFF}, 1.0),
    _case("image-size-other-moved", _grow(1, "box", "left", 1.2), _same,
          {"examine_image_size": True, "examine_shape": _OFF}, 0.0),
    _case("modify-height-picture", _grow(1, "picture", "height", 1.2), _same,
          {"examine_modify_height": True, "examine_shape": _OFF}, 0.0),
    _case("modify-height-picture-width", _grow(1, "picture", "width", 1.2), _same,
          {"examine_modify_height": True, "examine_shape": _OFF}, 1.0),
    _case("modify-height-freeform-width", _grow(1, "freeform", "width", 1.2), _same,
          {"examine_modify_height": True, "examine_shape": _OFF}, 1.0),
    _case("modify-height-freeform", _grow(1, "freeform", "height", 1.2), _same,
          {"examine_modify_height": True, "examine_shape": _OFF}, 0.0),
    _case("modify-height-text-box-width", _grow(1, "box", "width", 1.2), _same,
          {"examine_modify_height": True, "examine_shape": _OFF}, 0.0),
]


def _osworld_score(theirs, f1: str, f2: str, options: dict) -> float:
    try:
        return float(theirs.compare_pptx_files(f1, f2, **options))
    except Exception:  # noqa: BLE001 - OSWorld's function raising is a 0 (ours returns 0 there)
        return 0.0


@pytest.mark.parametrize(("edit_a", "edit_b", "options", "expected"), PPTX_CASES)
def test_compare_pptx_files_scores_as_osworld(tmp_path, edit_a, edit_b, options, expected):
    pytest.importorskip("pptx", reason="needs the [osworld] extra (pip install 'guiagent[osworld]')")
    theirs = _osworld("slides")
    files = []
    for name, edit in (("a.pptx", edit_a), ("b.pptx", edit_b)):
        prs = _deck()
        edit(prs)
        prs.save(tmp_path / name)
        files.append(str(tmp_path / name))
    got = ours.compare_pptx_files(*files, **options)
    assert (got, got) == (_osworld_score(theirs, *files, options), expected)
    assert ours.compare_pptx_files(files[1], files[0], **options) == _osworld_score(theirs, files[1], files[0],
                                                                                    options)


def test_compare_pptx_files_unreadable_or_missing_scores_zero(tmp_path):
    theirs = _osworld("slides")
    good = tmp_path / "good.pptx"
    _deck().save(good)
    (tmp_path / "bad.pptx").write_text("not a zip")
    for other in (str(tmp_path / "bad.pptx"), str(tmp_path / "missing.pptx")):
        assert ours.compare_pptx_files(other, str(good)) == _osworld_score(theirs, other, str(good), {}) == 0.0
    assert ours.compare_pptx_files(None, str(good)) == 0.0


def test_compare_pptx_files_knows_every_option_of_osworlds_with_its_default():
    """An option OSWorld's function reads that ours lacked would be ignored here, scoring by another rule."""
    import ast
    import inspect
    import re

    theirs = _osworld("slides")
    source = inspect.getsource(theirs.compare_pptx_files)
    read = {name: ast.literal_eval(default) for name, default in
            re.findall(r"options\.get\(\s*[\"'](\w+)[\"']\s*,\s*([^)]+?)\s*\)", source)}
    assert read == ours.PPTX_OPTIONS
    assert ours.unsupported_options("compare_pptx_files", {k: not v for k, v in read.items()}, []) is None
