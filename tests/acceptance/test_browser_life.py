"""The quotation's life in a real browser (tests.support.browser), with the real web server and worker
processes: the form's customer autocomplete, a draft's preview and its sending, the customer's
page with its Accept and Decline forms, and the page of a quotation that expired."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.samples import sample_payload
from tests.support.browser import (
    NEEDS_CHROMIUM,
    PIPELINE_TIMEOUT_MS,
    fill_customer,
    fill_line,
    sign_in,
    status_badge,
    wait_until_sent,
)

pytestmark = [pytest.mark.acceptance, pytest.mark.browser, NEEDS_CHROMIUM]

KNOWN = {"name": "Ana Pereira", "email": "ana@pereira.example", "company": "Pereira & Filhos Lda",
         "address": "Rua das Flores 12\n4050-262 Porto\nPortugal"}
LINE = {"description": "Espresso machine, dual boiler", "quantity": "1",
        "unit_price": "2450.00", "tax_rate": "23"}
TOKEN = re.compile(r"/q/([A-Za-z0-9_-]{43})")


def customer_link(outbox: Path, number: str) -> str:
    """The path of the customer link in the (latest) email of quotation `number`."""
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if number in message["Subject"] and "from" in message["Subject"]:
            return "/q/" + TOKEN.search(message.get_body(("plain",)).get_content()).group(1)
    raise AssertionError(f"no email of {number} in {outbox}")


def sent_quotation(stack, **overrides) -> dict:
    status, created = stack.post("/api/quotations", sample_payload(**overrides))
    assert status == 202, created
    stack.wait_for(created["links"]["self"], lambda q: q["status"] == "sent")
    return created


def test_the_form_suggests_known_customers_and_fills_them_in(open_page, stack, make_user,
                                                             screenshot):
    stack.start_web()
    status, _ = stack.post("/api/quotations", sample_payload(customer=KNOWN))
    assert status == 202
    page = open_page()
    sign_in(page, "/quotations/new", make_user("sales").email)

    name = page.locator("#customer_name")
    name.press_sequentially("Pereira", delay=30)
    suggestion = page.locator("#customer-suggestions option")
    expect(suggestion).to_have_count(1)
    label = suggestion.get_attribute("value")
    assert label == "Ana Pereira \u2014 ana@pereira.example (Pereira & Filhos Lda)"
    name.fill(label)  # what picking the suggestion does
    expect(name).to_have_value(KNOWN["name"])
    expect(page.locator("#customer_email")).to_have_value(KNOWN["email"])
    expect(page.locator("#customer_company")).to_have_value(KNOWN["company"])
    expect(page.locator("#customer_address")).to_have_value(KNOWN["address"])
    fill_line(page, 0, LINE)
    screenshot(page, "form-customer")


def test_a_draft_is_previewed_then_sent(open_page, stack, make_user, screenshot):
    stack.start_web()
    stack.start_worker()
    page = open_page()
    sign_in(page, "/quotations/new", make_user("sales").email)
    fill_customer(page, KNOWN)
    fill_line(page, 0, LINE)
    page.get_by_role("button", name="Save as draft").click()

    expect(page).to_have_url(re.compile(r"/quotations/\d+$"))
    expect(page.locator(".flash-success")).to_contain_text("Draft")
    expect(status_badge(page)).to_have_text("ready", timeout=PIPELINE_TIMEOUT_MS)
    preview = page.locator("iframe.pdf-preview")
    expect(preview).to_be_visible()
    pdf = page.request.get(preview.get_attribute("src"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    expect(page.locator(".step-waiting")).to_contain_text("Ready to send")
    quotation_id = int(page.url.rsplit("/", 1)[1])
    assert stack.get(f"/api/quotations/{quotation_id}")[1]["deliveries"] == []
    screenshot(page, "draft")

    page.get_by_role("button", name=f"Send to {KNOWN['email']}").click()
    expect(page.locator(".flash-success")).to_contain_text("Sending")
    wait_until_sent(page, stack)
    expect(page.locator("iframe.pdf-preview")).to_have_count(0)


def answer(page: Page, verb: str, name: str, comment: str) -> None:
    form = page.locator(f"#{verb}-form")
    form.get_by_label("Your name").fill(name)
    form.get_by_label("Comment").fill(comment)
    form.get_by_role("button").click()


def test_the_customer_accepts_through_the_emailed_link(open_page, stack, settings, screenshot):
    stack.start_web()
    stack.start_worker()
    created = sent_quotation(stack, customer=KNOWN)
    link = customer_link(settings.outbox_dir, created["number"])

    page = open_page()  # the customer: no account, no session
    page.goto(link)
    expect(page.get_by_role("heading", name=f"Quotation {created['number']}")).to_be_visible()
    expect(page.locator("table")).to_contain_text(sample_payload()["lines"][0]["description"])
    screenshot(page, "customer")
    answer(page, "accept", "Ana Pereira", "Please deliver before the 15th.")

    expect(page).to_have_url(re.compile(re.escape(link) + "$"))
    expect(page.get_by_role("heading", name="You accepted this quotation")).to_be_visible()
    expect(page.locator("blockquote")).to_have_text("Please deliver before the 15th.")
    expect(page.locator("#accept-form")).to_have_count(0)
    screenshot(page, "customer-accepted")
    document = stack.get(created["links"]["self"])[1]
    assert document["response"]["kind"] == "accepted"
    assert document["response"]["name"] == "Ana Pereira"


def test_the_customer_declines_and_a_second_answer_is_refused(open_page, stack, settings):
    stack.start_web()
    stack.start_worker()
    created = sent_quotation(stack)
    link = customer_link(settings.outbox_dir, created["number"])
    page = open_page()
    page.goto(link)
    early = open_page(answers=(409,))  # the same link, opened before the first answer
    early.goto(link)

    answer(page, "decline", "Bob Smith", "Too expensive for us this year.")
    expect(page.get_by_role("heading", name="You declined this quotation")).to_be_visible()
    response = early.request.get(link)
    assert response.status == 200
    answer(early, "accept", "Someone Else", "")
    expect(early.get_by_role("heading", name="You declined this quotation")).to_be_visible()
    assert stack.get(created["links"]["self"])[1]["response"]["kind"] == "declined"


def test_an_expired_quotation_says_so_and_takes_no_answer(open_page, stack, settings,
                                                        screenshot):
    stack.start_web()
    stack.start_worker()
    created = sent_quotation(stack)
    link = customer_link(settings.outbox_dir, created["number"])
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE quotations SET valid_until = current_date - 1 WHERE id = %s",
                     (created["id"],))

    page = open_page(answers=(410,))
    response = page.goto(link)
    assert response.status == 410
    expect(page.get_by_role("heading", name="This quotation has expired")).to_be_visible()
    expect(page.locator("#accept-form")).to_have_count(0)
    screenshot(page, "customer-expired")
