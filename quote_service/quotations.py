"""Reading quotations back: one with its lines, deliveries and events, or a page of them."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from quote_service import db
from quote_service.domain.model import Delivery, Event, Line, Quotation

MAX_PAGE = 200


@dataclass(frozen=True)
class QuotationDetail:
    quotation: Quotation
    lines: list[Line]
    deliveries: list[Delivery]
    events: list[Event]
    submitted_by: str | None  # the account's email; None for quotations from before accounts


def get(conn: psycopg.Connection, quotation_id: int) -> Quotation | None:
    row = db.fetch_one(conn, "get_quotation", id=quotation_id)
    return Quotation.from_row(row) if row else None


def get_detail(conn: psycopg.Connection, quotation_id: int) -> QuotationDetail | None:
    quotation = get(conn, quotation_id)
    if quotation is None:
        return None
    return QuotationDetail(
        quotation=quotation,
        lines=[Line.from_row(r) for r in db.fetch_all(conn, "get_lines",
                                                      quotation_id=quotation_id)],
        deliveries=[Delivery.from_row(r) for r in db.fetch_all(conn, "get_deliveries",
                                                               quotation_id=quotation_id)],
        events=[Event.from_row(r) for r in db.fetch_all(conn, "get_events",
                                                        quotation_id=quotation_id)],
        submitted_by=(db.fetch_one(conn, "get_submitter", id=quotation_id) or {}).get("email"),
    )


@dataclass(frozen=True)
class Page:
    items: list[Quotation]
    more: bool  # older quotations exist: the next page starts before items[-1].id


def list_page(conn: psycopg.Connection, *, status: str | None, before: int | None, limit: int
              ) -> Page:
    """Newest first, keyset-paginated on id; `limit` is capped at MAX_PAGE. One row more than
    asked for tells whether an older page exists, so the last page never links to an empty one."""
    size = max(1, min(limit, MAX_PAGE))
    rows = db.fetch_all(conn, "list_quotations", status=status, before=before, limit=size + 1)
    return Page([Quotation.from_row(r) for r in rows[:size]], more=len(rows) > size)
