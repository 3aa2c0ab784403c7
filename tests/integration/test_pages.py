"""The server-rendered pages against a real PostgreSQL database, driven like a browser without
JavaScript: every form is read from the page and posted back with its hidden fields."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from quote_service import db, pipeline
from quote_service.domain.validation import parse_submission
from quote_service.generate.document import available_templates
from quote_service.submit.service import submit
from tests.samples import submitter_id
from tests.support.unknown_outcome import LOST, parked_delivering, parked_failed

pytestmark = pytest.mark.integration

TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


class Page(HTMLParser):
    """What a browser would submit from a page, and where each error message sits."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self.attrs_by_id: dict[str, dict[str, str]] = {}
        self.errors: dict[str, list[str]] = {}  # `<ul class="field-error" id=X-error>` items
        self.buttons: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._error_list: str | None = None
        self._in_template = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "template":
            self._in_template += 1
        if self._in_template:
            return
        if "id" in attrs:
            self.attrs_by_id[attrs["id"]] = {"tag": tag, **attrs}
        name = attrs.get("name")
        if tag == "input" and name:
            self.fields[name] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value", "")
        elif tag == "button" and name:
            self.buttons.append((name, attrs.get("value", "")))
        elif tag == "ul" and "field-error" in attrs.get("class", ""):
            self._error_list = attrs["id"].removesuffix("-error")
            self.errors[self._error_list] = []
        elif tag == "li" and self._error_list:
            self.errors[self._error_list].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self._in_template -= 1
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "ul" and self._error_list:
            self.errors[self._error_list] = [m.strip() for m in self.errors[self._error_list]]
            self._error_list = None

    def handle_data(self, data: str) -> None:
        if self._in_template:
            return
        if self._textarea:
            self.fields[self._textarea] += data
        elif self._error_list and self.errors[self._error_list]:
            self.errors[self._error_list][-1] += data

    def rows(self) -> list[dict[str, str]]:
        indexes = sorted({int(m.group(1)) for name in self.fields
                          if (m := re.match(r"lines-(\d+)-", name))})
        return [{key.split("-", 2)[2]: value for key, value in self.fields.items()
                 if key.startswith(f"lines-{i}-")} for i in indexes]


def open_form(client) -> Page:
    response = client.get("/quotations/new")
    assert response.status_code == 200
    return Page(response.get_data(as_text=True))


def filled(page: Page, **overrides: str) -> dict[str, str]:
    data = dict(page.fields)
    data.update({
        "customer_name": "Smith & Sons <Ltd>", "customer_email": "buyer@example.com",
        "customer_company": "Acme", "customer_address": "1 Main St\nSpringfield",
        "currency": "EUR", "notes": "Thanks",
        "lines-0-description": "Widget", "lines-0-quantity": "2",
        "lines-0-unit_price": "99.50", "lines-0-tax_rate": "20",
    })
    data.update(overrides)
    return data


def count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def create(app, **overrides: Any):
    """A quotation submitted the way the API does, for pages that only read."""
    payload = {
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "currency": "EUR",
        "lines": [{"description": "Consulting", "quantity": "3", "unit_price": "120",
                   "tax_rate": "20"}],
        **overrides,
    }
    submission = parse_submission(payload, templates=available_templates())
    with app.app_context():
        pool = app.extensions["quote_service"].pool
        return submit(pool, submission, user_id=submitter_id(pool)).quotation


def store_pdf(app, conn, quotation_id: int) -> str:
    """Put a PDF in the app's storage and record it, as the generate step would."""
    storage = app.extensions["quote_service"].storage
    key = f"quotations/test/{quotation_id}.pdf"
    stored = storage.put(key, TINY_PDF, content_type="application/pdf", filename="q.pdf")
    conn.execute("UPDATE quotations SET pdf_key = %s, pdf_sha256 = %s, pdf_size = %s, "
                 "pdf_generated_at = now(), status = 'sent', sent_at = now() WHERE id = %s",
                 (stored.key, stored.sha256, stored.size, quotation_id))
    return key


def fail(conn, quotation_id: int, step: str = "generate", error: str = "boom") -> None:
    """Mark the quotation failed and its job finished, as the last failed attempt would."""
    conn.execute("UPDATE quotations SET status = 'failed', failed_step = %s, last_error = %s "
                 "WHERE id = %s", (step, f"{step}: {error}", quotation_id))
    conn.execute("UPDATE procrastinate_jobs SET status = 'failed' WHERE lock = %s",
                 (f"quotation-{quotation_id}",))


