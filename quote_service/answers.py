"""The customer's answer to a quotation, given once through the link of one of its emails.

The customer has no account: the link (`/q/<token>`, links.py) is the credential. An answer
is recorded once, with the name the customer gives and an optional comment, as columns of the
quotation and an event; then the customer gets a confirmation and the sales user who submitted
it a notice, both as deliveries of their own (sent once, like the quotation's email). A
quotation that was revised, that expired, or that was already answered takes no answer: the
customer is told which, and what was recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from quote_service import db, pipeline
from quote_service.domain.model import ANSWERS, Quotation
from quote_service.links import DeliveryLink

# What the customer sees instead of the forms, by the quotation's state.
OPEN, ANSWERED, EXPIRED, SUPERSEDED, NOT_SENT = ("open", "answered", "expired", "superseded",
                                                 "not sent")


@dataclass(frozen=True)
class CustomerView:
    """A quotation as its customer's link shows it."""

    quotation: Quotation
    state: str  # OPEN, or why no answer can be given
    newer: Quotation | None  # the version that replaced it, when superseded


class AnswerRefused(Exception):
    """No answer can be recorded; `view` says why (and what was recorded, if anything)."""

    def __init__(self, view: CustomerView):
        super().__init__(view.state)
        self.view = view


def newest_version(conn: psycopg.Connection, quotation: Quotation) -> Quotation | None:
    """The latest version of the same quotation, when a newer one exists."""
    row = db.fetch_one(conn, "latest_version", number=quotation.number)
    return Quotation.from_row(row) if row and row["id"] != quotation.id else None


def view(conn: psycopg.Connection, quotation: Quotation, today: dt.date) -> CustomerView:
    """Whether the customer may answer `quotation` on `today` (in the service's time zone),
    and if not, why. Past its validity it is expired even before the periodic expiry marks
    it so."""
    if quotation.status == "superseded":
        return CustomerView(quotation, SUPERSEDED, newest_version(conn, quotation))
    if quotation.response_kind is not None:
        return CustomerView(quotation, ANSWERED, None)
    if quotation.status == "expired" or quotation.valid_until < today:
        return CustomerView(quotation, EXPIRED, None)
    # Sent once at least (a resend under way, or one that failed, leaves the first valid).
    if quotation.sent_at is None or quotation.status not in ("sent", "delivering", "failed"):
        return CustomerView(quotation, NOT_SENT, None)
    return CustomerView(quotation, OPEN, None)


def record(conn: psycopg.Connection, link: DeliveryLink, kind: str, name: str, comment: str,
           today: dt.date) -> Quotation:
    """Record the answer given through `link`, once; raise AnswerRefused otherwise. The
    quotation's row is locked, so of two answers at once the second sees the first."""
    if kind not in ANSWERS:
        raise ValueError(f"an answer is one of {', '.join(ANSWERS)}")
    quotation = pipeline.lock_quotation(conn, link.quotation_id)
    current = view(conn, quotation, today)
    if current.state != OPEN:
        raise AnswerRefused(current)
    answered = Quotation.from_row(db.fetch_one(
        conn, "record_answer", id=quotation.id, kind=kind, response_name=name, comment=comment,
        delivery_id=link.delivery_id))
    pipeline.event(conn, quotation.id, kind, delivery_id=link.delivery_id, name=name,
                   comment=comment)
    recipient = db.fetch_one(conn, "get_delivery_of_quotation", id=link.delivery_id,
                             quotation_id=quotation.id)["recipient"]
    pipeline.new_answer_email(conn, answered, "answer_confirmation", recipient)
    submitter = db.fetch_one(conn, "get_submitter", id=quotation.id)
    if submitter is not None:
        pipeline.new_answer_email(conn, answered, "answer_notice", submitter["email"])
    return answered
