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

from quote_service import customers, db, queue
from quote_service.domain.locales import DEFAULT_LOCALE
from quote_service.domain.model import Quotation
from quote_service.domain.pricing import PricedLine, Totals, price_lines
from quote_service.domain.validation import Submission
from quote_service.submit import numbering


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used with a different request body."""


@dataclass(frozen=True)
class Submitted:
    quotation: Quotation
    job_id: int | None
    replayed: bool  # True when an earlier request with the same Idempotency-Key is answered


def client_key(key: str) -> str:
    """An Idempotency-Key chosen by a client (the API's header, the CLI's option), stored apart
    from the web form's keys (`form_key`) so that no key a client picks answers a form's
    quotation."""
    return f"client:{key}"


def form_key(submission_id: str) -> str:
    """The key of one rendered web form (see web.forms.new_submission_id)."""
    return f"form:{submission_id}"


def request_hash(payload: Any) -> str:
    """A hash of the request body that ignores key order and whitespace."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def earlier_submission(conn: psycopg.Connection, user_id: int, key: str) -> Quotation | None:
    """The quotation `user_id` submitted with `key` (keys are per user), if any."""
    row = db.fetch_one(conn, "get_quotation_by_idempotency_key", user_id=user_id, key=key)
    return Quotation.from_row(row) if row else None


def _replay(conn: psycopg.Connection, user_id: int, key: str, body_hash: str) -> Submitted | None:
    earlier = earlier_submission(conn, user_id, key)
    if earlier is None:
        return None
    if earlier.request_hash != body_hash:
        raise IdempotencyConflict(key)
    return Submitted(earlier, job_id=None, replayed=True)


def insert_quotation(
    conn: psycopg.Connection,
    submission: Submission,
    *,
    user_id: int,
    team: str | None = None,
    idempotency_key: str | None = None,
    body_hash: str | None = None,
    today: dt.date | None = None,
) -> Submitted:
    """Insert on `conn` inside a transaction the caller owns (see `submit`), as `user_id` of
    `team`: the quotation (a draft when the submission says so), its lines, its customer (one
    per team and email), its `generate_pdf` job, its number and its `submitted` event."""
    year = (today or dt.date.today()).year
    status = "draft" if submission.draft else "queued"
    row, totals = insert_version(
        conn, submission, user_id=user_id, team=team, status=status, year=year,
        idempotency_key=idempotency_key, body_hash=body_hash)
    quotation_id = row["id"]
    job_id = queue.defer_generate_pdf(conn, quotation_id)
    # Last: the counter row stays locked until commit, so keep that window short.
    seq, number = numbering.take_next(conn, year)
    row = db.fetch_one(conn, "assign_number", id=quotation_id, seq=seq, number=number)
    db.execute(
        conn, "insert_event", quotation_id=quotation_id, kind="submitted", status=status,
        job_id=job_id, detail=Jsonb({"number": number, "total": str(totals.total)}),
    )
    return Submitted(Quotation.from_row(row), job_id=job_id, replayed=False)


def insert_version(
    conn: psycopg.Connection, submission: Submission, *, user_id: int, team: str | None,
    status: str, year: int, number: str | None = None, seq: int | None = None,
    version: int = 1, previous_version_id: int | None = None,
    idempotency_key: str | None = None, body_hash: str | None = None,
) -> tuple[dict[str, Any], Totals]:
    """The row of a quotation's version and its lines, priced; a new quotation has no number
    yet (it is taken last, see insert_quotation), a revision has its predecessor's."""
    priced, totals = price_lines(list(submission.lines), submission.currency)
    customer = submission.customer
    locale = submission.locale or DEFAULT_LOCALE
    known = customers.remember(conn, customer, team=team, locale=locale)
    row = db.fetch_one(
        conn, "insert_quotation",
        number=number, year=year, seq=seq, status=status,
        customer_name=customer.name, customer_email=customer.email,
        customer_company=customer.company, customer_address=customer.address,
        currency=submission.currency, valid_until=submission.valid_until,
        notes=submission.notes, template=submission.template,
        subtotal=totals.subtotal, discount_total=totals.discount_total,
        tax_total=totals.tax_total, total=totals.total,
        user_id=user_id, idempotency_key=idempotency_key, request_hash=body_hash,
        draft=status == "draft", version=version, previous_version_id=previous_version_id,
        customer_id=known.id, locale=locale,
    )
    insert_lines(conn, row["id"], priced)
    return row, totals


def insert_lines(conn: psycopg.Connection, quotation_id: int, priced: list[PricedLine]) -> None:
    for line in priced:
        db.execute(
            conn, "insert_line", quotation_id=quotation_id, position=line.position,
            description=line.description, quantity=line.quantity, unit_price=line.unit_price,
            tax_rate=line.tax_rate, discount_pct=line.discount_pct, net=line.net,
            tax=line.tax, total=line.total,
        )


def submit(
    pool: ConnectionPool,
    submission: Submission,
    *,
    user_id: int,
    team: str | None = None,
    idempotency_key: str | None = None,
    payload: Any = None,
    today: dt.date | None = None,
) -> Submitted:
    """Submit as `user_id`, once per idempotency key of that user (`client_key`, `form_key`): a
    repeat with the same body answers the first quotation, with another body raises
    IdempotencyConflict. Another user's identical key is another quotation."""
    body_hash = request_hash(payload) if idempotency_key else None
    if idempotency_key:
        with db.transaction(pool) as conn:
            if (earlier := _replay(conn, user_id, idempotency_key, body_hash)) is not None:
                return earlier
    try:
        with db.transaction(pool) as conn:
            return insert_quotation(
                conn, submission, user_id=user_id, team=team, idempotency_key=idempotency_key,
                body_hash=body_hash, today=today,
            )
    except psycopg.errors.UniqueViolation:
        # Two requests with the same key raced; the other one committed first.
        if not idempotency_key:
            raise
        with db.transaction(pool) as conn:
            earlier = _replay(conn, user_id, idempotency_key, body_hash)
        if earlier is None:
            raise
        return earlier
