"""An operator's retry resumes a failed quotation, except where the last email may have gone
out: that one is reconciled first, and only a deliberate resend emails it again."""

from __future__ import annotations

import pytest

from quote_service import pipeline
from quote_service.deliver.step import fail_delivery
from tests.support.queue_states import (
    finish_job,
    latest_job,
    new_quotation,
    start_job,
    store_pdf,
)

pytestmark = pytest.mark.integration

UNKNOWN = "the last email's outcome is unknown: check the provider, then resend deliberately"


def deliveries(conn, quotation_id: int) -> list[tuple[str, str]]:
    return conn.execute("SELECT kind, state FROM deliveries WHERE quotation_id = %s ORDER BY id",
                        (quotation_id,)).fetchall()


def fail_send(conn, quotation_id: int, *, request_left: bool) -> None:
    """The send job's last attempt fails, after the request left (the delivery was `sending`)
    or before; recorded as jobs.tasks records a last failure, then procrastinate's end."""
    job = latest_job(conn, quotation_id)
    delivery_id = job["args"]["delivery_id"]
    start_job(conn, job["id"])
    if request_left:
        pipeline.begin_sending(conn, pipeline.lock_delivery(conn, delivery_id), "sendgrid",
                               job["id"])
    error = "MailRetryLater: 503 Service Unavailable"
    pipeline.mark_failed(conn, quotation_id, pipeline.SEND, error, job["id"])
    fail_delivery(conn, delivery_id, error, job["id"])
    finish_job(conn, job["id"], "failed")


def test_retry_refuses_a_quotation_whose_last_email_may_have_gone_out(client, services, conn):
    q = new_quotation(services)
    store_pdf(conn, q.id, latest_job(conn, q.id)["id"])
    fail_send(conn, q.id, request_left=True)
    assert deliveries(conn, q.id) == [("initial", "unknown")]

    response = client.post(f"/api/quotations/{q.id}/retry")

    assert response.status_code == 409 and response.get_json()["error"] == UNKNOWN
    assert deliveries(conn, q.id) == [("initial", "unknown")]
    assert latest_job(conn, q.id)["status"] == "failed"
    # Checked with the provider: the operator resends on purpose.
    response = client.post(f"/api/quotations/{q.id}/resend")
    assert response.status_code == 202 and response.get_json()["status"] == "delivering"
    assert deliveries(conn, q.id) == [("initial", "unknown"), ("resend", "pending")]


def test_retry_resumes_a_send_that_never_left(client, services, conn):
    q = new_quotation(services)
    store_pdf(conn, q.id, latest_job(conn, q.id)["id"])
    fail_send(conn, q.id, request_left=False)

    response = client.post(f"/api/quotations/{q.id}/retry")

    assert response.status_code == 202 and response.get_json()["status"] == "delivering"
    assert deliveries(conn, q.id) == [("initial", "failed"), ("retry", "pending")]
    assert latest_job(conn, q.id)["status"] == "todo"
