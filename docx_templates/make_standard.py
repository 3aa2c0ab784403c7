"""Build `standard.docx`, the quotation template, with python-docx.

The template is generated rather than drawn in a word processor so that every choice that
matters for rendering is explicit and reviewable: fonts that cover every script customers
write in, fixed column widths (LibreOffice ignores widths that are only set on cells), one
table row per line item through docxtpl's `{%tr %}` tag, and no theme fonts (a theme font
silently wins over an explicit one).

Run: `.venv/bin/python docx_templates/make_standard.py` (writes next to this file).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

OUTPUT = Path(__file__).with_name("standard.docx")

LATIN_FONT = "DejaVu Sans"  # Latin, Greek, Cyrillic, Arabic and Hebrew
CJK_FONT = "Noto Sans CJK SC"  # Han, kana and hangul (the pan-CJK Noto fonts cover all three)
ACCENT = RGBColor(0x1F, 0x3A, 0x5F)
MUTED = RGBColor(0x5F, 0x6B, 0x7A)
ACCENT_HEX = "1F3A5F"
RULE_HEX = "C9D1DB"

PAGE_WIDTH, PAGE_HEIGHT = Cm(21.0), Cm(29.7)
MARGIN = Cm(1.8)
# #, description, qty, unit price, discount %, tax %, net amount: 17.4 cm of text width. The
# heads are the locale's words (quote_service/words/), like every fixed word: each
# column is as wide as its longest head in any language (German's "USt. %", "Menge") on one line.
ITEM_COLUMNS = [
    ("{{ words.col_position }}", Cm(1.1), WD_ALIGN_PARAGRAPH.LEFT, "{{ line.position }}"),
    ("{{ words.col_description }}", Cm(6.4), WD_ALIGN_PARAGRAPH.LEFT, "{{ line.description }}"),
    ("{{ words.col_quantity }}", Cm(1.6), WD_ALIGN_PARAGRAPH.RIGHT, "{{ line.quantity }}"),
    ("{{ words.col_unit_price }}", Cm(2.3), WD_ALIGN_PARAGRAPH.RIGHT, "{{ line.unit_price }}"),
    ("{{ words.col_discount }}", Cm(1.7), WD_ALIGN_PARAGRAPH.RIGHT, "{{ line.discount_pct }}"),
    ("{{ words.col_tax_rate }}", Cm(1.6), WD_ALIGN_PARAGRAPH.RIGHT, "{{ line.tax_rate }}"),
    ("{{ words.col_net }}", Cm(2.7), WD_ALIGN_PARAGRAPH.RIGHT, "{{ line.net }}"),
]


def set_fonts(rpr_parent, size_pt: float | None = None) -> None:
    """Name every font slot explicitly and drop theme references, which would take precedence."""
    rpr = rpr_parent.get_or_add_rPr() if hasattr(rpr_parent, "get_or_add_rPr") else rpr_parent
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), CJK_FONT)
    if size_pt is not None:
        for tag in ("w:sz", "w:szCs"):
            element = rpr.find(qn(tag))
            if element is None:
                element = OxmlElement(tag)
                rpr.append(element)
            element.set(qn("w:val"), str(int(size_pt * 2)))


def configure_defaults(document) -> None:
    """Document-wide defaults: fonts, size, language, compact paragraph spacing."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    set_fonts(rpr, size_pt=9)
    lang = rpr.find(qn("w:lang"))
    lang.set(qn("w:val"), "en-GB")
    lang.set(qn("w:eastAsia"), "zh-CN")
    spacing = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing"))
    spacing.set(qn("w:after"), "0")
    spacing.set(qn("w:line"), "252")

    normal = document.styles["Normal"]
    set_fonts(normal.element.get_or_add_rPr(), size_pt=9)
    normal.paragraph_format.space_after = Pt(0)


