"""Each email's own customer link, through the real send step (local storage, outbox mail):
it opens the PDF without an account, every resend carries a new one, a link can be withdrawn
(one email's or all of a quotation's, from the API, the page and the CLI) and expires after
PDF_LINK_DAYS, and then says how to get a new one."""

import dataclasses
import email
import email.policy
import hashlib
import re

import pytest
from click.testing import CliRunner

from quote_service import links, pipeline
from quote_service.app import create_app
from quote_service.cli import main as cli
from quote_service.deliver.step import send_quotation
from quote_service.web.auth import start_session
from tests.samples import sample_payload
from tests.support.queue_states import finish_job, latest_job, start_job

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4 the quotation"
TOKEN = re.compile(r"/q/([A-Za-z0-9_-]{43})")


@pytest.fixture
def web(settings):
    app = create_app(dataclasses.replace(settings, pdf_link_days=30), {"TESTING": True})
    yield app
    app.extensions["quote_service"].close()


@pytest.fixture
def as_user(web, conn, make_user, api_token):
    def client(role: str = "sales", email: str | None = None):
        user = make_user(role, email)
        browser = web.test_client()
        with browser.session_transaction() as store:
            start_session(store, conn, user)
        from quote_service.accounts import tokens

        browser.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens.create(conn, user, 't')[0]}"
        return browser

    return client


@pytest.fixture
def mailed(web, conn, as_user):
    """A sales user's quotation whose PDF is stored and whose first email went out through the
    send step; `mailed.send()` runs the send step for its latest delivery and returns the
    token of the link in that email."""
    services = web.extensions["quote_service"]
    sales = as_user("sales")
    quotation_id = sales.post("/api/quotations", json=sample_payload()).get_json()["id"]
    stored = services.storage.put(f"quotations/{quotation_id}.pdf", PDF,
                                  content_type="application/pdf", filename="q.pdf")
    conn.execute("UPDATE quotations SET pdf_key = %s, pdf_sha256 = %s, pdf_size = %s, "
                 "status = 'delivering' WHERE id = %s",
                 (stored.key, stored.sha256, stored.size, quotation_id))
    job = latest_job(conn, quotation_id)
    start_job(conn, job["id"])
    finish_job(conn, job["id"])

    class Mailed:
        id = quotation_id
        client = sales

        @staticmethod
        def send() -> str:
            delivery_id = conn.execute("SELECT max(id) FROM deliveries WHERE quotation_id = %s",
                                       (quotation_id,)).fetchone()[0]
            if delivery_id is None:
                delivery_id = conn.execute(
                    "INSERT INTO deliveries (quotation_id, recipient) VALUES (%s, "
                    "'buyer@example.com') RETURNING id", (quotation_id,)).fetchone()[0]
            send_quotation(services, quotation_id, delivery_id, None)
            for job in conn.execute("SELECT id FROM procrastinate_jobs WHERE status = 'todo'"):
                start_job(conn, job[0])
                finish_job(conn, job[0])
            eml = services.settings.outbox_dir / f"delivery-{delivery_id}.eml"
            message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
            return TOKEN.search(message.get_body(("plain",)).get_content()).group(1)

        @staticmethod
        def resend() -> str:
            assert sales.post(f"/api/quotations/{quotation_id}/resend").status_code == 202
            return Mailed.send()

    return Mailed


def opens(web, token: str):
    """The link's PDF (its page follows the same rules: tests/integration/test_answers.py)."""
    return web.test_client().get(f"/q/{token}/pdf")


def test_the_emailed_link_opens_the_pdf_without_an_account(web, mailed, conn):
    token = mailed.send()
    response = opens(web, token)
    assert response.status_code == 200 and response.data == PDF
    # Stored only as its hash, and never shown by the API.
    stored = conn.execute("SELECT token_hash FROM delivery_links").fetchone()[0]
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    document = mailed.client.get(f"/api/quotations/{mailed.id}")
    assert token not in document.text
    assert document.get_json()["deliveries"][0]["link"]["state"] == "active"


def test_every_resend_carries_its_own_link(web, mailed):
    first, second = mailed.send(), mailed.resend()
    assert first != second
    assert opens(web, first).status_code == 200 and opens(web, second).status_code == 200


