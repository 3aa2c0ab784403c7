"""A quotation's life beyond `sent` (SPEC 9), through the API and the customer's page, with the
real steps run in this process (tests.support.pipeline_runner: a warm LibreOffice, local
storage, the outbox): drafts and their preview, the customer's answer, expiry, revisions."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import re
import zoneinfo
from pathlib import Path

import pytest

from quote_service import db
from quote_service.domain import locales
from quote_service.generate.converters import UnoserverConverter
from tests.samples import sample_payload
from tests.support.pipeline_runner import run_queue
from tests.support.ports import free_port
from tests.support.queue_states import CSRF, with_csrf

pytestmark = pytest.mark.integration

TOKEN = re.compile(r"/q/([A-Za-z0-9_-]{43})")


@pytest.fixture(scope="module")
def converter():
    pool = UnoserverConverter(slots=1, base_port=free_port(), timeout=60)
    pool.start()
    yield pool
    pool.close()


@pytest.fixture
def life(app, client_as, conn, converter):
    """A sales user's API client, and `run()`: the queue's waiting jobs, done."""
    services = app.extensions["quote_service"]

    class Life:
        sales = client_as("sales")
        outbox: Path = services.settings.outbox_dir
        storage: Path = services.settings.storage_dir

        @staticmethod
        def run() -> list[str]:
            return run_queue(services, converter, conn)

        @classmethod
        def submit(cls, **overrides) -> dict:
            response = cls.sales.post("/api/quotations", json=sample_payload(**overrides))
            assert response.status_code == 202, response.get_json()
            return response.get_json()

        @classmethod
        def get(cls, quotation_id: int) -> dict:
            return cls.sales.get(f"/api/quotations/{quotation_id}").get_json()

        @classmethod
        def emails(cls) -> list[email.message.EmailMessage]:
            return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                    for path in sorted(cls.outbox.glob("*.eml"))]

        @classmethod
        def link_token(cls) -> str:
            """The token of the customer link in the latest quotation email."""
            [*_, last] = [m for m in cls.emails() if m.get_body(("plain",)) and
                          TOKEN.search(m.get_body(("plain",)).get_content())]
            return TOKEN.search(last.get_body(("plain",)).get_content()).group(1)

    return Life


def sent(life) -> dict:
    created = life.submit()
    life.run()
    assert life.get(created["id"])["status"] == "sent"
    return created


def answer(client, token: str, verb: str, **form):
    with_csrf(client)
    return client.post(f"/q/{token}/{verb}", data={"csrf_token": CSRF, **form})


# --- drafts -----------------------------------------------------------------------------------

def test_a_draft_is_made_and_stored_not_sent_until_someone_sends_it(life):
    created = life.submit(draft=True)
    assert created["status"] == "draft"
    life.run()

    ready = life.get(created["id"])
    assert ready["status"] == "ready" and ready["draft"] is True
    assert ready["pdf"]["key"].endswith(f"{ready['number']}-v1.pdf")
    assert ready["deliveries"] == [] and life.emails() == []
    page = life.sales.get(f"/quotations/{created['id']}").get_data(as_text=True)
    assert f'<iframe class="pdf-preview" src="/quotations/{created["id"]}/pdf"' in page
    preview = life.sales.get(f"/quotations/{created['id']}/pdf")
    assert preview.mimetype == "application/pdf" and preview.data.startswith(b"%PDF")
    assert preview.headers["Content-Security-Policy"] == "frame-ancestors 'self'"

    response = life.sales.post(f"/api/quotations/{created['id']}/send")
    assert response.status_code == 202 and response.get_json()["status"] == "delivering"
    life.run()
    done = life.get(created["id"])
    assert done["status"] == "sent"
    assert done["pdf"] == ready["pdf"]  # the stored PDF, not a second conversion
    assert [e["kind"] for e in done["events"]].count("generating") == 1
    [message] = life.emails()
    [attachment] = message.iter_attachments()
    assert attachment.get_filename() == f"{done['number']}-v1.pdf"
    assert attachment.get_content() == (life.storage / done["pdf"]["key"]).read_bytes()


def test_editing_a_draft_renders_it_again_under_a_key_of_its_own(life):
    created = life.submit(draft=True)
    life.run()
    first = life.get(created["id"])

    changed = sample_payload(notes="Edited: delivery next week")
    changed["lines"][0]["quantity"] = "5"
    response = life.sales.put(f"/api/quotations/{created['id']}", json=changed)
    assert response.status_code == 202
    edited = response.get_json()
    assert (edited["status"], edited["number"], edited["total"]) == (
        "draft", first["number"], "597.00")
    life.run()

    again = life.get(created["id"])
    assert again["status"] == "ready" and again["notes"] == "Edited: delivery next week"
    assert again["pdf"]["key"].endswith(f"{first['number']}-v1-r2.pdf")
    assert again["pdf"]["sha256"] != first["pdf"]["sha256"]
    assert (life.storage / first["pdf"]["key"]).exists()  # storage never replaces an object
    assert "edited" in [e["kind"] for e in again["events"]] and life.emails() == []


def test_only_a_ready_quotation_is_sent_and_only_a_draft_is_edited(life):
    created = sent(life)
    assert life.sales.post(f"/api/quotations/{created['id']}/send").status_code == 409
    response = life.sales.put(f"/api/quotations/{created['id']}", json=sample_payload())
    assert response.status_code == 409 and "revise it instead" in response.get_json()["error"]
    draft = life.submit(draft=True)
    assert life.sales.post(f"/api/quotations/{draft['id']}/send").status_code == 409  # no PDF yet
    assert life.sales.put(f"/api/quotations/{draft['id']}",
                          json={"lines": []}).status_code == 422


# --- the customer's answer ----------------------------------------------------------------------

def test_the_customer_accepts_once_and_both_sides_are_told(life, anonymous_client, conn):
    created = sent(life)
    token = life.link_token()

    page = anonymous_client.get(f"/q/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Accept the quotation" in html and "Decline the quotation" in html
    assert "Smith &amp; Sons &lt;Ltd&gt;" in html and "238.80" in html
    pdf = anonymous_client.get(f"/q/{token}/pdf")
    assert pdf.mimetype == "application/pdf"

    assert anonymous_client.post(f"/q/{token}/accept", data={"name": "Ann"}).status_code == 400
    missing = answer(anonymous_client, token, "accept", name=" ", comment="ok")
    assert missing.status_code == 422 and "Please give your name" in missing.get_data(as_text=True)
    given = answer(anonymous_client, token, "accept", name="Ann Buyer",
                   comment="Please deliver\nbefore Friday")
    assert given.status_code == 303 and given.headers["Location"] == f"/q/{token}"

    document = life.get(created["id"])
    response = document["response"]
    assert (response["kind"], response["name"], response["comment"]) == (
        "accepted", "Ann Buyer", "Please deliver\nbefore Friday")
    assert document["status"] == "sent" and "accepted" in [e["kind"] for e in document["events"]]
    shown = anonymous_client.get(f"/q/{token}").get_data(as_text=True)
    assert "You accepted this quotation" in shown and "Ann Buyer" in shown

    second = answer(anonymous_client, token, "decline", name="Someone Else")
    assert second.status_code == 409
    assert "You accepted this quotation" in second.get_data(as_text=True)
    assert life.get(created["id"])["response"]["kind"] == "accepted"

    life.run()
    told = {m["To"]: m for m in life.emails()[1:]}
    assert set(told) == {"buyer@example.com", "sales@example.com"}
    assert told["buyer@example.com"]["Subject"].startswith("You accepted quotation ")
    assert "Ann Buyer (Smith & Sons <Ltd> <buyer@example.com>) accepted" in (
        told["sales@example.com"].get_body(("plain",)).get_content())
    assert not list(told["sales@example.com"].iter_attachments())
    assert conn.execute("SELECT status FROM quotations WHERE id = %s",
                        (created["id"],)).fetchone()[0] == "sent"


def test_the_lists_select_by_answer(life, anonymous_client):
    accepted, declined = sent(life), None
    answer(anonymous_client, life.link_token(), "accept", name="Ann")
    declined = sent(life)
    answer(anonymous_client, life.link_token(), "decline", name="Bob", comment="Too dear")
    life.submit()  # unanswered

    def ids(status: str) -> list[int]:
        items = life.sales.get(f"/api/quotations?status={status}").get_json()["items"]
        return [item["id"] for item in items]

    assert ids("accepted") == [accepted["id"]] and ids("declined") == [declined["id"]]
    page = life.sales.get("/quotations?status=declined").get_data(as_text=True)
    assert f'data-quotation="{declined["id"]}"' in page
    assert f'data-quotation="{accepted["id"]}"' not in page


# --- expiry -------------------------------------------------------------------------------------

def expire(settings) -> int:
    from jobs import maintenance

    with db.connect(settings.database_url) as conn:
        return len(db.fetch_all(conn, "expire_quotations", time_zone=settings.time_zone,
                                limit=maintenance.EXPIRY_BATCH))


def test_past_its_validity_an_unanswered_quotation_expires(life, anonymous_client, conn,
                                                          settings):
    created = sent(life)
    token = life.link_token()
    answered = sent(life)
    answer(anonymous_client, life.link_token(), "accept", name="Ann")
    conn.execute("UPDATE quotations SET valid_until = current_date - 1")

    assert expire(settings) == 1 and expire(settings) == 0
    document = life.get(created["id"])
    assert document["status"] == "expired" and document["expired_at"] is not None
    assert "expired" in [e["kind"] for e in document["events"]]
    assert life.get(answered["id"])["status"] == "sent"  # answered: it stays
    page = anonymous_client.get(f"/q/{token}")
    assert page.status_code == 410 and "This quotation has expired" in page.get_data(as_text=True)
    assert answer(anonymous_client, token, "accept", name="Late").status_code == 410
    ids = [i["id"] for i in life.sales.get("/api/quotations?status=expired").get_json()["items"]]
    assert ids == [created["id"]]


def test_the_customer_page_speaks_the_quotations_language(life, anonymous_client, conn):
    valid_until = dt.date.today() + dt.timedelta(days=30)
    created = life.submit(locale="de-DE", valid_until=valid_until.isoformat(), customer={
        "name": "Jürgen <Weiß> & Söhne", "email": "jw@example.com"})
    life.run()
    assert life.get(created["id"])["status"] == "sent"
    token = life.link_token()

    page = anonymous_client.get(f"/q/{token}")
    html = page.get_data(as_text=True)
    assert '<html lang="de-DE">' in html
    assert "Angebot annehmen" in html and "Accept" not in html
    assert f"gültig bis {locales.long_date(valid_until, 'de-DE')}" in html  # 1. Januar 2027
    assert f"Gesamtbetrag <strong>{created['total'].replace('.', ',')}\xa0€</strong>" in html
    assert "Jürgen &lt;Weiß&gt; &amp; Söhne" in html  # a name is never markup
    missing = answer(anonymous_client, token, "decline", name="")
    assert missing.status_code == 422 and "Bitte geben Sie Ihren Namen an" in missing.text
    assert answer(anonymous_client, token, "decline", name="J. Weiß").status_code == 303
    html = anonymous_client.get(f"/q/{token}").get_data(as_text=True)
    assert "Sie haben dieses Angebot abgelehnt" in html and "<strong>J. Weiß</strong>" in html

    conn.execute("UPDATE delivery_links SET revoked_at = now()")
    gone = anonymous_client.get(f"/q/{token}")
    assert gone.status_code == 410 and "Dieser Link wurde zurückgezogen" in gone.text
    unknown = anonymous_client.get("/q/" + "x" * 43)  # no quotation to go by: LOCALE
    assert unknown.status_code == 404 and "This link is not valid" in unknown.text


def test_a_quotation_expires_at_the_end_of_its_day_in_the_service_time_zone(life, conn,
                                                                          settings):
    created = sent(life)
    ahead, behind = "Pacific/Kiritimati", "Pacific/Pago_Pago"  # UTC+14 and UTC-11
    today_ahead = dt.datetime.now(zoneinfo.ZoneInfo(ahead)).date()
    conn.execute("UPDATE quotations SET valid_until = %s WHERE id = %s",
                 (today_ahead - dt.timedelta(days=1), created["id"]))

    with db.connect(settings.database_url) as tx:  # its last day is still today over there
        assert db.fetch_all(tx, "expire_quotations", time_zone=behind, limit=10) == []
    with db.connect(settings.database_url) as tx:
        assert len(db.fetch_all(tx, "expire_quotations", time_zone=ahead, limit=10)) == 1


def test_the_expiry_runs_as_a_workers_routine_in_batches(life, conn, services, monkeypatch):
    from jobs import maintenance

    for _ in range(3):
        sent(life)
    conn.execute("UPDATE quotations SET valid_until = current_date - 1")
    monkeypatch.setattr(maintenance, "services", lambda: services)
    monkeypatch.setattr(maintenance, "EXPIRY_BATCH", 2)

    assert asyncio.run(maintenance.expire_quotations(None)) == "3 quotation(s) expired"
    [routine] = [r for r in maintenance.app.maintenance if r.name == "expire_quotations"]
    assert routine.every == 60


# --- revisions ----------------------------------------------------------------------------------

def test_a_revision_is_the_next_version_and_supersedes_the_last(life, anonymous_client):
    first = sent(life)
    old_token = life.link_token()
    body = sample_payload(notes="Version 2: better price")
    body["lines"][0]["unit_price"] = "89.50"

    response = life.sales.post(f"/api/quotations/{first['id']}/revise", json=body)
    assert response.status_code == 201
    second = response.get_json()
    assert response.headers["Location"] == f"/api/quotations/{second['id']}"
    assert (second["number"], second["version"], second["status"]) == (
        first["number"], 2, "draft")
    assert life.get(first["id"])["status"] == "superseded"
    assert [v["version"] for v in second["versions"]] == [1, 2]

    old_page = anonymous_client.get(f"/q/{old_token}").get_data(as_text=True)
    assert "A newer version of this quotation exists" in old_page
    assert "version 2 of" in old_page and "Accept the quotation" not in old_page
    assert answer(anonymous_client, old_token, "accept", name="Ann").status_code == 409

    life.run()
    ready = life.get(second["id"])
    assert ready["status"] == "ready" and ready["pdf"]["key"].endswith("-v2.pdf")
    life.sales.post(f"/api/quotations/{second['id']}/send")
    life.run()
    [_, message] = life.emails()
    [attachment] = message.iter_attachments()
    assert attachment.get_filename() == f"{first['number']}-v2.pdf"
    assert message["Subject"].startswith(f"Quotation {first['number']} v2 from ")
    new_token = life.link_token()
    assert new_token != old_token
    assert "Accept the quotation" in anonymous_client.get(f"/q/{new_token}").get_data(
        as_text=True)


def test_what_cannot_be_revised(life, anonymous_client):
    first = sent(life)
    life.sales.post(f"/api/quotations/{first['id']}/revise",
                    json=sample_payload(draft=False))
    again = life.sales.post(f"/api/quotations/{first['id']}/revise", json=sample_payload())
    assert again.status_code == 409 and "superseded" in again.get_json()["error"]
    accepted = sent(life)
    answer(anonymous_client, life.link_token(), "accept", name="Ann")
    refused = life.sales.post(f"/api/quotations/{accepted['id']}/revise", json=sample_payload())
    assert refused.status_code == 409 and "accepted" in refused.get_json()["error"]
    draft = life.submit(draft=True)
    assert life.sales.post(f"/api/quotations/{draft['id']}/revise",
                           json=sample_payload()).status_code == 409


def test_a_revision_sent_at_once_goes_out_as_its_own_version(life):
    first = sent(life)
    response = life.sales.post(f"/api/quotations/{first['id']}/revise",
                               json=sample_payload(draft=False))
    second = response.get_json()
    assert second["status"] == "queued" and second["draft"] is False
    life.run()
    assert life.get(second["id"])["status"] == "sent"
    assert len(life.emails()) == 2


def test_a_draft_is_sent_not_resent(life):
    created = life.submit(draft=True)
    life.run()
    refused = life.sales.post(f"/api/quotations/{created['id']}/resend")
    assert refused.status_code == 409 and "send it instead" in refused.get_json()["error"]
    page = life.sales.get(f"/quotations/{created['id']}").get_data(as_text=True)
    assert "Resend email" not in page and "Send to buyer@example.com" in page


def test_the_dashboard_lists_the_customers_answers(life, anonymous_client, client_as):
    created = sent(life)
    answer(anonymous_client, life.link_token(), "decline", name="Bob", comment="Too dear")

    html = client_as("viewer").get("/dashboard").get_data(as_text=True)
    section = html[html.index('id="answers-title"'):html.index('id="failed-title"')]
    assert f"/quotations/{created['id']}" in section and "declined" in section
    assert "Bob" in section


def test_a_ready_draft_is_sent_from_the_command_line(life, database_url, monkeypatch):
    from click.testing import CliRunner

    from quote_service.cli import main

    created = life.submit(draft=True)
    monkeypatch.setenv("DATABASE_URL", database_url)
    refused = CliRunner().invoke(main, ["send", str(created["id"])])
    assert refused.exit_code == 1 and "only a ready quotation" in refused.output
    life.run()
    result = CliRunner().invoke(main, ["send", str(created["id"])])
    assert result.exit_code == 0 and result.output == f"quotation {created['id']}: queued\n"
    life.run()
    assert life.get(created["id"])["status"] == "sent"