def add_style(document, name: str, *, size: float = 9, bold: bool = False,
              color: RGBColor | None = None, align=None, space_before: float = 0,
              space_after: float = 0, caps: bool = False, keep_with_next: bool = False):
    """A paragraph style based on Normal; styles keep the template editable in Word."""
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Normal"]
    style.font.size = Pt(size)
    style.font.bold = bold
    if bold:
        # Arabic and Hebrew runs are complex script: they take <w:bCs/>, not <w:b/>, so a
        # bold style without it draws them thin (or, for some fonts, with fallback glyphs).
        style.element.get_or_add_rPr().find(qn("w:b")).addnext(OxmlElement("w:bCs"))
    style.font.all_caps = caps
    if color is not None:
        style.font.color.rgb = color
    set_fonts(style.element.get_or_add_rPr(), size_pt=size)
    fmt = style.paragraph_format
    fmt.space_before = Pt(space_before)
    fmt.space_after = Pt(space_after)
    fmt.keep_with_next = keep_with_next
    if align is not None:
        fmt.alignment = align
    return style


def paragraph_border(paragraph, side: str, color: str, size: int = 8, space: int = 4) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    edge = OxmlElement(f"w:{side}")
    edge.set(qn("w:val"), "single")
    edge.set(qn("w:sz"), str(size))
    edge.set(qn("w:space"), str(space))
    edge.set(qn("w:color"), color)
    borders.append(edge)
    ppr.append(borders)


def fixed_layout(table, widths) -> None:
    """Fixed widths on the grid, the columns and every cell: LibreOffice reads the grid."""
    table.autofit = False
    tblpr = table._tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    tblpr.append(layout)
    for i, width in enumerate(widths):
        table.columns[i].width = width
        for cell in table.columns[i].cells:
            cell.width = width


def table_borders(table, **edges: str) -> None:
    """Set the table's own borders: `edges` maps top/bottom/insideH/... to a colour or 'nil'."""
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        edge = OxmlElement(f"w:{side}")
        color = edges.get(side, "nil")
        if color == "nil":
            edge.set(qn("w:val"), "nil")
        else:
            edge.set(qn("w:val"), "single")
            edge.set(qn("w:sz"), "4")
            edge.set(qn("w:color"), color)
        borders.append(edge)
    tblpr.append(borders)


def shade(cell, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shading)


def row_flag(row, tag: str) -> None:
    """`tblHeader` repeats a row on every page; `cantSplit` keeps a line item on one page."""
    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement(f"w:{tag}"))


def write(cell_or_doc, text: str, style: str, first: bool = False):
    """Add a paragraph (or fill the cell's empty first one) with `text` in `style`."""
    if first:
        paragraph = cell_or_doc.paragraphs[0]
        paragraph.text = text
        paragraph.style = style
        return paragraph
    return cell_or_doc.add_paragraph(text, style=style)


