"""Rows as small frozen dataclasses, built from database rows with `from_row`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Self

# draft -> generating -> ready -> delivering -> sent, or queued -> generating -> delivering ->
# sent; failed from any step; expired (past valid_until, unanswered); superseded (revised).
STATUSES = ("draft", "queued", "generating", "ready", "delivering", "sent", "failed",
            "expired", "superseded")
# The customer's answer; the lists' status filter also takes these, to select by answer.
ANSWERS = ("accepted", "declined")
# A quotation's own emails; the others are about an answer (deliveries.kind).
QUOTATION_EMAILS = ("initial", "retry", "resend")


def _from_row(cls, row: dict[str, Any]):
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in row.items() if k in names})


@dataclass(frozen=True)
class Line:
    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    discount_pct: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        return _from_row(cls, row)


@dataclass(frozen=True)
class Quotation:
    id: int
    number: str
    status: str
    customer_name: str
    customer_email: str
    customer_company: str
    customer_address: str
    currency: str
    valid_until: dt.date
    notes: str
    template: str
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal
    created_at: dt.datetime
    updated_at: dt.datetime
    attempts: int = 0
    pdf_key: str | None = None
    pdf_sha256: str | None = None
    pdf_size: int | None = None
    pdf_generated_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    failed_step: str | None = None
    last_error: str | None = None
    user_id: int | None = None  # who submitted it; None only for quotations older than that record
    idempotency_key: str | None = None
    request_hash: str | None = None
    year: int = 0
    seq: int | None = None
    draft: bool = False  # made and stored, sent only when someone sends it
    version: int = 1
    previous_version_id: int | None = None
    rendering: int = 1  # the body's edits while a draft: each renders a PDF of its own
    customer_id: int | None = None
    response_kind: str | None = None  # accepted | declined
    response_name: str | None = None
    response_comment: str | None = None
    responded_at: dt.datetime | None = None
    response_delivery_id: int | None = None
    expired_at: dt.datetime | None = None
    locale: str = "en-GB"  # BCP 47: its amounts, dates and words (domain/locales.py)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        return _from_row(cls, row)

    @property
    def pdf_filename(self) -> str:
        """What the customer's copy is called: `Q-2026-0017-v2.pdf`."""
        return f"{self.number}-v{self.version}.pdf"

    @property
    def label(self) -> str:
        """The number, with the version from the second one on: `Q-2026-0017 v2`."""
        return self.number if self.version == 1 else f"{self.number} v{self.version}"


@dataclass(frozen=True)
class Delivery:
    id: int
    quotation_id: int
    kind: str
    recipient: str
    state: str
    attempts: int
    created_at: dt.datetime
    updated_at: dt.datetime
    provider: str | None = None
    provider_message_id: str | None = None
    last_error: str | None = None
    accepted_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        return _from_row(cls, row)

    @property
    def reference(self) -> str:
        """Stable per delivery: the mail backend's handle to recognise a repeated send."""
        return f"delivery-{self.id}"

    @property
    def carries_quotation(self) -> bool:
        """The quotation's own email (its PDF, its link); else an email about an answer."""
        return self.kind in QUOTATION_EMAILS


@dataclass(frozen=True)
class Event:
    id: int
    quotation_id: int
    at: dt.datetime
    kind: str
    status: str | None
    job_id: int | None
    detail: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        return _from_row(cls, row)
