"""Resend limits, replayed as the attack went (one account resending through the API as fast
as it could), per quotation and per recipient, under concurrency, on the page, in the CLI;
and the dashboard's list of who resent what."""

import dataclasses
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from quote_service.app import create_app
from quote_service.cli import main as cli
from tests.samples import sample_payload
from tests.support.queue_states import finish_job, latest_job, start_job

pytestmark = pytest.mark.integration


@pytest.fixture
def limited(settings):
    """An app with small limits: 2 resends per quotation, 3 per recipient, per hour."""
    app = create_app(dataclasses.replace(settings, resend_limit_per_quotation=2,
                                         resend_limit_per_recipient=3), {"TESTING": True})
    yield app
    app.extensions["quote_service"].close()


@pytest.fixture
def sales(limited, conn, make_user, api_token):
    from quote_service.web.auth import start_session

    client = limited.test_client()
    with client.session_transaction() as store:
        start_session(store, conn, make_user("sales"))
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token('sales')}"
    return client


def sent_quotation(client, conn, email: str = "buyer@example.com") -> int:
    """A quotation of the client's user whose PDF is stored and first email went out."""
    customer = {**sample_payload()["customer"], "email": email}
    quotation_id = client.post("/api/quotations", json=sample_payload(customer=customer)
                               ).get_json()["id"]
    conn.execute("UPDATE quotations SET pdf_key = 'k', pdf_sha256 = 's', pdf_size = 1, "
                 "status = 'sent' WHERE id = %s", (quotation_id,))
    settle(conn, quotation_id)
    return quotation_id


def settle(conn, quotation_id: int) -> None:
    """The quotation's last job ran: a new resend is not refused as 'already queued'."""
    job_id = latest_job(conn, quotation_id)["id"]
    start_job(conn, job_id)
    finish_job(conn, job_id)


def resend(client, conn, quotation_id: int):
    response = client.post(f"/api/quotations/{quotation_id}/resend")
    if response.status_code == 202:
        settle(conn, quotation_id)
    return response


def resends(conn) -> int:
    return conn.execute("SELECT count(*) FROM deliveries WHERE kind = 'resend'").fetchone()[0]


def test_resends_of_one_quotation_stop_at_the_limit_with_429(sales, conn):
    quotation_id = sent_quotation(sales, conn)
    assert [resend(sales, conn, quotation_id).status_code for _ in range(2)] == [202, 202]
    refused = resend(sales, conn, quotation_id)
    assert refused.status_code == 429
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600
    body = refused.get_json()
    assert body["error"].startswith("resend limit reached: Q-")
    assert "the limit is 2 per hour" in body["error"]
    assert body["retry_after"] == int(refused.headers["Retry-After"])
    assert resends(conn) == 2  # nothing written
    # The window slides: an hour later it is allowed again.
    conn.execute("UPDATE deliveries SET created_at = created_at - interval '61 minutes'")
    assert resend(sales, conn, quotation_id).status_code == 202


def test_resends_to_one_recipient_are_limited_across_quotations(sales, conn):
    first, second = sent_quotation(sales, conn), sent_quotation(sales, conn)
    other = sent_quotation(sales, conn, "someone.else@example.com")
    assert [resend(sales, conn, q).status_code for q in (first, first, second)] == [202] * 3
    refused = resend(sales, conn, second)
    assert refused.status_code == 429
    assert "buyer@example.com was sent 3 resends in the last hour" in refused.get_json()["error"]
    assert resend(sales, conn, other).status_code == 202  # another customer is not affected


def test_concurrent_resends_cannot_pass_the_recipient_limit(sales, limited, conn, api_token):
    quotation_ids = [sent_quotation(sales, conn) for _ in range(8)]
    token = sales.environ_base["HTTP_AUTHORIZATION"]

    def fire(quotation_id: int) -> int:
        client = limited.test_client()  # one per thread, each on its own connection
        return client.post(f"/api/quotations/{quotation_id}/resend",
                           headers={"Authorization": token}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(fire, quotation_ids))
    assert codes == [202] * 3 + [429] * 5
    assert resends(conn) == 3


def test_the_page_says_why_and_when(sales, conn):
    quotation_id = sent_quotation(sales, conn)
    for _ in range(2):
        resend(sales, conn, quotation_id)
    page = sales.get(f"/quotations/{quotation_id}").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = sales.post(f"/quotations/{quotation_id}/resend", data={"csrf_token": csrf},
                          follow_redirects=True)
    assert response.status_code == 200
    assert "Resend refused:" in response.text and "Try again in 60 minutes." in response.text
    assert resends(conn) == 2


def test_the_cli_obeys_the_limits(sales, conn, monkeypatch, settings):
    quotation_id = sent_quotation(sales, conn)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RESEND_LIMIT_PER_QUOTATION", "1")
    runner = CliRunner()
    assert runner.invoke(cli, ["resend", str(quotation_id)]).exit_code == 0
    settle(conn, quotation_id)
    refused = runner.invoke(cli, ["resend", str(quotation_id)])
    assert refused.exit_code == 1 and "resend limit reached" in refused.output


def test_the_dashboard_shows_who_resent_what(sales, limited, conn, make_user):
    from quote_service.web.auth import start_session

    quotation_id = sent_quotation(sales, conn, "ana@pereira.example")
    resend(sales, conn, quotation_id)
    number = conn.execute("SELECT number FROM quotations").fetchone()[0]
    event = conn.execute("SELECT detail FROM quotation_events WHERE kind = 'resend_requested'"
                         ).fetchone()[0]
    assert event["by"] == "sales@example.com" and event["recipient"] == "ana@pereira.example"
    viewer = limited.test_client()
    with viewer.session_transaction() as store:
        start_session(store, conn, make_user("viewer"))
    page = viewer.get("/dashboard/resends")
    assert page.status_code == 200
    row = re.search(r'<table class="table" id="resends">.*?</table>', page.text, re.S).group(0)
    assert number in row and "ana@pereira.example" in row and "sales@example.com" in row
    assert "Resends" in viewer.get("/dashboard").text
    assert sales.get("/dashboard/resends").status_code == 403  # sales have no dashboard