# --- the form ---------------------------------------------------------------------------------

def test_root_redirects_to_the_list(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/quotations")


def test_form_renders_with_hidden_fields_and_defaults(client):
    page = open_form(client)
    assert page.fields["csrf_token"]
    assert len(page.fields["submission_id"]) >= 16
    assert page.fields["currency"] == "EUR"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", page.fields["valid_until"])
    assert page.rows() == [dict.fromkeys(
        ["description", "quantity", "unit_price", "tax_rate", "discount_pct"], "")]
    assert ("action", "add_line") in page.buttons
    assert ("action", "remove_line:0") in page.buttons
    # Enter in a text field must create, not remove a line: "create" comes first.
    assert page.buttons[0] == ("action", "submit")


def test_add_line_keeps_the_data_and_creates_nothing(client, conn):
    page = open_form(client)
    data = filled(page, customer_name="Ωμέγα 株式会社", action="add_line")
    response = client.post("/quotations/new", data=data)
    assert response.status_code == 200
    after = Page(response.get_data(as_text=True))
    assert after.fields["customer_name"] == "Ωμέγα 株式会社"
    assert after.fields["customer_address"] == "1 Main St\nSpringfield"
    assert after.fields["submission_id"] == page.fields["submission_id"]
    rows = after.rows()
    assert len(rows) == 2
    assert rows[0]["description"] == "Widget" and rows[0]["unit_price"] == "99.50"
    assert rows[1]["description"] == ""
    assert "autofocus" in after.attrs_by_id["lines-1-description"]
    assert count(conn, "quotations") == 0


def test_remove_line_keeps_the_other_rows(client, conn):
    page = open_form(client)
    data = filled(page, **{
        "lines-1-description": "Second", "lines-1-quantity": "1",
        "lines-2-description": "Third", "lines-2-quantity": "5",
        "action": "remove_line:1",
    })
    response = client.post("/quotations/new", data=data)
    assert response.status_code == 200
    rows = Page(response.get_data(as_text=True)).rows()
    assert [r["description"] for r in rows] == ["Widget", "Third"]
    assert rows[1]["quantity"] == "5"
    assert count(conn, "quotations") == 0


def test_removing_the_last_row_leaves_an_empty_one(client):
    page = open_form(client)
    response = client.post("/quotations/new", data=filled(page, action="remove_line:0"))
    rows = Page(response.get_data(as_text=True)).rows()
    assert len(rows) == 1 and rows[0]["description"] == ""


def test_bad_submission_shows_each_error_next_to_its_field(client, conn):
    page = open_form(client)
    data = filled(page, customer_email="not-an-email", **{
        # Row 1 is empty and ignored, so the API's lines[1] is the form's row 2.
        **{f"lines-1-{name}": "" for name in ("description", "quantity", "unit_price")},
        "lines-2-description": "Gadget", "lines-2-quantity": "-1", "lines-2-unit_price": "x",
    })
    response = client.post("/quotations/new", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    after = Page(html)
    assert after.errors["customer_email"] == ["must be an email address such as buyer@example.com"]
    assert after.errors["lines-2-quantity"] == ["must be greater than 0"]
    assert after.errors["lines-2-unit_price"] == ['must be a decimal number such as "12.50"']
    assert "lines-0-quantity" not in after.errors
    assert after.attrs_by_id["lines-2-quantity"]["aria-invalid"] == "true"
    assert after.attrs_by_id["lines-2-quantity"]["aria-describedby"] == "lines-2-quantity-error"
    # The summary at the top links to each field.
    assert 'id="error-summary"' in html
    assert '<a href="#lines-2-quantity">Line 3 quantity</a>' in html
    # Everything typed is still there, escaped.
    assert after.fields["customer_name"] == "Smith & Sons <Ltd>"
    assert "Smith &amp; Sons &lt;Ltd&gt;" in html
    assert after.fields["lines-2-unit_price"] == "x"
    assert after.fields["submission_id"] == page.fields["submission_id"]
    assert count(conn, "quotations") == 0
    assert count(conn, "procrastinate_jobs") == 0


def test_a_form_without_lines_says_so_above_the_table(client, conn):
    page = open_form(client)
    data = filled(page, **{"lines-0-description": "", "lines-0-quantity": "",
                           "lines-0-unit_price": "", "lines-0-tax_rate": ""})
    response = client.post("/quotations/new", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert Page(html).errors["lines"] == ["must be a list with at least one line"]
    assert html.index('id="lines-error"') < html.index('class="lines-table"')
    assert count(conn, "quotations") == 0


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_csrf_missing_or_wrong_is_refused_and_nothing_is_written(client, conn, token):
    data = filled(open_form(client))
    if token is None:
        del data["csrf_token"]
    else:
        data["csrf_token"] = token
    response = client.post("/quotations/new", data=data)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert count(conn, "quotations") == 0
    assert count(conn, "procrastinate_jobs") == 0


def test_csrf_from_another_session_is_refused(client_as, client, conn):
    data = filled(open_form(client))
    other = client_as("sales")
    assert other.post("/quotations/new", data=data).status_code == 400
    assert count(conn, "quotations") == 0


def test_good_submission_redirects_to_its_page(client, conn):
    response = client.post("/quotations/new", data=filled(open_form(client)))
    assert response.status_code == 303
    quotation_id, number, total = conn.execute(
        "SELECT id, number, total FROM quotations").fetchone()
    assert response.headers["Location"].endswith(f"/quotations/{quotation_id}")
    assert count(conn, "quotations") == 1
    assert conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE lock = %s",
                        (f"quotation-{quotation_id}",)).fetchone()[0] == 1
    assert str(total) == "238.8000"

    detail = client.get(response.headers["Location"])
    html = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert f"Quotation {number} created" in html
    assert "Smith &amp; Sons &lt;Ltd&gt;" in html
    assert "238.80" in html


def test_resubmitting_the_same_form_creates_no_second_quotation(client, conn):
    data = filled(open_form(client))
    first = client.post("/quotations/new", data=data)
    second = client.post("/quotations/new", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(conn, "quotations") == 1
    assert count(conn, "procrastinate_jobs") == 1
    assert "already submitted" in client.get(second.headers["Location"]).get_data(as_text=True)


def test_the_same_form_with_other_data_points_to_the_first_quotation(client, conn):
    data = filled(open_form(client))
    client.post("/quotations/new", data=data)
    changed = {**data, "lines-0-quantity": "3"}
    response = client.post("/quotations/new", data=changed)
    assert response.status_code == 409
    page = Page(response.get_data(as_text=True))
    assert page.fields["lines-0-quantity"] == "3"
    assert page.fields["submission_id"] != data["submission_id"]
    assert count(conn, "quotations") == 1
    # Submitting that page again is a new, deliberate quotation.
    again = client.post("/quotations/new", data=page.fields | {"action": "submit"})
    assert again.status_code == 303
    assert count(conn, "quotations") == 2


def test_an_api_key_never_answers_a_form_submission(client, conn):
    data = filled(open_form(client))
    client.post("/quotations/new", data=data)
    # The same user, with a key shaped like the form's own: a new quotation, not a 409.
    for key in (f"form-{data['submission_id']}", f"form:{data['submission_id']}"):
        response = client.post("/api/quotations", json={"customer": {
            "name": "Smith & Sons <Ltd>", "email": "buyer@example.com"}, "currency": "EUR",
            "lines": [{"description": "Widget", "quantity": "2", "unit_price": "99.50"}]},
            headers={"Idempotency-Key": key})
        assert response.status_code == 202, response.get_json()
    assert count(conn, "quotations") == 3


# --- list and detail ----------------------------------------------------------------------------

def test_list_filters_by_status_and_pages_with_older_links(app, client, conn):
    ids = [create(app).id for _ in range(27)]
    failed = ids[3:5]
    for quotation_id in failed:
        fail(conn, quotation_id)

    first = client.get("/quotations")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    shown = [int(i) for i in re.findall(r'data-quotation="(\d+)"', html)]
    assert shown == sorted(ids, reverse=True)[:25]
    older = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert f"before={shown[-1]}" in older

    second = client.get(older).get_data(as_text=True)
    assert [int(i) for i in re.findall(r'data-quotation="(\d+)"', second)] == ids[1::-1]
    assert 'rel="next"' not in second
    assert "Newest" in second

    filtered = client.get("/quotations?status=failed").get_data(as_text=True)
    assert [int(i) for i in re.findall(r'data-quotation="(\d+)"', filtered)] == failed[::-1]
    assert filtered.count('class="badge badge-failed"') == 2
    assert client.get("/quotations?status=lost").status_code == 400
    assert client.get("/quotations?before=abc").status_code == 400


def test_list_shows_number_customer_total_and_status(app, client):
    q = create(app, customer={"name": "<b>Ünïcode</b> Ελλάδα", "email": "x@example.com"},
               currency="JPY",
               lines=[{"description": "Item", "quantity": "1", "unit_price": "1234567"}])
    html = client.get("/quotations").get_data(as_text=True)
    assert q.number in html
    assert "&lt;b&gt;Ünïcode&lt;/b&gt; Ελλάδα" in html
    assert "1,234,567" in html and "JPY" in html
    assert 'class="badge badge-queued"' in html


def test_empty_list(client):
    assert "No quotations yet" in client.get("/quotations").get_data(as_text=True)


def test_detail_shows_lines_status_and_progress(app, client):
    q = create(app, lines=[
        {"description": "Consulting <day>", "quantity": "3", "unit_price": "120", "tax_rate": "20"},
        {"description": "Travel", "quantity": "1", "unit_price": "80.5", "discount_pct": "10"},
    ])
    response = client.get(f"/quotations/{q.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert q.number in html
    assert "Consulting &lt;day&gt;" in html and "Travel" in html
    assert re.search(r"<dt>Submitted by</dt><dd>[^<]+@example\.com</dd>", html)
    assert "360.00" in html and "72.45" in html  # line nets
    assert ">80.50<" in html  # unit prices have at least the currency's minor units
    assert q.total is not None and f"{q.total:,.2f}" in html
    assert 'class="badge badge-queued"' in html
    assert 'class="step step-current" aria-current="step"' in html
    # Still moving: the page follows it, with or without JavaScript.
    assert '<meta http-equiv="refresh" content="3">' in html
    assert f'data-poll="/api/quotations/{q.id}"' in html
    # Submitted events are listed; no retry for a queued quotation.
    assert "submitted" in html
    assert f"/quotations/{q.id}/retry" not in html


def test_each_reached_step_shows_when_it_was_reached(app, client, conn):
    q = create(app)
    pipeline.begin_generation(conn, q.id, job_id=None)
    store_pdf(app, conn, q.id)  # PDF stored and sent
    html = client.get(f"/quotations/{q.id}").get_data(as_text=True)
    steps = re.findall(r'<li class="step step-done".*?<span class="step-time">(.*?)</span>', html,
                       re.S)
    assert len(steps) == 4
    assert all(re.fullmatch(r"<time datetime=.*UTC</time>", at) for at in steps), steps


def test_detail_of_a_missing_quotation_is_404(client):
    response = client.get("/quotations/999999")
    assert response.status_code == 404
    assert "does not exist" in response.get_data(as_text=True)


def test_failed_quotation_shows_its_error_and_a_retry_button(app, client, conn):
    q = create(app)
    fail(conn, q.id, error="LibreOffice <timeout> after 60 s")
    html = client.get(f"/quotations/{q.id}").get_data(as_text=True)
    assert "generate: LibreOffice &lt;timeout&gt; after 60 s" in html
    assert 'class="step step-failed"' in html
    assert f'action="/quotations/{q.id}/retry"' in html
    assert "http-equiv" not in html


def reconcile_notice(html: str) -> str:
    found = re.search(r'<div class="notice notice-warning reconcile".*?</div>', html, re.S)
    return found.group(0) if found else ""


def test_an_email_whose_outcome_is_unknown_is_shown_for_reconciliation(services, client, conn):
    q, delivery_id = parked_delivering(services, conn)
    html = client.get(f"/quotations/{q.id}").get_data(as_text=True)

    notice = reconcile_notice(html)
    assert "Email outcome unknown" in notice
    assert "<strong>buyer@example.com</strong>" in notice
    assert LOST in notice
    assert f"<code>delivery_id={delivery_id}</code>" in notice
    assert f"<code>quotation_number={q.number}</code>" in notice
    assert "use <strong>Resend email</strong>" in notice
    assert "SendGrid's webhook settles this by itself" in notice
    assert html.index("reconcile") < html.index('class="steps"')
    # The Delivering step needs attention; it is not "in progress".
    assert 'class="step step-attention" aria-current="step"' in html
    assert "in progress…" not in html and "step-current" not in html
    # Nothing will change by itself but through the webhook: no meta refresh, no polling.
    assert "http-equiv" not in html
    assert "data-poll" not in html
    assert 'class="badge badge-delivering"' in html
    assert f'action="/quotations/{q.id}/resend"' in html
    assert f'action="/quotations/{q.id}/retry"' not in html


def test_a_viewer_is_told_about_the_unknown_email_but_gets_no_resend(services, client_as,
                                                                      conn):
    q, _ = parked_delivering(services, conn)
    html = client_as("viewer").get(f"/quotations/{q.id}").get_data(as_text=True)
    assert "ask someone allowed to resend it to do so" in reconcile_notice(html)
    assert f'action="/quotations/{q.id}/resend"' not in html


def test_a_failed_quotation_whose_email_may_have_gone_out_offers_resend_not_retry(
        services, client, conn):
    q, delivery_id = parked_failed(services, conn, error="WorkerLost: <worker 3> is gone")
    html = client.get(f"/quotations/{q.id}").get_data(as_text=True)
    assert f"<code>delivery_id={delivery_id}</code>" in reconcile_notice(html)
    assert "send: WorkerLost: &lt;worker 3&gt; is gone" in html
    assert "No retry: the last email may have gone out" in html
    assert "Retry resumes" not in html
    assert f'action="/quotations/{q.id}/retry"' not in html
    assert f'action="/quotations/{q.id}/resend"' in html
    assert 'class="step step-attention" aria-current="step"' in html


def test_an_unknown_email_of_another_provider_names_its_reference(services, client, conn):
    q, delivery_id = parked_failed(services, conn, provider="outbox")
    notice = reconcile_notice(client.get(f"/quotations/{q.id}").get_data(as_text=True))
    assert "was handed to outbox but no answer came back" in notice
    assert (f"Check whether message <code>delivery-{delivery_id}</code> reached "
            "buyer@example.com") in notice
    assert "SendGrid" not in notice


def test_the_webhook_or_a_resend_ends_the_reconciliation(services, client, conn):
    settled, settled_delivery = parked_delivering(services, conn)
    pipeline.apply_provider_event(conn, settled_delivery, "delivered", "msg-1", None)
    html = client.get(f"/quotations/{settled.id}").get_data(as_text=True)
    assert reconcile_notice(html) == "" and "step-attention" not in html
    assert 'class="badge badge-sent"' in html

    resent, _ = parked_delivering(services, conn)
    token = _action_token(client, resent.id)
    client.post(f"/quotations/{resent.id}/resend", data={"csrf_token": token})
    html = client.get(f"/quotations/{resent.id}").get_data(as_text=True)
    assert reconcile_notice(html) == ""
    # The new email is on its way: the page follows it again.
    assert 'class="step step-current" aria-current="step"' in html
    assert f'data-poll="/api/quotations/{resent.id}"' in html


# --- operator actions ---------------------------------------------------------------------------

def _action_token(client, quotation_id: int) -> str:
    """The session's token, read from the detail page when it has a button, else the form."""
    page = Page(client.get(f"/quotations/{quotation_id}").get_data(as_text=True))
    return page.fields.get("csrf_token") or open_form(client).fields["csrf_token"]


def test_retry_requeues_a_failed_quotation(app, client, conn):
    q = create(app)
    fail(conn, q.id)
    token = _action_token(client, q.id)
    response = client.post(f"/quotations/{q.id}/retry", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/quotations/{q.id}")
    assert conn.execute("SELECT status FROM quotations WHERE id = %s",
                        (q.id,)).fetchone()[0] == "queued"
    jobs = conn.execute("SELECT task_name, status FROM procrastinate_jobs WHERE lock = %s "
                        "ORDER BY id", (f"quotation-{q.id}",)).fetchall()
    assert jobs == [("generate_pdf", "failed"), ("generate_pdf", "todo")]
    assert "Retry queued" in client.get(f"/quotations/{q.id}").get_data(as_text=True)


def test_retry_that_does_not_apply_flashes_the_reason(app, client, conn):
    q = create(app)
    token = _action_token(client, q.id)
    response = client.post(f"/quotations/{q.id}/retry", data={"csrf_token": token},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Retry is not possible: only failed quotations can be retried" in response.get_data(
        as_text=True)
    assert count(conn, "procrastinate_jobs") == 1


def test_retry_without_csrf_is_refused(app, client, conn):
    q = create(app)
    fail(conn, q.id)
    assert client.post(f"/quotations/{q.id}/retry", data={}).status_code == 400
    assert conn.execute("SELECT status FROM quotations WHERE id = %s",
                        (q.id,)).fetchone()[0] == "failed"


def test_retry_of_a_missing_quotation_is_404(client):
    token = open_form(client).fields["csrf_token"]
    assert client.post("/quotations/999999/retry", data={"csrf_token": token}).status_code == 404


def test_resend_queues_a_new_delivery(app, client, conn):
    q = create(app)
    conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE lock = %s",
                 (f"quotation-{q.id}",))
    store_pdf(app, conn, q.id)
    token = _action_token(client, q.id)
    response = client.post(f"/quotations/{q.id}/resend", data={"csrf_token": token})
    assert response.status_code == 303
    assert conn.execute("SELECT kind, state FROM deliveries WHERE quotation_id = %s",
                        (q.id,)).fetchall() == [("resend", "pending")]
    assert conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE lock = %s AND "
                        "task_name = 'send_quotation' AND status = 'todo'",
                        (f"quotation-{q.id}",)).fetchone()[0] == 1


# --- the PDF ------------------------------------------------------------------------------------

def test_pdf_is_404_before_it_exists(app, client):
    q = create(app)
    response = client.get(f"/quotations/{q.id}/pdf")
    assert response.status_code == 404
    assert "not ready yet" in response.get_data(as_text=True)
    assert client.get("/quotations/999999/pdf").status_code == 404


def test_pdf_is_streamed_from_local_storage(app, client, conn):
    q = create(app)
    store_pdf(app, conn, q.id)
    response = client.get(f"/quotations/{q.id}/pdf")
    assert response.status_code == 200
    assert response.data == TINY_PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == f'inline; filename="{q.number}-v1.pdf"'
    html = client.get(f"/quotations/{q.id}").get_data(as_text=True)
    assert f'href="/quotations/{q.id}/pdf"' in html
    assert f'action="/quotations/{q.id}/resend"' in html


def _with_pdf_record(app, conn):
    q = create(app)
    store_pdf(app, conn, q.id)
    with db.transaction(app.extensions["quote_service"].pool) as c:
        from quote_service import quotations

        return quotations.get(c, q.id)


def test_pdf_redirects_to_a_signed_url_when_storage_has_one(app, client, conn):
    q = _with_pdf_record(app, conn)
    services = app.extensions["quote_service"]
    local = services.storage

    class Signed:
        name = "signed"

        def signed_url(self, key: str, *, filename: str) -> str:
            return f"https://storage.example/{key}?name={filename}&sig=abc"

        def get(self, key: str) -> bytes:
            raise AssertionError("a signed URL must be used instead")

    services.storage = Signed()
    try:
        response = client.get(f"/quotations/{q.id}/pdf")
    finally:
        services.storage = local
    assert response.status_code == 302
    assert response.headers["Location"] == (
        f"https://storage.example/{q.pdf_key}?name={q.number}-v1.pdf&sig=abc")
    assert response.headers["Cache-Control"] == "no-store"


def test_a_recorded_pdf_missing_from_storage_is_404(app, client, conn):
    q = create(app)
    conn.execute("UPDATE quotations SET pdf_key = 'quotations/none.pdf', pdf_sha256 = 'x' "
                 "WHERE id = %s", (q.id,))
    assert client.get(f"/quotations/{q.id}/pdf").status_code == 404


@pytest.mark.parametrize("name", ["app.css", "app.js", "favicon.svg"])
def test_static_assets_are_served(client, name):
    with client.get(f"/assets/{name}") as response:
        assert response.status_code == 200


@pytest.mark.parametrize(("role", "shown"), [("viewer", False), ("sales", True), ("admin", True)])
def test_retry_and_resend_buttons_only_for_roles_that_may_use_them(app, client_as, conn, role,
                                                                   shown, make_user):
    q = create(app)
    store_pdf(app, conn, q.id)
    fail(conn, q.id, step="send")  # a stored PDF whose email failed: both actions apply
    client = client_as(role)
    if role == "sales":  # a sales user's own quotation (others' are not found)
        conn.execute("UPDATE quotations SET user_id = %s", (make_user("sales").id,))
    html = client.get(f"/quotations/{q.id}").get_data(as_text=True)
    assert (f'action="/quotations/{q.id}/retry"' in html) is shown
    assert (f'action="/quotations/{q.id}/resend"' in html) is shown
    assert f'href="/quotations/{q.id}/pdf"' in html
