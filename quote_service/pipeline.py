"""The pipeline's state machine: every step's start, result and failure is recorded on the
quotation (or its delivery) together with an event, and the next job is deferred in the same
transaction as the result it depends on.

queued -> generating -> delivering -> sent, or failed (failed_step + last_error).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from quote_service import db, queue
from quote_service.deliver import resend_limits
from quote_service.deliver.resend_limits import ResendLimits
from quote_service.deliver.storage.base import StoredObject
from quote_service.domain.model import QUOTATION_EMAILS, Delivery, Quotation

GENERATE = "generate"
SEND = "send"
DONE_DELIVERY_STATES = {"accepted", "processed", "delivered", "deferred", "bounced", "dropped",
                        "spam"}
# The request may have reached the provider: the email may have gone out.
OUTCOME_UNKNOWN_STATES = {"unknown", "sending"}


class NotAllowed(Exception):
    """The action does not apply to the quotation in its current state."""


class NotFound(LookupError):
    """The quotation or delivery does not exist: a job for it can never succeed."""


def event(
    conn: psycopg.Connection, quotation_id: int, kind: str, *, status: str | None = None,
    job_id: int | None = None, **detail: Any,
) -> None:
    db.execute(conn, "insert_event", quotation_id=quotation_id, kind=kind, status=status,
               job_id=job_id, detail=Jsonb(detail))


def lock_quotation(conn: psycopg.Connection, quotation_id: int) -> Quotation:
    row = db.fetch_one(conn, "lock_quotation", id=quotation_id)
    if row is None:
        raise NotFound(f"quotation {quotation_id} does not exist")
    return Quotation.from_row(row)


def lock_delivery(conn: psycopg.Connection, delivery_id: int) -> Delivery:
    row = db.fetch_one(conn, "lock_delivery", id=delivery_id)
    if row is None:
        raise NotFound(f"delivery {delivery_id} does not exist")
    return Delivery.from_row(row)


def awaiting_reconciliation(deliveries: Sequence[Delivery]) -> Delivery | None:
    """The latest of a quotation's deliveries (in id order) when it is parked as `unknown`:
    the email may or may not have gone out, and nothing will move the quotation on except a
    provider event (`apply_provider_event`) or an operator's deliberate `resend`. The view
    `deliveries_awaiting_reconciliation` applies the same rule in SQL."""
    own = [d for d in deliveries if d.carries_quotation]
    latest = own[-1] if own else None
    return latest if latest is not None and latest.state == "unknown" else None


# --- generate ---------------------------------------------------------------------------------

def begin_generation(conn: psycopg.Connection, quotation_id: int, job_id: int | None
                     ) -> Quotation | None:
    """Mark the quotation `generating`; None when its PDF is already recorded (nothing to do:
    its delivery job was deferred in the transaction that recorded the PDF)."""
    quotation = lock_quotation(conn, quotation_id)
    if quotation.pdf_key is not None:
        return None
    db.execute(conn, "start_step", id=quotation_id, status="generating")
    event(conn, quotation_id, "generating", status="generating", job_id=job_id,
          attempt=quotation.attempts + 1)
    return quotation


def record_pdf(conn: psycopg.Connection, quotation: Quotation, stored: StoredObject,
               job_id: int | None, *, reused: bool = False) -> Delivery | None:
    """Record the stored PDF and, unless the quotation is a draft (then it is `ready`, its PDF
    waiting for someone to send it), create the first delivery and defer its job: one
    transaction."""
    status = "ready" if quotation.draft else "delivering"
    db.execute(conn, "record_pdf", id=quotation.id, pdf_key=stored.key,
               pdf_sha256=stored.sha256, pdf_size=stored.size, status=status)
    event(conn, quotation.id, "pdf_stored", status=status, job_id=job_id,
          key=stored.key, sha256=stored.sha256, size=stored.size, reused=reused)
    return None if quotation.draft else _new_delivery(conn, quotation, "initial")


def send_ready(conn: psycopg.Connection, quotation_id: int, *, by: str | None = None
               ) -> Delivery:
    """Email a `ready` quotation's stored PDF (no second conversion): its first delivery."""
    quotation = lock_quotation(conn, quotation_id)
    if quotation.status != "ready":
        raise NotAllowed(f"only a ready quotation (a draft with its PDF) can be sent; this one "
                         f"is {quotation.status}")
    ensure_no_active_job(conn, quotation_id)
    db.execute(conn, "set_status", id=quotation_id, status="delivering")
    delivery = _new_delivery(conn, quotation, "initial")
    event(conn, quotation_id, "send_requested", status="delivering", **actor(by),
          delivery_id=delivery.id)
    return delivery


