"""A quotation's locale (SPEC 9.6), from the API to the PDF and the emails, with the real steps
run in this process (tests.support.pipeline_runner): the DOCX rendered, converted by a real
LibreOffice, stored, emailed to the outbox. The PDF is read back with poppler's pdftotext."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import subprocess
from pathlib import Path

import pytest

from quote_service.generate.converters import SofficeConverter
from tests.samples import sample_payload
from tests.support.pipeline_runner import run_queue
from tests.support.queue_states import CSRF, with_csrf

pytestmark = pytest.mark.integration

VALID_UNTIL = dt.date.today() + dt.timedelta(days=60)
# 1299.90 net, no tax: the total is the example of SPEC 9.6.
GERMAN = sample_payload(
    locale="de-DE", valid_until=VALID_UNTIL.isoformat(),
    lines=[{"description": "Regalsystem", "quantity": "1.5", "unit_price": "866.60",
            "tax_rate": "0"}])
MONTHS_DE = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
             "September", "Oktober", "November", "Dezember"]


@pytest.fixture(scope="module")
def converter():
    return SofficeConverter(timeout=60)


@pytest.fixture
def sales(client_as):
    return client_as("sales")


@pytest.fixture
def run(app, conn, converter):
    return lambda: run_queue(app.extensions["quote_service"], converter, conn)


def emails(app) -> list[email.message.EmailMessage]:
    outbox: Path = app.extensions["quote_service"].settings.outbox_dir
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)]


def pdf_text(app, document: dict) -> str:
    path = app.extensions["quote_service"].settings.storage_dir / document["pdf"]["key"]
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                          check=True, text=True).stdout
    return " ".join(text.split())


def german_date(day: dt.date) -> str:
    return f"{day.day}. {MONTHS_DE[day.month - 1]} {day.year}"


def test_a_german_quotation_is_written_in_german_with_cldr_formats(app, sales, run):
    created = sales.post("/api/quotations", json=GERMAN).get_json()
    run()
    document = sales.get(f"/api/quotations/{created['id']}").get_json()
    assert document["locale"] == "de-DE" and document["status"] == "sent"
    assert document["total"] == "1299.90"  # the JSON stays plain, whatever the locale

    text = pdf_text(app, document)
    for expected in ("ANGEBOT", f"Nr. {document['number']}",
                     f"Gültig bis: {german_date(VALID_UNTIL)}", "ERSTELLT FÜR",
                     "Beschreibung Menge Einzelpreis", "1 Regalsystem 1,5 866,60 0 0 1.299,90",
                     "Zwischensumme (netto) 1.299,90", "Gesamt (EUR) 1.299,90 €",
                     "Seite 1 von 1"):
        assert expected in text, (expected, text)
    assert "Quotation" not in text and "Valid until" not in text

    [message] = emails(app)
    assert message["Subject"] == f"Angebot {document['number']} von Northwind Supplies Ltd"
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Guten Tag Smith & Sons <Ltd>,")
    assert (f"über insgesamt 1.299,90\xa0€, gültig bis {german_date(VALID_UNTIL)}."
            in " ".join(body.split(" ")))
    assert '<div lang="de-DE">' in message.get_body(("html",)).get_content()
    page = sales.get(f"/quotations/{created['id']}").get_data(as_text=True)
    assert "Deutsch (Deutschland) — de-DE" in page


def test_the_customer_is_answered_in_their_language_and_sales_in_the_services(app, sales, run):
    created = sales.post("/api/quotations", json=GERMAN).get_json()
    run()
    [quotation_email] = emails(app)
    token = re.search(r"/q/([A-Za-z0-9_-]{43})",
                      quotation_email.get_body(("plain",)).get_content()).group(1)
    customer = app.test_client()
    with_csrf(customer)
    answered = customer.post(f"/q/{token}/accept",
                             data={"csrf_token": CSRF, "name": "Anna Käufer", "comment": "Gern"})
    assert answered.status_code == 303
    run()

    told = {m["To"]: m for m in emails(app)[1:]}
    confirmation = told["buyer@example.com"]
    # A long subject is folded onto its next line; Python's parser keeps the fold's space.
    assert confirmation["Subject"].strip() == (
        f"Sie haben das Angebot {created['number']} von Northwind Supplies Ltd angenommen")
    text = confirmation.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "über insgesamt 1.299,90\xa0€ angenommen haben." in text
    assert "Ihr Kommentar:\nGern" in text
    [notice] = [m for address, m in told.items() if address != "buyer@example.com"]
    assert notice["Subject"] == f"Quotation {created['number']} was accepted by Anna Käufer"
    assert "for a total of €1,299.90." in notice.get_body(("plain",)).get_content()


def test_a_quotation_that_names_no_locale_gets_the_services(app, sales):
    created = sales.post("/api/quotations", json=sample_payload()).get_json()
    assert sales.get(f"/api/quotations/{created['id']}").get_json()["locale"] == "en-GB"

    spelled = sales.post("/api/quotations", json=sample_payload(locale="fr_fr")).get_json()
    assert sales.get(f"/api/quotations/{spelled['id']}").get_json()["locale"] == "fr-FR"


def test_a_changed_quotation_keeps_its_locale_unless_the_body_names_another(sales, run):
    created = sales.post("/api/quotations", json=GERMAN).get_json()
    run()
    revised = sales.post(f"/api/quotations/{created['id']}/revise", json=sample_payload())
    assert revised.status_code == 201
    revision = revised.get_json()
    assert sales.get(f"/api/quotations/{revision['id']}").get_json()["locale"] == "de-DE"

    edited = sales.put(f"/api/quotations/{revision['id']}", json=sample_payload())
    assert edited.status_code == 202, edited.get_json()
    assert sales.get(f"/api/quotations/{revision['id']}").get_json()["locale"] == "de-DE"
    named = sales.put(f"/api/quotations/{revision['id']}", json=sample_payload(locale="fr-CH"))
    assert named.status_code == 202, named.get_json()
    assert sales.get(f"/api/quotations/{revision['id']}").get_json()["locale"] == "fr-CH"


@pytest.mark.parametrize("locale", ["de", "pt-BR", "en-GB-x-evil", 7, ["de-DE"]])
def test_an_unknown_locale_is_refused_and_nothing_is_written(sales, conn, locale):
    before = conn.execute("SELECT count(*) FROM quotations").fetchone()[0]

    response = sales.post("/api/quotations", json=sample_payload(locale=locale))

    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert error["field"] == "locale" and "de-DE" in error["message"]
    assert conn.execute("SELECT count(*) FROM quotations").fetchone()[0] == before


def test_the_form_offers_the_locales_and_keeps_the_choice(app, sales, conn):
    form = sales.get("/quotations/new").get_data(as_text=True)
    assert '<option value="en-GB" selected>' in form
    assert '<option value="ja-JP">日本語 (日本) — ja-JP</option>' in form

    with_csrf(sales)
    response = sales.post("/quotations/new", data={
        "csrf_token": CSRF, "action": "draft", "submission_id": "a" * 32,
        "customer_name": "Yamada Taro", "customer_email": "taro@example.com",
        "currency": "JPY", "locale": "ja-JP", "template": "standard",
        "lines-0-description": "設置作業", "lines-0-quantity": "1",
        "lines-0-unit_price": "120000"})
    assert response.status_code == 303
    row = conn.execute("SELECT locale FROM quotations ORDER BY id DESC LIMIT 1").fetchone()
    assert row == ("ja-JP",)

    refused = sales.post("/quotations/new", data={
        "csrf_token": CSRF, "action": "draft", "customer_name": "X",
        "customer_email": "x@example.com", "currency": "EUR", "locale": "xx-XX",
        "lines-0-description": "A", "lines-0-quantity": "1", "lines-0-unit_price": "1"})
    assert refused.status_code == 422
    assert "Language and formats" in refused.get_data(as_text=True)


# --- every script drawn -----------------------------------------------------------------------

ARABIC, HEBREW, JAPANESE = "شركة النور للتجارة", "חברת אור בע\"מ", "山田商事株式会社"
EMOJI = "🚀🎉😀"
SCRIPTS = sample_payload(
    locale="ja-JP",
    customer={"name": f"{ARABIC} & <{HEBREW}>", "email": "buyer@example.com",
              "company": JAPANESE, "address": "עברית 5\nالرياض"},
    notes=f"Thanks {EMOJI} ✓\n{ARABIC}\n{HEBREW}",
    lines=[{"description": f"Widget {EMOJI[0]} {ARABIC} {HEBREW}", "quantity": "2",
            "unit_price": "99.50", "tax_rate": "10"}])


@pytest.fixture
def scripts_pdf(app, sales, run) -> Path:
    created = sales.post("/api/quotations", json=SCRIPTS).get_json()
    run()
    document = sales.get(f"/api/quotations/{created['id']}").get_json()
    assert document["status"] == "sent"
    return app.extensions["quote_service"].settings.storage_dir / document["pdf"]["key"]


def poppler(tool: str, pdf: Path, *args: str) -> str:
    return subprocess.run([tool, *args, str(pdf), "-"] if tool == "pdftotext" else
                          [tool, *args, str(pdf)], capture_output=True, check=True,
                          text=True).stdout


def reading_text(pdf: Path) -> str:
    """pdftotext's reading order: right-to-left runs in logical order, each wrapped in the
    embedding marks U+202B ... U+202C, which are dropped here."""
    return poppler("pdftotext", pdf).replace("\u202b", "").replace("\u202c", "")


def test_every_script_is_drawn_with_an_embedded_font_emoji_included(scripts_pdf):
    """A character no font covers would be an empty box, yet pdftotext would still find it
    (ActualText): the fonts that drew the page are what proves it was drawn."""
    [_head, _rule, *rows] = poppler("pdffonts", scripts_pdf).splitlines()
    fonts = {row.split()[0].split("+")[-1]: row.split()[-5] for row in rows}
    assert fonts and set(fonts.values()) == {"yes"}, fonts  # every font embedded
    assert any(name.startswith("Symbola") for name in fonts), fonts  # emoji, in outlines
    assert any(name.startswith("NotoSansCJK") for name in fonts), fonts
    assert any(name.startswith("DejaVuSans") for name in fonts), fonts

    text = reading_text(scripts_pdf)
    for expected in (ARABIC, HEBREW, JAPANESE, EMOJI, "御見積書", "合計（EUR）", "€218.90"):
        assert expected in text, (expected, text)


def test_right_to_left_text_keeps_its_order_and_bold_runs_their_weight(scripts_pdf):
    """Arabic and Hebrew read right to left; in a bold run (the customer's name) they need the
    complex-script bold (<w:bCs/>) or they are drawn thin."""
    from pypdf import PdfReader

    drawn: list[tuple[str, str]] = []
    PdfReader(scripts_pdf).pages[0].extract_text(visitor_text=lambda text, cm, tm, font, size: (
        drawn.append((str(font.get("/BaseFont")), text)) if font and text.strip() else None))
    bold_name = [font for font, text in drawn if ARABIC in text and "Bold" in font]
    assert bold_name, drawn
    regular = [font for font, text in drawn if HEBREW in text and "Bold" not in font]
    assert regular, drawn
    # Logical order, as typed: words neither mirrored nor shuffled.
    text = reading_text(scripts_pdf)
    assert f"{ARABIC}\n{HEBREW}" in text and ARABIC[::-1] not in text


def test_the_pdf_metadata_is_plain_text_escaped_once(scripts_pdf):
    info = dict(line.split(":", 1) for line in
                poppler("pdfinfo", scripts_pdf, "-enc", "UTF-8").splitlines() if ":" in line)
    assert info["Title"].strip().startswith("見積書 Q-")
    assert info["Subject"].strip() == f"{ARABIC} & <{HEBREW}> 様 御見積書"
    assert "&amp;" not in info["Subject"] and "&lt;" not in info["Subject"]


@pytest.mark.parametrize("locale", ["en-GB", "de-DE", "fr-FR", "ja-JP"])
def test_each_languages_table_heads_fit_their_columns(converter, locale):
    """The columns are fixed: a head longer than its column would break inside the word."""
    from quote_service.generate.document import render_docx, sample_context

    context = sample_context(2, locale)
    pdf = converter.convert(render_docx(context))
    text = subprocess.run(["pdftotext", "-raw", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()
    words = context["words"]
    heads = " ".join(words[f"col_{name}"] for name in (
        "position", "description", "quantity", "unit_price", "discount", "tax_rate", "net"))
    assert heads in text.splitlines(), (heads, text)
    total = f"{words['total']} {context['total_with_currency']}"
    assert " ".join(total.split()) in " ".join(text.split())
