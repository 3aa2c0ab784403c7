"""Changing a quotation after it was submitted: a draft's body is replaced in place, and a
quotation that went out (or was prepared, or expired) gets a next version.

- A draft, or a `ready` quotation (a draft with its PDF), is only the sales user's: its body
  can be replaced, keeping its number and version; its PDF is rendered again (as a new
  rendering, stored under a key of its own), and nothing has been sent.
- A `sent`, `ready` or `expired` quotation is revised: the next version gets the same number,
  `version + 1`, a PDF of its own (`Q-2026-0017-v2.pdf`) and, unless said otherwise, is a
  draft; the previous version becomes `superseded`, and its customer's link says that a newer
  one exists and takes no answer any more.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from quote_service import customers, db, pipeline, queue
from quote_service.domain.model import Quotation
from quote_service.domain.pricing import PricedLine, Totals, price_lines
from quote_service.domain.validation import Submission

EDITABLE = ("draft", "ready")
REVISABLE = ("sent", "ready", "expired")


def replace_draft(conn: psycopg.Connection, quotation_id: int, submission: Submission, *,
                  team: str | None, by: str | None = None) -> Quotation:
    """Replace a draft's (or ready quotation's) body and render its PDF again."""
    quotation = pipeline.lock_quotation(conn, quotation_id)
    if quotation.status not in EDITABLE:
        raise pipeline.NotAllowed(f"only a draft or a ready quotation can be edited; this one "
                                  f"is {quotation.status} (revise it instead)")
    job = db.fetch_one(conn, "active_job_for_lock", lock=queue.quotation_lock(quotation_id))
    if job is not None and job["status"] == "doing":
        raise pipeline.NotAllowed("its PDF is being made right now; try again in a moment")
    priced, totals = price_lines(list(submission.lines), submission.currency)
    customer = submission.customer
    locale = submission.locale or quotation.locale  # not said: the draft keeps its own
    known = customers.remember(conn, customer, team=team, locale=locale)
    row = db.fetch_one(
        conn, "replace_body", id=quotation_id,
        customer_name=customer.name, customer_email=customer.email,
        customer_company=customer.company, customer_address=customer.address,
        currency=submission.currency, valid_until=submission.valid_until,
        notes=submission.notes, template=submission.template,
        subtotal=totals.subtotal, discount_total=totals.discount_total,
        tax_total=totals.tax_total, total=totals.total, customer_id=known.id,
        locale=locale)
    db.execute(conn, "delete_lines", quotation_id=quotation_id)
    insert_lines(conn, quotation_id, priced)
    edited = Quotation.from_row(row)
    job_id = job["id"] if job is not None else queue.defer_generate_pdf(conn, quotation_id)
    pipeline.event(conn, quotation_id, "edited", status="draft", job_id=job_id,
                   **pipeline.actor(by), rendering=edited.rendering,
                   replaced_pdf=quotation.pdf_key, total=str(totals.total))
    return edited


def revise(conn: psycopg.Connection, quotation_id: int, submission: Submission, *,
           user_id: int, team: str | None, by: str | None = None) -> Quotation:
    """Make the next version of a sent, ready or expired quotation; return it."""
    previous = pipeline.lock_quotation(conn, quotation_id)
    if previous.status not in REVISABLE:
        raise pipeline.NotAllowed(f"only a sent, ready or expired quotation can be revised; "
                                  f"this one is {previous.status}")
    if previous.response_kind is not None:
        raise pipeline.NotAllowed(f"the customer has {previous.response_kind} it")
    pipeline.ensure_no_active_job(conn, quotation_id)
    draft = True if submission.draft is None else submission.draft
    status = "draft" if draft else "queued"
    row, totals = _insert_next_version(conn, previous, submission, user_id=user_id, team=team,
                                       status=status)
    revision = Quotation.from_row(row)
    job_id = queue.defer_generate_pdf(conn, revision.id)
    db.execute(conn, "set_status", id=previous.id, status="superseded")
    pipeline.event(conn, previous.id, "superseded", status="superseded", **pipeline.actor(by),
                   newer_id=revision.id, version=revision.version)
    db.execute(conn, "insert_event", quotation_id=revision.id, kind="revised", status=status,
               job_id=job_id, detail=Jsonb({
                   **pipeline.actor(by), "number": revision.number,
                   "version": revision.version, "previous_id": previous.id,
                   "total": str(totals.total)}))
    return revision


def _insert_next_version(conn: psycopg.Connection, previous: Quotation, submission: Submission,
                         *, user_id: int, team: str | None, status: str
                         ) -> tuple[dict[str, Any], Totals]:
    """The row of `previous`'s next version (its number, `version + 1`) and its lines, priced.
    Not said, the locale is the previous version's."""
    priced, totals = price_lines(list(submission.lines), submission.currency)
    customer = submission.customer
    locale = submission.locale or previous.locale
    known = customers.remember(conn, customer, team=team, locale=locale)
    row = db.fetch_one(
        conn, "insert_next_version",
        number=previous.number, year=previous.year, seq=previous.seq, status=status,
        customer_name=customer.name, customer_email=customer.email,
        customer_company=customer.company, customer_address=customer.address,
        currency=submission.currency, valid_until=submission.valid_until,
        notes=submission.notes, template=submission.template,
        subtotal=totals.subtotal, discount_total=totals.discount_total,
        tax_total=totals.tax_total, total=totals.total,
        user_id=user_id, draft=status == "draft", version=previous.version + 1,
        previous_version_id=previous.id, customer_id=known.id, locale=locale,
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
