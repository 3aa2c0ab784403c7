"""Rendering quotations into the DOCX template: escaping, sandboxing, rows, line breaks."""

from __future__ import annotations

import importlib.util
import io
import zipfile

import pytest
from docx import Document

from quote_service.generate.document import (
    TEMPLATES_DIR,
    DocumentError,
    available_templates,
    render_docx,
    sample_context,
)


def body_xml(docx: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return archive.read("word/document.xml").decode()


def members(docx: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def part_xml(docx: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return archive.read(name).decode()


def texts(docx: bytes) -> list[str]:
    """Every paragraph's text, body and table cells, in order."""
    document = Document(io.BytesIO(docx))
    found = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                found.extend(p.text for p in cell.paragraphs)
    return found


def items_table(docx: bytes):
    document = Document(io.BytesIO(docx))
    return next(t for t in document.tables if t.rows[0].cells[1].text == "Description")


def test_standard_template_is_listed():
    assert "standard" in available_templates()


def test_markup_in_data_comes_out_verbatim():
    context = sample_context(2)
    context["customer"]["name"] = "Smith & Sons <Ltd>"
    context["customer"]["company"] = 'O\'Brien "Quotes" & Co'
    context["notes_lines"] = ["Please compute {{ 7*7 }} and {% raw %} for us"]

    docx = render_docx(context)

    xml = body_xml(docx)
    assert "Smith &amp; Sons &lt;Ltd&gt;" in xml
    assert "{{ 7*7 }}" in xml
    paragraphs = texts(docx)
    assert "Smith & Sons <Ltd>" in paragraphs
    assert 'O\'Brien "Quotes" & Co' in paragraphs
    assert "Please compute {{ 7*7 }} and {% raw %} for us" in paragraphs
    assert not any("49" in text for text in paragraphs if "compute" in text)


def test_one_table_row_per_line_item():
    context = sample_context(7)

    table = items_table(render_docx(context))

    assert len(table.rows) == 1 + 7  # the header, then one row per line, no loop rows left
    for row, line in zip(table.rows[1:], context["lines"], strict=True):
        cells = [cell.text for cell in row.cells]
        assert cells == [
            str(line["position"]), line["description"], line["quantity"], line["unit_price"],
            line["discount_pct"], line["tax_rate"], line["net"],
        ]


def test_each_render_has_its_own_data_though_the_template_is_compiled_once():
    first, second = sample_context(2), sample_context(5)
    first["customer"]["name"], second["customer"]["name"] = "First Customer", "Second Customer"

    documents = [render_docx(context) for context in (first, second, first)]

    assert [len(items_table(d).rows) for d in documents] == [3, 6, 3]
    assert ["First Customer" in texts(d) for d in documents] == [True, False, True]
    assert ["Second Customer" in texts(d) for d in documents] == [False, True, False]
    # The same quotation renders the same parts (the zip's own entry times may differ).
    assert members(documents[0]) == members(documents[2])


def test_no_lines_leaves_only_the_header():
    context = sample_context(0)
    assert len(items_table(render_docx(context)).rows) == 1


def test_quotation_fields_and_totals_are_printed():
    context = sample_context(3)

    paragraphs = texts(render_docx(context))

    for expected in (
        context["company"]["name"], "No. Q-2026-0001", "Issue date: 28 November 2026",
        "Valid until: 28 December 2026", context["subtotal"], context["discount_total"],
        context["tax_total"], "€789.60", "Total (EUR)", "buyer@example.com",
    ):
        assert expected in paragraphs


def test_address_and_notes_keep_their_lines():
    context = sample_context(1)
    context["customer"]["address_lines"] = ["Flat 2", "1 Main St", "Springfield"]
    context["notes_lines"] = ["First line", "", "Third line"]

    paragraphs = texts(render_docx(context))

    start = paragraphs.index("Flat 2")
    assert paragraphs[start:start + 3] == ["Flat 2", "1 Main St", "Springfield"]
    start = paragraphs.index("First line")
    assert paragraphs[start:start + 3] == ["First line", "", "Third line"]


def test_line_break_inside_a_description_becomes_a_break():
    context = sample_context(1)
    context["lines"][0]["description"] = "Shelving unit\nincludes anchoring"

    xml = body_xml(render_docx(context))

    assert "Shelving unit</w:t><w:br/>" in xml


def test_control_characters_cannot_break_the_document():
    context = sample_context(1)
    context["customer"]["name"] = "Bell\x07 Form\x0cfeed\x00 Ltd\r\nBranch"

    docx = render_docx(context)

    assert "Bell Formfeed Ltd" in body_xml(docx)
    assert 'w:type="page"' not in body_xml(docx)


def test_fonts_cover_every_script():
    styles = part_xml(render_docx(sample_context(1)), "word/styles.xml")
    assert 'w:eastAsia="Noto Sans CJK SC"' in styles
    assert 'w:ascii="DejaVu Sans"' in styles
    assert "Theme" not in styles.split("<w:docDefaults>")[1].split("</w:docDefaults>")[0]


def test_footer_and_properties_are_rendered():
    docx = render_docx(sample_context(1))
    footer = "".join(
        part_xml(docx, name) for name in zipfile.ZipFile(io.BytesIO(docx)).namelist()
        if name.startswith("word/footer")
    )
    assert "Quotation Q-2026-0001" in footer
    assert "{{" not in footer
    assert Document(io.BytesIO(docx)).core_properties.title == "Quotation Q-2026-0001"


def test_properties_are_plain_text_escaped_once():
    """python-docx escapes what it writes: rendered with autoescape too, `&` came out as
    `&amp;` in the PDF's metadata."""
    context = sample_context(1, customer_name='Smith & Sons <Ltd> "Q" {{ 7*7 }}')

    properties = Document(io.BytesIO(render_docx(context))).core_properties

    assert properties.subject == 'Quotation for Smith & Sons <Ltd> "Q" {{ 7*7 }}'


@pytest.mark.parametrize(
    "name", ["../docx_templates/standard", "standard.docx", "/etc/passwd", "", "STANDARD",
             "standard/../standard", "nope", None],
)
def test_template_names_are_matched_against_the_folder(name):
    with pytest.raises(DocumentError, match="unknown template"):
        render_docx(sample_context(1), name)


def write_template(folder, text: str) -> None:
    document = Document()
    document.add_paragraph(text)
    document.save(folder / "evil.docx")


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lines.__class__.__base__ }}",
        "{{ number.format.__globals__ }}",
    ],
)
def test_template_cannot_reach_python_internals(tmp_path, payload):
    write_template(tmp_path, payload)

    with pytest.raises(DocumentError, match="unsafe|not safely callable"):
        render_docx(sample_context(1), "evil", templates_dir=tmp_path)