def add_field(paragraph, instruction: str) -> None:
    """A simple field (PAGE, NUMPAGES) that LibreOffice computes while laying out pages."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def letterhead(document) -> None:
    table = document.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table_borders(table)
    fixed_layout(table, [Cm(10.4), Cm(7.0)])
    left, right = table.rows[0].cells
    write(left, "{{ company.name }}", "QS Company", first=True)
    write(left, "{%p for address_line in company.address_lines %}", "QS Muted")
    write(left, "{{ address_line }}", "QS Muted")
    write(left, "{%p endfor %}", "QS Muted")
    write(right, "{{ words.title }}", "QS Title", first=True)
    write(right, "{{ words.number }}", "QS Number")
    write(right, "{{ words.issued_on }}", "QS Right")
    write(right, "{{ words.valid_until }}", "QS Right")
    rule = document.add_paragraph("", style="QS Spacer")
    paragraph_border(rule, "bottom", ACCENT_HEX, size=12)


def customer_block(document) -> None:
    document.add_paragraph("{{ words.prepared_for }}", style="QS Label")
    document.add_paragraph("{{ customer.name }}", style="QS Strong")
    document.add_paragraph("{%p if customer.company %}")
    document.add_paragraph("{{ customer.company }}")
    document.add_paragraph("{%p endif %}")
    document.add_paragraph("{%p for address_line in customer.address_lines %}")
    document.add_paragraph("{{ address_line }}")
    document.add_paragraph("{%p endfor %}")
    document.add_paragraph("{{ customer.email }}", style="QS Muted")


def items_table(document) -> None:
    document.add_paragraph("{{ words.amounts_in }}", style="QS Caption")
    table = document.add_table(rows=4, cols=len(ITEM_COLUMNS))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table_borders(table, bottom=ACCENT_HEX, insideH=RULE_HEX)
    header, loop_open, item, loop_close = table.rows
    row_flag(header, "tblHeader")
    row_flag(item, "cantSplit")
    for i, (title, _width, align, field) in enumerate(ITEM_COLUMNS):
        head = write(header.cells[i], title, "QS Table Head", first=True)
        head.alignment = align
        shade(header.cells[i], ACCENT_HEX)
        value = write(item.cells[i], field, "QS Table Text", first=True)
        value.alignment = align
    write(loop_open.cells[0], "{%tr for line in lines %}", "QS Table Text", first=True)
    write(loop_close.cells[0], "{%tr endfor %}", "QS Table Text", first=True)
    fixed_layout(table, [width for _t, width, _a, _f in ITEM_COLUMNS])


def totals_table(document) -> None:
    document.add_paragraph("", style="QS Spacer")
    rows = [
        ("{{ words.subtotal }}", "{{ subtotal }}", False),
        ("{{ words.discount_total }}", "{{ discount_total }}", False),
        ("{{ words.tax_total }}", "{{ tax_total }}", False),
        ("{{ words.total }}", "{{ total_with_currency }}", True),
    ]
    table = document.add_table(rows=len(rows), cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.RIGHT
    table_borders(table)
    for row, (label, value, strong) in zip(table.rows, rows, strict=True):
        row_flag(row, "cantSplit")
        style = "QS Total" if strong else "QS Right"
        write(row.cells[0], label, style, first=True)
        write(row.cells[1], value, style, first=True)
        if strong:
            for cell in row.cells:
                shade(cell, "E8EDF3")
    fixed_layout(table, [Cm(4.6), Cm(3.8)])


def notes_and_terms(document) -> None:
    document.add_paragraph("{%p if notes_lines %}")
    document.add_paragraph("{{ words.notes }}", style="QS Label")
    document.add_paragraph("{%p for note_line in notes_lines %}")
    document.add_paragraph("{{ note_line }}")
    document.add_paragraph("{%p endfor %}")
    document.add_paragraph("{%p endif %}")
    document.add_paragraph("{{ words.terms }}", style="QS Label")
    document.add_paragraph("{{ words.terms_text }}", style="QS Muted")


def footer(section) -> None:
    paragraph = section.footer.paragraphs[0]
    paragraph.style = "QS Footer"
    paragraph_border(paragraph, "top", RULE_HEX, size=4)
    paragraph.add_run("{{ company.name }} \u00b7 {{ words.document }} {{ number }} \u00b7 "
                      "{{ words.page_before }}")
    add_field(paragraph, "PAGE")
    paragraph.add_run("{{ words.page_between }}")
    add_field(paragraph, "NUMPAGES")
    paragraph.add_run("{{ words.page_after }}")


def build() -> Document:
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.left_margin = section.right_margin = MARGIN
    section.top_margin, section.bottom_margin = Cm(1.6), Cm(1.8)
    section.footer_distance = Cm(0.9)

    configure_defaults(document)
    right = WD_ALIGN_PARAGRAPH.RIGHT
    add_style(document, "QS Company", size=15, bold=True, color=ACCENT, space_after=3)
    add_style(document, "QS Title", size=20, bold=True, color=ACCENT, align=right)
    add_style(document, "QS Number", size=10, bold=True, align=right, space_after=2)
    add_style(document, "QS Right", align=right)
    add_style(document, "QS Muted", color=MUTED)
    add_style(document, "QS Label", size=8, bold=True, color=MUTED, caps=True,
              space_before=12, space_after=3, keep_with_next=True)
    add_style(document, "QS Strong", size=10, bold=True)
    add_style(document, "QS Caption", size=8, color=MUTED, align=right, space_before=14,
              space_after=3)
    add_style(document, "QS Table Head", size=8.5, bold=True, color=RGBColor(0xFF, 0xFF, 0xFF),
              space_before=2, space_after=2)
    add_style(document, "QS Table Text", size=8.5, space_before=2, space_after=2)
    add_style(document, "QS Total", size=10, bold=True, align=right, space_before=2,
              space_after=2)
    add_style(document, "QS Spacer", size=4, space_after=4)
    add_style(document, "QS Footer", size=7.5, color=MUTED, align=WD_ALIGN_PARAGRAPH.CENTER)

    # Remove the empty paragraph python-docx starts with, so the letterhead is first.
    body = document.element.body
    for paragraph in list(body.iterchildren(qn("w:p"))):
        body.remove(paragraph)

    letterhead(document)
    customer_block(document)
    items_table(document)
    totals_table(document)
    notes_and_terms(document)
    footer(section)
    prune(document)

    properties = document.core_properties
    properties.title = "{{ words.document }} {{ number }}"
    properties.author = "{{ company.name }}"
    properties.subject = "{{ words.subject }}"
    properties.comments = ""
    properties.keywords = ""
    properties.last_modified_by = ""
    return document


# Parts of python-docx's blank document that the template never uses: a copy of every style
# (stylesWithEffects), list definitions (the template has no lists), a bibliography store and
# the picture of an empty page that file browsers would show as the document's thumbnail.
UNUSED_PARTS = ("/stylesWithEffects", "/numbering", "/customXml", "/thumbnail")


def prune(document) -> None:
    """Drop what the template does not use, keeping the styles it names, the defaults and what
    they are based on.

    python-docx's blank document carries ~170 styles, 137 latent ones and a copy of them all:
    LibreOffice parses every one on each conversion, which was a third of the time it took to
    convert a 1-page quotation.
    """
    for rels in (document.part.rels, document.part.package.rels):
        for rel_id, rel in list(rels.items()):
            if rel.reltype.endswith(UNUSED_PARTS):
                rels.pop(rel_id)
    styles = document.styles.element
    used = set()
    for part in document.part.package.iter_parts():
        element = getattr(part, "element", None)
        if element is not None and element is not styles:
            for tag in ("w:pStyle", "w:rStyle", "w:tblStyle"):
                used.update(e.get(qn("w:val")) for e in element.iter(qn(tag)))
    by_id = {style.get(qn("w:styleId")): style for style in styles.iterchildren(qn("w:style"))}
    wanted = used | {sid for sid, style in by_id.items() if style.get(qn("w:default")) == "1"}
    keep: set[str] = set()
    while wanted:
        style_id = wanted.pop()
        if style_id in keep or style_id not in by_id:
            continue
        keep.add(style_id)
        for tag in ("w:basedOn", "w:link", "w:next"):
            reference = by_id[style_id].find(qn(tag))
            if reference is not None:
                wanted.add(reference.get(qn("w:val")))
    for style_id, style in by_id.items():
        if style_id not in keep:
            styles.remove(style)
    latent = styles.find(qn("w:latentStyles"))
    if latent is not None:
        styles.remove(latent)


def stable_bytes(document) -> bytes:
    """The saved DOCX with fixed zip timestamps, so rebuilding an unchanged template is a no-op
    for git."""
    raw = io.BytesIO()
    document.save(raw)
    stable = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(stable, "w") as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(item.filename))
    return stable.getvalue()


def main() -> None:
    OUTPUT.write_bytes(stable_bytes(build()))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
