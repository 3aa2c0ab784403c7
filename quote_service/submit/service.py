"""Submitting a quotation: price it, insert it, number it and defer its first job, in ONE
transaction, so there is never a quotation without its job nor a job without its quotation."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from quote_service import db, queue
from quote_service.domain.model import Quotation
from quote_service.domain.pricing import price_lines
from quote_service.domain.validation import Submission
from quote_service.submit import numbering


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used with a different request body."""


@dataclass(frozen=True)
class Submitted:
    quotation: Quotation
    job_id: int | None
    replayed: bool  # True when an earlier request with the same Idempotency-Key is answered


def request_hash(payload: Any) -> str:
    """A hash of the request body that ignores key order and whitespace."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(conn: psycopg.Connection, key: str, body_hash: str) -> Submitted | None:
    row = db.fetch_one(conn, "get_quotation_by_idempotency_key", key=key)
    if row is None:
        return None
    if row["request_hash"] != body_hash:
        raise IdempotencyConflict(key)
    return Submitted(Quotation.from_row(row), job_id=None, replayed=True)


def insert_quotation(
    conn: psycopg.Connection,
    submission: Submission,
    *,
    idempotency_key: str | None = None,
    body_hash: str | None = None,
    today: dt.date | None = None,
) -> Submitted:
    """Insert on `conn` inside a transaction the caller owns (see `submit`)."""
    year = (today or dt.date.today()).year
    priced, totals = price_lines(list(submission.lines), submission.currency)
    customer = submission.customer
    row = db.fetch_one(
        conn, "insert_quotation",
        number=None, year=year, seq=None,
        customer_name=customer.name, customer_email=customer.email,
        customer_company=customer.company, customer_address=customer.address,
        currency=submission.currency, valid_until=submission.valid_until,
        notes=submission.notes, template=submission.template,
        subtotal=totals.subtotal, discount_total=totals.discount_total,
        tax_total=totals.tax_total, total=totals.total,
        idempotency_key=idempotency_key, request_hash=body_hash,
    )
    quotation_id = row["id"]
    for line in priced:
        db.execute(
            conn, "insert_line", quotation_id=quotation_id, position=line.position,
            description=line.description, quantity=line.quantity, unit_price=line.unit_price,
            tax_rate=line.tax_rate, discount_pct=line.discount_pct, net=line.net,
            tax=line.tax, total=line.total,
        )
    job_id = queue.defer_generate_pdf(conn, quotation_id)
    # Last: the counter row stays locked until commit, so keep that window short.
    seq, number = numbering.take_next(conn, year)
    row = db.fetch_one(conn, "assign_number", id=quotation_id, seq=seq, number=number)
    db.execute(
        conn, "insert_event", quotation_id=quotation_id, kind="submitted", status="queued",
        job_id=job_id, detail=Jsonb({"number": number, "total": str(totals.total)}),
    )
    return Submitted(Quotation.from_row(row), job_id=job_id, replayed=False)


def submit(
    pool: ConnectionPool,
    submission: Submission,
    *,
    idempotency_key: str | None = None,
    payload: Any = None,
    today: dt.date | None = None,
) -> Submitted:
    """Submit once per Idempotency-Key: a repeat with the same body answers the first quotation,
    with another body raises IdempotencyConflict."""
    body_hash = request_hash(payload) if idempotency_key else None
    if idempotency_key:
        with db.transaction(pool) as conn:
            if (earlier := _replay(conn, idempotency_key, body_hash)) is not None:
                return earlier
    try:
        with db.transaction(pool) as conn:
            return insert_quotation(
                conn, submission, idempotency_key=idempotency_key, body_hash=body_hash,
                today=today,
            )
    except psycopg.errors.UniqueViolation:
        # Two requests with the same key raced; the other one committed first.
        if not idempotency_key:
            raise
        with db.transaction(pool) as conn:
            earlier = _replay(conn, idempotency_key, body_hash)
        if earlier is None:
            raise
        return earlier
