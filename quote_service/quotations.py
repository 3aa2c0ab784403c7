"""Reading quotations back: one with its lines, deliveries and events, or a page of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

from quote_service import db, links
from quote_service.accounts.ownership import EVERYTHING, Scope
from quote_service.domain.model import ANSWERS, Delivery, Event, Line, Quotation
from quote_service.links import DeliveryLink

MAX_PAGE = 200


@dataclass(frozen=True)
class QuotationDetail:
    quotation: Quotation
    lines: list[Line]
    deliveries: list[Delivery]
    events: list[Event]
    submitted_by: str | None  # the account's email; None for quotations from before accounts
    links: dict[int, DeliveryLink]  # each sent delivery's customer link, by delivery id
    versions: list[Version]  # every version of its number, oldest first, itself included


@dataclass(frozen=True)
class Version:
    id: int
    version: int
    status: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    response_kind: str | None


def get(conn: psycopg.Connection, quotation_id: int, scope: Scope = EVERYTHING
        ) -> Quotation | None:
    """The quotation, when it exists and is in `scope` (a user's: accounts/ownership.py)."""
    if scope.everything:
        row = db.fetch_one(conn, "get_quotation", id=quotation_id)
    else:
        row = db.fetch_one(conn, "get_visible_quotation", id=quotation_id, **scope.params())
    return Quotation.from_row(row) if row else None


def require(conn: psycopg.Connection, quotation_id: int, scope: Scope) -> Quotation:
    """Before acting on a quotation for a user: raise LookupError when it does not exist or
    is someone else's (the same answer, so an id is not confirmed)."""
    quotation = get(conn, quotation_id, scope)
    if quotation is None:
        raise LookupError(f"quotation {quotation_id} not found")
    return quotation


def get_detail(conn: psycopg.Connection, quotation_id: int, scope: Scope = EVERYTHING
               ) -> QuotationDetail | None:
    quotation = get(conn, quotation_id, scope)
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
        links=links.of_quotation(conn, quotation_id),
        versions=[Version(**row) for row in db.fetch_all(conn, "get_versions",
                                                         number=quotation.number)],
    )


MAX_SEARCH = 200


@dataclass(frozen=True)
class Filter:
    """What a list shows: a status, or an answer (`accepted`, `declined`: the lists select by
    answer with the same parameter); text found in the number, the customer's name, company
    or email; one customer's quotations."""

    status: str | None = None
    search: str | None = None
    customer_id: int | None = None

    def params(self) -> dict[str, Any]:
        answer = self.status if self.status in ANSWERS else None
        return {"status": None if answer else self.status, "answer": answer,
                "search": like_pattern(self.search) if self.search else None,
                "customer_id": self.customer_id}


def like_pattern(text: str) -> str:
    """`%text%` for LIKE, lower-cased as the searched text is, its wildcards taken literally."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class Page:
    items: list[Quotation]
    more: bool  # older quotations exist: the next page starts before items[-1].id


def list_page(conn: psycopg.Connection, *, filter: Filter = Filter(), before: int | None,  # noqa: A002
              limit: int, scope: Scope = EVERYTHING) -> Page:
    """Newest first, keyset-paginated on id, only quotations in `scope`; `limit` is capped at
    MAX_PAGE. One row more than asked for tells whether an older page exists, so the last page
    never links to an empty one."""
    size = max(1, min(limit, MAX_PAGE))
    rows = db.fetch_all(conn, "list_quotations", before=before, limit=size + 1,
                        **filter.params(), **scope.params())
    return Page([Quotation.from_row(r) for r in rows[:size]], more=len(rows) > size)