def new_answer_email(conn: psycopg.Connection, quotation: Quotation, kind: str,
                     recipient: str) -> Delivery:
    """An email about the customer's answer (`answer_confirmation` to the customer,
    `answer_notice` to the sales user), sent once like the quotation's own."""
    return _new_delivery(conn, quotation, kind, recipient)


def _new_delivery(conn: psycopg.Connection, quotation: Quotation, kind: str,
                  recipient: str | None = None) -> Delivery:
    delivery = Delivery.from_row(db.fetch_one(
        conn, "insert_delivery", quotation_id=quotation.id, kind=kind,
        recipient=recipient or quotation.customer_email,
    ))
    if delivery.carries_quotation:
        queue.defer_send_quotation(conn, quotation.id, delivery.id)
    else:
        queue.defer_send_answer_email(conn, quotation.id, delivery.id)
    return delivery


# --- deliver ----------------------------------------------------------------------------------

def begin_sending(conn: psycopg.Connection, delivery: Delivery, provider: str,
                  job_id: int | None) -> None:
    """Record that a request is about to leave. A crash after this point leaves the delivery
    `sending`, which the next attempt must resolve before sending anything."""
    db.execute(conn, "start_delivery", id=delivery.id, provider=provider)
    event(conn, delivery.quotation_id, "sending", job_id=job_id, delivery_id=delivery.id,
          provider=provider, attempt=delivery.attempts + 1)


def record_sent(conn: psycopg.Connection, delivery: Delivery, message_id: str,
                job_id: int | None, *, recovered: bool = False) -> None:
    """The provider took the email. The quotation's own makes it `sent`; one about an answer
    changes only its delivery."""
    db.execute(conn, "accept_delivery", id=delivery.id, message_id=message_id)
    if delivery.carries_quotation:
        db.execute(conn, "mark_sent", id=delivery.quotation_id)
        event(conn, delivery.quotation_id, "sent", status="sent", job_id=job_id,
              delivery_id=delivery.id, message_id=message_id, recovered=recovered)
    else:
        event(conn, delivery.quotation_id, f"{delivery.kind}_sent", job_id=job_id,
              delivery_id=delivery.id, recipient=delivery.recipient, message_id=message_id,
              recovered=recovered)


def record_delivery_state(conn: psycopg.Connection, delivery: Delivery, state: str,
                          error: str | None, job_id: int | None) -> None:
    db.execute(conn, "set_delivery_state", id=delivery.id, state=state, error=error)
    event(conn, delivery.quotation_id, f"delivery_{state}", job_id=job_id,
          delivery_id=delivery.id, error=error)


# --- failures ---------------------------------------------------------------------------------

def record_attempt_failure(
    conn: psycopg.Connection, *, job_id: int, task_name: str, attempt: int,
    quotation_id: int | None, error: str, traceback: str,
) -> None:
    db.execute(conn, "insert_job_failure", job_id=job_id, task_name=task_name, attempt=attempt,
               quotation_id=quotation_id, error=error, traceback=traceback)


def mark_failed(conn: psycopg.Connection, quotation_id: int, step: str, error: str,
                job_id: int | None) -> None:
    """The last attempt failed: the quotation is `failed`, naming the step and the cause."""
    message = f"{step}: {error}"
    db.execute(conn, "mark_failed", id=quotation_id, step=step, error=message)
    event(conn, quotation_id, "failed", status="failed", job_id=job_id, step=step, error=error)


# --- operator actions -------------------------------------------------------------------------

def ensure_no_active_job(conn: psycopg.Connection, quotation_id: int) -> None:
    row = db.fetch_one(conn, "active_job_for_lock", lock=queue.quotation_lock(quotation_id))
    if row is not None:
        raise NotAllowed(f"job {row['id']} ({row['task_name']}) is already {row['status']}")


def actor(by: str | None) -> dict[str, str]:
    """Who asked, for an event's detail: an account's email; nothing from a shell."""
    return {"by": by} if by else {}