def test_missing_key_is_an_error_not_a_blank(tmp_path):
    write_template(tmp_path, "{{ customer.vat_number }}")

    with pytest.raises(DocumentError, match="vat_number"):
        render_docx(sample_context(1), "evil", templates_dir=tmp_path)


def test_sample_context_has_the_contract_keys():
    context = sample_context(2)
    assert set(context) == {
        "company", "number", "issued_on", "valid_until", "currency", "customer", "lines",
        "subtotal", "discount_total", "tax_total", "total", "notes_lines", "locale", "words",
        "total_with_currency",
    }
    assert set(context["lines"][0]) == {
        "position", "description", "quantity", "unit_price", "discount_pct", "tax_rate",
        "net", "tax", "total",
    }
    assert len(sample_context(135)["lines"]) == 135


def test_the_committed_template_is_what_its_script_builds():
    """standard.docx is generated: an edit by hand, or a script change without a rebuild, fails."""
    script = TEMPLATES_DIR / "make_standard.py"
    spec = importlib.util.spec_from_file_location("make_standard", script)
    make_standard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_standard)

    built = make_standard.stable_bytes(make_standard.build())
    assert built == (TEMPLATES_DIR / "standard.docx").read_bytes(), (
        f"run: .venv/bin/python {script.relative_to(TEMPLATES_DIR.parent)}")
    with zipfile.ZipFile(io.BytesIO(built)) as archive:
        names = set(archive.namelist())
    # What LibreOffice would parse on every conversion for nothing.
    assert not {"word/stylesWithEffects.xml", "word/numbering.xml"} & names
    assert "w:latentStyles" not in part_xml(built, "word/styles.xml")
