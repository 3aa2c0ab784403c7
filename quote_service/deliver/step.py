"""The `send_quotation` step: email the stored PDF once, and record what the provider said;
the same for the emails about a customer's answer (`send_answer_email`), which carry no PDF.

Exactly once: the delivery is marked `sending` (committed) before the request leaves. If an
attempt finds it still `sending`, an earlier attempt died mid-send: a backend that can tell
(the outbox) is asked; one that cannot (SendGrid) parks the delivery as `unknown` for an
operator or the provider's webhook to resolve. It is never blindly sent again. An attempt
taken for lost (its worker cut off from the database) cannot mark the delivery `sending`, so
it sends nothing.
"""

from __future__ import annotations

from quote_service import db, links, pipeline
from quote_service.deliver.email import compose, compose_answer_email
from quote_service.deliver.mail.base import MailOutcomeUnknown, MailRejected, MailRetryLater
from quote_service.domain.model import Quotation
from quote_service.queue import Attempt, claim, job_id_of
from quote_service.services import Services


def send_quotation(services: Services, quotation_id: int, delivery_id: int,
                   attempt: Attempt | None) -> str:
    """Run the step; return a short outcome for the logs. Raise AttemptSuperseded when the
    attempt is no longer current."""
    job_id = job_id_of(attempt)
    mailer = services.mailer
    with db.transaction(services.pool) as conn:
        delivery = pipeline.lock_delivery(conn, delivery_id)
        if delivery.state in pipeline.DONE_DELIVERY_STATES:
            return f"delivery {delivery_id} already {delivery.state}"
        if delivery.state in ("unknown", "failed"):
            return f"delivery {delivery_id} is {delivery.state}: not sent again automatically"
        if delivery.state == "sending":
            earlier = mailer.find_sent(delivery.reference)
            if earlier is not None:
                pipeline.record_sent(conn, delivery, earlier.message_id, job_id, recovered=True)
                return f"delivery {delivery_id} had been sent as {earlier.message_id}"
            if not mailer.can_tell_unsent:
                pipeline.record_delivery_state(
                    conn, delivery, "unknown",
                    "an earlier attempt stopped after the request may have left", job_id)
                return f"delivery {delivery_id} parked as unknown"
        quotation = Quotation.from_row(db.fetch_one(conn, "get_quotation", id=quotation_id))

    if delivery.carries_quotation:
        pdf = services.storage.get(quotation.pdf_key)
        with db.transaction(services.pool) as conn:
            claim(conn, attempt)
            # The email's link is written with the `sending` mark: the stored hash is the one
            # in the email that leaves (an earlier attempt's email did not, or we would not be
            # here).
            token = links.issue(conn, delivery, days=services.settings.pdf_link_days)
            pipeline.begin_sending(conn, delivery, mailer.name, job_id)
        email = compose(services.settings, quotation, delivery, pdf,
                        links.public_url(services.settings, token))
    else:
        with db.transaction(services.pool) as conn:
            claim(conn, attempt)
            pipeline.begin_sending(conn, delivery, mailer.name, job_id)
        email = compose_answer_email(services.settings, quotation, delivery)
    try:
        result = mailer.send(email)
    except MailRetryLater as exc:
        _record(services, delivery, "pending", str(exc), job_id)
        raise
    except MailRejected as exc:
        _record(services, delivery, "failed", str(exc), job_id)
        raise
    except MailOutcomeUnknown as exc:
        _record(services, delivery, "unknown", str(exc), job_id)
        return f"delivery {delivery_id} parked as unknown: {exc}"
    with db.transaction(services.pool) as conn:
        pipeline.record_sent(conn, delivery, result.message_id, job_id)
    return (f"sent {quotation.label} ({delivery.kind}) to {delivery.recipient} as "
            f"{result.message_id}")


def _record(services: Services, delivery, state: str, error: str, job_id: int | None) -> None:
    with db.transaction(services.pool) as conn:
        pipeline.record_delivery_state(conn, delivery, state, error, job_id)


def fail_delivery(conn, delivery_id: int, error: str, job_id: int | None) -> None:
    """After the last attempt: a delivery never tried is failed; one whose request may have
    left (`sending`) is unknown, so that nobody re-sends it without checking."""
    delivery = pipeline.lock_delivery(conn, delivery_id)
    if delivery.state == "pending":
        pipeline.record_delivery_state(conn, delivery, "failed", error, job_id)
    elif delivery.state == "sending":
        pipeline.record_delivery_state(conn, delivery, "unknown", error, job_id)