def retry(conn: psycopg.Connection, quotation_id: int, *, by: str | None = None) -> Quotation:
    """Resume a failed quotation from the step that failed.

    Not when its last email may have gone out (`unknown`, or `sending` left by a dead attempt):
    that one is for reconciliation, with the provider's events or by an operator who checked
    and then resends on purpose (`resend`), never sent again as a side effect of a retry."""
    quotation = lock_quotation(conn, quotation_id)
    if quotation.status != "failed":
        raise NotAllowed(f"only failed quotations can be retried (this one is {quotation.status})")
    ensure_no_active_job(conn, quotation_id)
    deliveries = [d for d in db.fetch_all(conn, "get_deliveries", quotation_id=quotation_id)
                  if d["kind"] in QUOTATION_EMAILS]
    if deliveries and deliveries[-1]["state"] in OUTCOME_UNKNOWN_STATES:
        raise NotAllowed("the last email's outcome is unknown: check the provider, "
                         "then resend deliberately")
    if quotation.pdf_key is None:
        db.execute(conn, "set_status", id=quotation_id, status="queued")
        event(conn, quotation_id, "retry_requested", status="queued", step=GENERATE,
              **actor(by))
        queue.defer_generate_pdf(conn, quotation_id)
    else:
        db.execute(conn, "set_status", id=quotation_id, status="delivering")
        event(conn, quotation_id, "retry_requested", status="delivering", step=SEND,
              **actor(by))
        _new_delivery(conn, quotation, "retry")
    return lock_quotation(conn, quotation_id)


def resend(conn: psycopg.Connection, quotation_id: int, *, limits: ResendLimits,
           by: str | None = None) -> Delivery:
    """Email the stored PDF again, as a new delivery, within `limits` (else ResendLimited).
    `by` (who asked: an account's email, or None from a shell) goes into the event, so the
    audit trail tells who resent what."""
    quotation = lock_quotation(conn, quotation_id)
    if quotation.pdf_key is None:
        raise NotAllowed("the quotation has no PDF yet")
    if quotation.status in ("draft", "ready"):
        raise NotAllowed("the quotation was never sent: send it instead")
    ensure_no_active_job(conn, quotation_id)
    resend_limits.check(conn, quotation, limits)
    db.execute(conn, "set_status", id=quotation_id, status="delivering")
    delivery = _new_delivery(conn, quotation, "resend")
    event(conn, quotation_id, "resend_requested", status="delivering", **actor(by),
          delivery_id=delivery.id, recipient=delivery.recipient)
    return delivery


# --- provider events --------------------------------------------------------------------------

# SendGrid event -> delivery state, and how far along each state is: an event never moves a
# delivery backwards (events arrive out of order and more than once).
PROVIDER_EVENTS = {"processed": "processed", "deferred": "deferred", "delivered": "delivered",
                   "bounce": "bounced", "dropped": "dropped", "spamreport": "spam"}
_RANK = {"pending": 0, "sending": 1, "unknown": 1, "failed": 1, "accepted": 2, "processed": 3,
         "deferred": 4, "delivered": 5, "bounced": 5, "dropped": 5, "spam": 6}


def apply_provider_event(conn: psycopg.Connection, delivery_id: int, event_name: str,
                         message_id: str | None, reason: str | None) -> bool:
    """Apply one provider event; return False when it changes nothing (unknown delivery or
    event, duplicate, or older than what is recorded). A delivery parked as `unknown` (or
    `sending`) that the provider reports on is thereby resolved: it was sent."""
    state = PROVIDER_EVENTS.get(event_name)
    if state is None:
        return False
    try:
        delivery = lock_delivery(conn, delivery_id)
    except NotFound:
        return False
    if _RANK[state] <= _RANK[delivery.state]:
        return False
    if delivery.state in ("pending", "sending", "unknown", "failed"):
        record_sent(conn, delivery, message_id or "", None, recovered=True)
    db.execute(conn, "set_delivery_state", id=delivery.id, state=state,
               error=reason if state in ("bounced", "dropped", "spam", "deferred") else None)
    event(conn, delivery.quotation_id, f"delivery_{state}", delivery_id=delivery.id,
          message_id=message_id, reason=reason)
    return True
