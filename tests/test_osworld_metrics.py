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
