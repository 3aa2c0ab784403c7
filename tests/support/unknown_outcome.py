"""Emails whose outcome is unknown, recorded by the real steps: the PDF stored and recorded as
`generate_pdf` does, then `send_quotation` run against a mail backend whose request leaves and
whose answer never comes back (what the SendGrid client reports after a read timeout), or the
send job's last attempt failing mid-request. No test lives here."""

from __future__ import annotations

import psycopg

from quote_service import pipeline
from quote_service.deliver.mail.base import MailOutcomeUnknown, OutgoingEmail, SendResult
from quote_service.deliver.step import fail_delivery, send_quotation
from quote_service.domain.model import Quotation
from quote_service.queue import Attempt
from quote_service.services import Services
from tests.support.queue_states import (
    finish_job,
    latest_job,
    new_quotation,
    start_job,
)

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
LOST = "SendGrid request sent but no answer (TimeoutError: The read operation timed out)"


class AnswerLost:
    """SendGrid as seen from a worker whose request left and whose answer was lost."""

    name = "sendgrid"
    can_tell_unsent = False

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []

    def send(self, email: OutgoingEmail) -> SendResult:
        self.sent.append(email)
        raise MailOutcomeUnknown(LOST)

    def find_sent(self, reference: str) -> SendResult | None:
        return None


def with_stored_pdf(services: Services, conn: psycopg.Connection, **overrides) -> tuple[
        Quotation, int]:
    """A submitted quotation whose PDF is in storage and recorded, and whose send job waits;
    return it and its first delivery's id."""
    quotation = new_quotation(services, **overrides)
    job_id = latest_job(conn, quotation.id)["id"]
    start_job(conn, job_id)
    generating = pipeline.begin_generation(conn, quotation.id, job_id)
    assert generating is not None
    stored = services.storage.put(f"quotations/test/{quotation.number}.pdf", PDF,
                                  content_type="application/pdf",
                                  filename=quotation.pdf_filename)
    delivery = pipeline.record_pdf(conn, generating, stored, job_id)
    finish_job(conn, job_id)
    return quotation, delivery.id


def send_without_answer(services: Services, conn: psycopg.Connection, quotation_id: int,
                        delivery_id: int) -> str:
    """Run the waiting send job: its request leaves and no answer comes back, so the step
    parks the delivery as `unknown` and the job succeeds; the quotation stays `delivering`."""
    job_id = latest_job(conn, quotation_id)["id"]
    start_job(conn, job_id)
    services.mailer = AnswerLost()
    try:
        outcome = send_quotation(services, quotation_id, delivery_id, Attempt(job_id, 0, None))
    finally:
        del services.mailer  # the configured backend again
    finish_job(conn, job_id)
    return outcome


def parked_delivering(services: Services, conn: psycopg.Connection, **overrides) -> tuple[
        Quotation, int]:
    """A quotation `delivering` whose only email is `unknown`; return it and the delivery id."""
    quotation, delivery_id = with_stored_pdf(services, conn, **overrides)
    assert "parked as unknown" in send_without_answer(services, conn, quotation.id, delivery_id)
    return quotation, delivery_id


def parked_failed(services: Services, conn: psycopg.Connection, *,
                  error: str = "WorkerLost: worker 3 stopped sending heartbeats during attempt 3",
                  provider: str = "sendgrid", **overrides) -> tuple[Quotation, int]:
    """A quotation `failed` at the send step whose last attempt died after its request left:
    recorded as jobs.failures records a last failure, so the delivery is `unknown`."""
    quotation, delivery_id = with_stored_pdf(services, conn, **overrides)
    job_id = latest_job(conn, quotation.id)["id"]
    start_job(conn, job_id)
    pipeline.begin_sending(conn, pipeline.lock_delivery(conn, delivery_id), provider, job_id)
    pipeline.mark_failed(conn, quotation.id, pipeline.SEND, error, job_id)
    fail_delivery(conn, delivery_id, error, job_id)
    finish_job(conn, job_id, "failed")
    return quotation, delivery_id
