"""Submitting a quotation: price it, insert it, number it and defer its first job, in ONE
transaction, so there is never a quotation without its job nor a job without its quotation."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from quote_service import db, queue
from quote_service.accounts import tokens
from quote_service.domain.locales import DEFAULT_LOCALE
from quote_service.domain.model import Quotation
from quote_service.domain.pricing import price_lines
from quote_service.domain.validation import Submission
from quote_service.submit.group_commit import GroupCommit


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


class NotAuthenticated(Exception):
    """No active user behind the credential: an unknown or revoked token, a deactivated user."""


class RoleRefused(Exception):
    """The user's role may not submit quotations; the role is the argument."""


# The roles that submit through the API and the form (web/auth.py's policy says the same).
SUBMITTERS = ("sales", "admin")


_LINE_AMOUNTS = ("quantity", "unit_price", "tax_rate", "discount_pct", "net", "tax", "total")


def _outcome(row: dict[str, Any] | None, params: dict[str, Any]) -> Submitted:
    """The statement's row as what the submission got, or its refusal raised."""
    if row is None:
        raise RuntimeError("the submitting statement returned no row for a submission")
    row = dict(row)
    outcome, role, job_id = row.pop("outcome"), row.pop("role"), row.pop("job_id")
    del row["i"]
    if outcome == "refused":
        raise RoleRefused(role) if role is not None else NotAuthenticated()
    quotation = Quotation.from_row(row)
    if outcome == "replayed":
        if quotation.request_hash != params["request_hash"]:
            raise IdempotencyConflict(params["idempotency_key"])
        return Submitted(quotation, job_id=None, replayed=True)
    return Submitted(quotation, job_id=job_id, replayed=False)


def _statement(submission: Submission, *, user_id: int | None, token_hash: str | None,
               roles: tuple[str, ...], idempotency_key: str | None, body_hash: str | None,
               today: dt.date | None) -> dict[str, Any]:
    """The priced submission and who submits it as one row of submit.sql's `batch`: plain
    JSON, amounts as decimal strings (never floats)."""
    priced, totals = price_lines(list(submission.lines), submission.currency)
    customer = submission.customer
    lines = [{"position": line.position, "description": line.description,
              **{name: str(getattr(line, name)) for name in _LINE_AMOUNTS}} for line in priced]
    return {
        "year": (today or dt.date.today()).year,
        "status": "draft" if submission.draft else "queued",
        "customer_name": customer.name, "customer_email": customer.email,
        "customer_company": customer.company, "customer_address": customer.address,
        "locale": submission.locale or DEFAULT_LOCALE, "currency": submission.currency,
        "valid_until": submission.valid_until.isoformat(), "notes": submission.notes,
        "template": submission.template, "subtotal": str(totals.subtotal),
        "discount_total": str(totals.discount_total), "tax_total": str(totals.tax_total),
        "total": str(totals.total),
        "idempotency_key": idempotency_key, "request_hash": body_hash, "lines": lines,
        "user_id": user_id, "token_hash": token_hash, "roles": list(roles),
    }


def _rows(conn: psycopg.Connection, batch: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """submit.sql's rows for `batch` on `conn`, in the batch's order (None: no row came back)."""
    rows = db.fetch_all(conn, "submit_quotations",
                        batch=Jsonb([{**params, "i": i} for i, params in enumerate(batch)]),
                        queue_name=queue.GENERATE_PDF.queue,
                        task_name=queue.GENERATE_PDF.task_name,
                        priority=queue.GENERATE_PDF.priority)
    by_index = {row["i"]: row for row in rows}
    return [by_index.get(i) for i in range(len(batch))]


def insert_quotation(
    conn: psycopg.Connection,
    submission: Submission,
    *,
    user_id: int | None = None,
    token_hash: str | None = None,
    roles: tuple[str, ...] = SUBMITTERS,
    idempotency_key: str | None = None,
    body_hash: str | None = None,
    today: dt.date | None = None,
) -> Submitted:
    """Submit on `conn`, in ONE statement (quote_service/sql/submit.sql), as `user_id` or as
    the user of the API token whose digest is `token_hash`, checked in that same statement:
    the quotation (a draft when the submission says so) numbered, its lines, its customer (one
    per team and email, the user's team), its `generate_pdf` job and its `submitted` event; or
    the quotation answered earlier for the same idempotency key and body.

    On an autocommit connection the statement is its own transaction; inside a transaction the
    caller owns, it commits or rolls back with the rest. Raise NotAuthenticated, RoleRefused
    (nothing written then), IdempotencyConflict.
    """
    params = _statement(submission, user_id=user_id, token_hash=token_hash, roles=roles,
                        idempotency_key=idempotency_key, body_hash=body_hash, today=today)
    return _outcome(_rows(conn, [params])[0], params)


def _together(pool: ConnectionPool, batch: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """The rows of `batch`, submitted by one statement on its own connection and committed as
    it ends (db.statement)."""
    with db.statement(pool) as conn:
        return _rows(conn, batch)


def _alone(pool: ConnectionPool, params: dict[str, Any]) -> dict[str, Any] | None:
    """The row of one submission, in a statement of its own."""
    try:
        return _together(pool, [params])[0]
    except psycopg.errors.UniqueViolation:
        # Two requests with the same key raced; the other one committed first, and the same
        # statement now answers its quotation.
        if not params["idempotency_key"]:
            raise
        return _together(pool, [params])[0]


def submit(
    pool: ConnectionPool,
    submission: Submission,
    *,
    user_id: int | None = None,
    token: str | None = None,
    roles: tuple[str, ...] = SUBMITTERS,
    idempotency_key: str | None = None,
    payload: Any = None,
    today: dt.date | None = None,
) -> Submitted:
    """Submit as `user_id`, or as the user of the API token `token` (checked by the submitting
    statement itself: one round trip, one transaction), once per idempotency key of that user
    (`client_key`, `form_key`): a repeat with the same body answers the first quotation, with
    another body raises IdempotencyConflict. Another user's identical key is another
    quotation.

    Submissions made at the same moment by this process's threads are submitted together
    (group_commit.py): one statement, one transaction, one turn at the year's counter.
    """
    body_hash = request_hash(payload) if idempotency_key else None
    token_hash = tokens.digest(token) if token is not None else None
    params = _statement(submission, user_id=user_id, token_hash=token_hash, roles=roles,
                        idempotency_key=idempotency_key, body_hash=body_hash, today=today)
    return _outcome(_group_commit(pool).run(params), params)


_groups: weakref.WeakKeyDictionary[ConnectionPool, GroupCommit] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def _group_commit(pool: ConnectionPool) -> GroupCommit:
    """The one GroupCommit of `pool` (a pool is one process's, and so is its group)."""
    with _groups_lock:
        group = _groups.get(pool)
        if group is None:
            group = _groups[pool] = GroupCommit(functools.partial(_together, pool),
                                                functools.partial(_alone, pool))
        return group
