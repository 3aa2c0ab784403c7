"""Render a quotation and convert it with each real converter; read the PDF back."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from quote_service.generate.converters import SofficeConverter, UnoserverConverter
from quote_service.generate.document import render_docx, sample_context
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

CJK_NAMES = ["王小明", "山田太郎", "김민수"]


@pytest.fixture(scope="module", params=["soffice", "unoserver"])
def converter(request, tmp_path_factory):
    if request.param == "soffice":
        yield SofficeConverter(timeout=60)
        return
    pool = UnoserverConverter(
        slots=1, timeout=60, base_port=free_port(),
        runtime_dir=tmp_path_factory.mktemp("libreoffice"),
    )
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def context():
    context = sample_context(4)
    context["customer"]["name"] = "Smith & Sons <Ltd> " + " ".join(CJK_NAMES)
    context["customer"]["company"] = "Ελληνικά & Кириллица"
    context["customer"]["address_lines"] = ["1 Main St", "Springfield"]
    context["notes_lines"] = ["Typed by the customer: {{ 7*7 }}", "", "Thank you"]
    return context


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


def embedded_fonts(pdf: bytes) -> set[str]:
    """BaseFont names of fonts whose program is embedded in the PDF."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            parts = [font] + [d.get_object() for d in font.get("/DescendantFonts", [])]
            for part in parts:
                descriptor = part.get("/FontDescriptor")
                if descriptor is not None and any(
                    key in descriptor.get_object() for key in ("/FontFile", "/FontFile2",
                                                                "/FontFile3")
                ):
                    names.add(str(font["/BaseFont"]))
    return names


@pytest.fixture(scope="module")
def pdf(converter, context):
    return converter.convert(render_docx(context))


def test_pdf_is_a_single_page_pdf(pdf):
    assert pdf.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_customer_text_is_verbatim(pdf, context):
    text = pdf_text(pdf)
    assert context["customer"]["name"] in text
    assert "Ελληνικά & Кириллица" in text
    assert "1 Main St\nSpringfield" in text
    assert "Typed by the customer: {{ 7*7 }}" in text
    assert "49" not in text.split("Typed by the customer:")[1].split("\n")[0]


def test_every_line_item_is_a_row(pdf, context):
    text = flat(pdf_text(pdf))
    for line in context["lines"]:
        row = flat(
            f"{line['position']} {line['description']} {line['quantity']} {line['unit_price']} "
            f"{line['discount_pct']} {line['tax_rate']} {line['net']}"
        )
        assert row in text


def test_totals_and_header_fields(pdf, context):
    text = flat(pdf_text(pdf))
    for expected in (
        "QUOTATION", "No. Q-2026-0001", "Issue date: 28 November 2026",
        "Valid until: 28 December 2026", f"Subtotal (net) {context['subtotal']}",
        f"Discounts included {context['discount_total']}", f"Tax {context['tax_total']}",
        f"Total (EUR) {context['total_with_currency']}", "Page 1 of 1", context["company"]["name"],
    ):
        assert expected in text


def test_cjk_is_drawn_with_an_embedded_cjk_font(pdf):
    fonts = embedded_fonts(pdf)
    assert any("NotoSansCJK" in name for name in fonts), fonts
    assert any("DejaVuSans" in name for name in fonts), fonts


def test_long_quotation_spans_pages_with_every_row(converter):
    context = sample_context(135)

    pdf = converter.convert(render_docx(context))

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 5
    text = flat(pdf_text(pdf))
    assert all(f" {line['net']}" in text for line in context["lines"])
    assert f"Total (EUR) {context['total_with_currency']}" in text
    assert "Page 5 of 5" in text
