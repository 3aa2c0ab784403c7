"""The link each email gives its customer, who has no account: `/q/<token>`, one per delivery.

The token is 256 random bits, shown only in the email and stored as its sha256 (a leaked
table opens nothing; the lookup is one index probe). It is written in the transaction that
marks the delivery `sending`, just before the email leaves, so the stored hash is always the
one in the email that went out. A link expires PDF_LINK_DAYS after it was sent and can be
revoked, for one delivery or for every email of a quotation; an expired or revoked link
answers 410 with a page that says how to get a new one (a resend makes a new delivery, and
so a new link). Today the link serves the PDF; it is the customer's handle on the quotation,
which later pages for the customer can build on.

Links of emails sent before these existed (`/quotations/<id>/pdf?token=<HMAC>`) no longer
open the PDF: they could be neither expired nor revoked one by one. They answer 410 with the
same advice; the PDF is attached to those emails anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg

from quote_service import db, pipeline
from quote_service.config import Settings
from quote_service.domain.model import Delivery

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 64


@dataclass(frozen=True)
class DeliveryLink:
    id: int
    delivery_id: int
    quotation_id: int
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None
    state: str  # active | expired | revoked

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DeliveryLink:
        state = ("revoked" if row["revoked_at"] is not None else
                 "expired" if row["expires_at"] <= row["now"] else "active")
        return cls(id=row["id"], delivery_id=row["delivery_id"],
                   quotation_id=row["quotation_id"], created_at=row["created_at"],
                   expires_at=row["expires_at"], revoked_at=row["revoked_at"],
                   revoked_by=row["revoked_by"], state=state)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(conn: psycopg.Connection, delivery: Delivery, *, days: int) -> str:
    """Write the link of `delivery`'s email and return its token (the only time it exists in
    the clear)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    db.fetch_one(conn, "issue_delivery_link", delivery_id=delivery.id,
                 quotation_id=delivery.quotation_id, token_hash=_digest(token), days=days)
    return token


def public_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}/q/{token}"


def find(conn: psycopg.Connection, token: str) -> DeliveryLink | None:
    """The link with this token, in whatever state; None when there is none (garbage costs no
    query)."""
    if not 0 < len(token) <= MAX_TOKEN_LENGTH:
        return None
    row = db.fetch_one(conn, "find_delivery_link", token_hash=_digest(token))
    return DeliveryLink.from_row(row) if row else None


def of_quotation(conn: psycopg.Connection, quotation_id: int) -> dict[int, DeliveryLink]:
    """The quotation's links by delivery id (deliveries not sent yet have none)."""
    return {row["delivery_id"]: DeliveryLink.from_row(row)
            for row in db.fetch_all(conn, "quotation_links", quotation_id=quotation_id)}


def revoke(conn: psycopg.Connection, quotation_id: int, *, delivery_id: int | None = None,
           by: str | None = None) -> list[int]:
    """Revoke the live links of a quotation (or of one of its deliveries, else LookupError);
    return the deliveries whose link was revoked, and record it as an event."""
    if delivery_id is not None and db.fetch_one(
            conn, "get_delivery_of_quotation", id=delivery_id, quotation_id=quotation_id) is None:
        raise LookupError(f"quotation {quotation_id} has no delivery {delivery_id}")
    revoked = [row["delivery_id"] for row in db.fetch_all(
        conn, "revoke_delivery_links", quotation_id=quotation_id, delivery_id=delivery_id, by=by)]
    if revoked:
        pipeline.event(conn, quotation_id, "links_revoked", **pipeline.actor(by),
                       delivery_ids=revoked)
    return revoked


def pdf_path(quotation_id: int) -> str:
    """The PDF for signed-in users (the customer's is `public_url`)."""
    return f"/quotations/{quotation_id}/pdf"
