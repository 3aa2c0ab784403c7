"""The pages in a real browser (tests.support.browser), against the real web server and worker
processes. A sales user fills the form and follows the quotation to its PDF; an admin watches
a job fail on the dashboard, fixes the cause and retries it from there.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quote_service.demo import stop
from tests.samples import sample_payload
from tests.support.browser import (
    NEEDS_CHROMIUM,
    VIEWPORT,
    card,
    contrast,
    fill_customer,
    fill_line,
    reload_until,
    sign_in,
    status_badge,
    wait_until_sent,
)

pytestmark = [
    pytest.mark.acceptance,
    pytest.mark.browser,
    NEEDS_CHROMIUM,
]

CUSTOMER = {"name": "Ana Pereira", "email": "ana@pereira.example", "company": "Pereira & Filhos Lda",
            "address": "Rua das Flores 12\n4050-262 Porto\nPortugal"}
LINES = [
    {"description": "Espresso machine, dual boiler", "quantity": "1", "unit_price": "2450.00",
     "tax_rate": "23", "discount_pct": ""},
    {"description": "Barista training (half day)", "quantity": "2", "unit_price": "180",
     "tax_rate": "23", "discount_pct": "10"},
]
# 2450.00 + 324.00 net; 563.50 + 74.52 tax
TOTAL = "3,412.02"


def test_sign_out_is_legible_on_the_top_bar_and_signs_out(open_page, make_user):
    page = open_page()
    sign_in(page, "/quotations", make_user("sales").email)
    button = page.get_by_role("button", name="Sign out")
    bar = page.locator(".topbar").evaluate("e => getComputedStyle(e).backgroundColor")
    colour = "e => getComputedStyle(e).color"
    assert contrast(button.evaluate(colour), bar) >= 4.5
    button.hover()
    assert contrast(button.evaluate(colour), bar) >= 4.5

    button.click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash-info")).to_have_text("You have signed out.")
    page.goto("/quotations")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_sales_user_fills_the_form_and_gets_the_pdf(open_page, stack, make_user, settings,
                                                     screenshot):
    stack.start_web()
    stack.start_worker()
    sales = make_user("sales")
    page = open_page()
    sign_in(page, "/quotations/new", sales.email)

    fill_customer(page, CUSTOMER)
    page.get_by_label("Notes").fill("Delivery and installation within two weeks of the order.")
    fill_line(page, 0, LINES[0])
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="+ Add line").click()
    fill_line(page, 1, LINES[1])
    expect(page.locator("[data-line]")).to_have_count(2)
    assert page.evaluate("window.notReloaded === true")  # app.js added the row in the page
    screenshot(page, "form")

    page.get_by_role("button", name="Create and send").click()
    expect(page).to_have_url(re.compile(r"/quotations/\d+$"))
    quotation_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".flash-success")).to_contain_text("created")
    wait_until_sent(page, stack)

    rows = card(page, "Lines").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(LINES[0]["description"])
    expect(rows.nth(1)).to_contain_text(LINES[1]["description"])
    expect(page.locator(".grand-total")).to_contain_text(TOTAL)
    expect(page.locator(".customer-name")).to_have_text(CUSTOMER["name"])
    expect(page.locator(".step-done")).to_have_count(4)
    expect(card(page, "Deliveries").locator("tbody")).to_contain_text("accepted")
    screenshot(page, "detail")

    pdf_link = page.get_by_role("link", name="Open PDF")
    href = pdf_link.get_attribute("href")
    assert href == f"/quotations/{quotation_id}/pdf"
    response = page.request.get(href)  # the context's session cookie comes along
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF")
    stored = stack.get(f"/api/quotations/{quotation_id}")[1]["pdf"]["key"]
    assert body == (settings.storage_dir / stored).read_bytes()


def test_the_form_works_without_javascript(open_page, make_user):
    sales = make_user("sales")
    page = open_page(javascript=False)
    sign_in(page, "/quotations/new", sales.email)

    fill_customer(page, CUSTOMER)
    fill_line(page, 0, LINES[0])
    page.get_by_role("button", name="+ Add line").click()  # a round trip: the server adds it
    expect(page.locator("[data-line]")).to_have_count(2)
    expect(page.locator("#customer_name")).to_have_value(CUSTOMER["name"])
    expect(page.locator("#lines-0-description")).to_have_value(LINES[0]["description"])
    fill_line(page, 1, LINES[1])
    page.get_by_role("button", name="Create and send").click()

    expect(page).to_have_url(re.compile(r"/quotations/\d+$"))
    expect(status_badge(page)).to_have_text("queued")  # no worker runs in this test
    expect(page.locator(".grand-total")).to_contain_text(TOTAL)
    expect(card(page, "Lines").locator("tbody tr")).to_have_count(2)


def test_admin_sees_a_failed_job_on_the_dashboard_and_retries_it(open_page, stack, make_user,
                                                                  tmp_path, screenshot):
    stack.start_web()
    # The PDF cannot be stored: the storage folder is a file. One attempt, then failed.
    not_a_folder = tmp_path / "not-a-folder"
    not_a_folder.write_text("")
    broken = stack.start_worker(name="broken-worker", STORAGE_DIR=str(not_a_folder),
                                JOB_MAX_ATTEMPTS="1")
    status, created = stack.post("/api/quotations", sample_payload())
    assert status == 202, created
    number = created["number"]

    admin = make_user("admin")
    page = open_page()
    sign_in(page, "/dashboard", admin.email)
    failed_row = card(page, "Latest failed jobs").locator("tbody tr", has_text=number)
    reload_until(page, failed_row, stack)
    expect(failed_row).to_contain_text("generate_pdf")
    expect(failed_row.locator(".badge")).to_have_text("failed")
    expect(failed_row.locator(".dash-error")).to_contain_text(
        f"StorageError: could not store quotations/{number[2:6]}/{number}-v1.pdf")
    expect(page.locator("[data-queue='documents'][data-status='failed']")).to_have_text("1")

    stop(broken)
    stack.processes.remove(broken)
    stack.start_worker(name="fixed-worker")
    failed_row.get_by_role("button", name="Retry").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator(".flash-success")).to_contain_text(f"Quotation {number} resumed")
    expect(failed_row).to_contain_text("followed by #")

    failed_row.get_by_role("link", name=number).click()
    expect(page).to_have_url(re.compile(rf"/quotations/{created['id']}$"))
    wait_until_sent(page, stack)

    page.get_by_role("link", name="Queue").click()
    expect(page.locator("[data-queue='delivery'][data-status='succeeded']")).to_have_text("1")
    expect(page.locator("[data-queue='documents'][data-status='succeeded']")).to_have_text("1")
    expect(failed_row.locator(".dash-error")).to_contain_text("StorageError")
    screenshot(page, "dashboard")


def test_the_csp_stops_injected_scripts_and_framing(browser, stack, make_user):
    """What the policy is for, in the browser itself: a script injected into a page does not
    run (a violation is reported instead), and another site cannot frame the pages."""
    stack.start_web()
    context = browser.new_context(base_url=stack.base_url, viewport=VIEWPORT)
    try:
        page = context.new_page()
        blocked: list[str] = []
        page.on("console", lambda msg: "Content Security Policy" in msg.text
                and blocked.append(msg.text))
        sign_in(page, "/quotations", make_user("viewer").email)
        ran = page.evaluate("""() => new Promise(resolve => {
            document.addEventListener("securitypolicyviolation",
                event => resolve(["blocked", event.violatedDirective]));
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            const button = document.createElement("button");
            button.setAttribute("onclick", "window.injected = true");
            document.body.append(button);
            button.click();
            setTimeout(() => resolve(["ran", String(window.injected)]), 2000);
        })""")
        assert ran[0] == "blocked" and ran[1].startswith("script-src"), ran
        assert page.evaluate("window.injected") is None
        assert any("inline" in text and "has been blocked" in text for text in blocked), blocked

        framing = context.new_page()
        framing.set_content(f'<iframe src="{stack.base_url}/login"></iframe>')
        framing.wait_for_timeout(1000)
        frame = framing.frames[-1]
        assert frame.url.startswith("chrome-error://"), frame.url  # refused, not rendered
        assert "Sign in" not in frame.content()
    finally:
        context.close()