def test_a_link_expires_after_pdf_link_days(web, mailed, conn):
    token = mailed.send()
    lifetime = conn.execute("SELECT expires_at - created_at FROM delivery_links").fetchone()[0]
    assert lifetime.days == 30
    conn.execute("UPDATE delivery_links SET expires_at = now() - interval '1 second'")
    response = opens(web, token)
    assert response.status_code == 410
    assert "This link has expired" in response.text and "How to get the quotation" in response.text
    assert "quotes@localhost" in response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_one_emails_link_is_withdrawn_through_the_api(web, mailed, conn):
    first, second = mailed.send(), mailed.resend()
    delivery_id = conn.execute("SELECT min(delivery_id) FROM delivery_links").fetchone()[0]
    response = mailed.client.post(
        f"/api/quotations/{mailed.id}/deliveries/{delivery_id}/revoke-link")
    assert response.status_code == 200
    states = [d["link"]["state"] for d in response.get_json()["deliveries"]]
    assert states == ["revoked", "active"]
    gone = opens(web, first)
    assert gone.status_code == 410 and "This link was withdrawn" in gone.text
    assert opens(web, second).status_code == 200
    event = conn.execute("SELECT detail FROM quotation_events WHERE kind = 'links_revoked'"
                         ).fetchone()[0]
    assert event == {"by": "sales@example.com", "delivery_ids": [delivery_id]}
    missing = mailed.client.post(f"/api/quotations/{mailed.id}/deliveries/999999/revoke-link")
    assert missing.status_code == 404


def test_every_link_of_a_quotation_is_withdrawn_from_its_page(web, mailed):
    tokens = [mailed.send(), mailed.resend()]
    page = mailed.client.get(f"/quotations/{mailed.id}").text
    assert "Withdraw every customer link" in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = mailed.client.post(f"/quotations/{mailed.id}/links/revoke",
                                  data={"csrf_token": csrf}, follow_redirects=True)
    assert "The links of every email were withdrawn" in response.text
    assert [opens(web, t).status_code for t in tokens] == [410, 410]
    assert "Withdraw every customer link" not in response.text


def test_the_cli_withdraws_links(web, mailed, monkeypatch, settings):
    token = mailed.send()
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(cli, ["revoke-links", str(mailed.id)])
    assert result.exit_code == 0 and "1 link revoked" in result.output
    assert opens(web, token).status_code == 410
    again = CliRunner().invoke(cli, ["revoke-links", str(mailed.id)])
    assert "0 links revoked" in again.output


def test_only_who_may_act_on_the_quotation_withdraws_its_links(web, mailed, as_user, conn):
    token = mailed.send()
    path = f"/api/quotations/{mailed.id}/revoke-links"
    assert as_user("sales", "other@example.com").post(path).status_code == 404
    assert as_user("viewer").post(path).status_code == 403
    assert opens(web, token).status_code == 200
    assert as_user("admin").post(path).status_code == 200
    assert opens(web, token).status_code == 410


def test_a_second_attempt_replaces_the_token_of_an_email_that_did_not_leave(web, mailed, conn):
    """When an attempt fails before its email leaves, the next one writes its own token: the
    stored one is always that of the email that went out."""
    delivery_id = conn.execute("INSERT INTO deliveries (quotation_id, recipient) VALUES "
                               "(%s, 'b@x.example') RETURNING id", (mailed.id,)).fetchone()[0]
    delivery = pipeline.lock_delivery(conn, delivery_id)
    unsent, sent = links.issue(conn, delivery, days=30), links.issue(conn, delivery, days=30)
    assert opens(web, unsent).status_code == 404 and opens(web, sent).status_code == 200


@pytest.mark.parametrize("token", ["0" * 43, "x", "a" * 500, "not-a-token!"])
def test_a_link_that_never_existed_is_not_found(web, token):
    response = opens(web, token)
    assert response.status_code == 404 and "This link is not valid" in response.text


def test_links_of_older_emails_say_how_to_get_a_new_one(web, mailed):
    response = web.test_client().get(f"/quotations/{mailed.id}/pdf?token=0123456789abcdef")
    assert response.status_code == 410 and "Links in older emails" in response.text
