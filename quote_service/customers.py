"""Customers, stored once per team by email: a submission with a known email links to its
customer and updates its details, so each customer has one history of quotations. Sales
users share their team's customers (users without a team share theirs); viewers and admins
see every customer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

from quote_service import db
from quote_service.accounts.users import User
from quote_service.domain.validation import Customer as SubmittedCustomer
from quote_service.quotations import like_pattern

MAX_RESULTS = 50


@dataclass(frozen=True)
class Customer:
    id: int
    team: str | None
    name: str
    email: str
    company: str
    address: str
    locale: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Customer:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Reader:
    """Whose customers a user sees: their team's, or every team's."""

    team: str | None
    all_teams: bool

    @classmethod
    def of(cls, user: User) -> Reader:
        return cls(team=user.team, all_teams=user.role in ("viewer", "admin"))

    def params(self) -> dict[str, Any]:
        return {"team": self.team, "all_teams": self.all_teams}


def remember(conn: psycopg.Connection, customer: SubmittedCustomer, *, team: str | None,
             locale: str | None = None) -> Customer:
    """The customer of a submission, created or brought up to date, in the caller's
    transaction."""
    return Customer.from_row(db.fetch_one(
        conn, "upsert_customer", team=team, full_name=customer.name, email=customer.email,
        company=customer.company, address=customer.address, locale=locale))


def get(conn: psycopg.Connection, customer_id: int, reader: Reader) -> Customer | None:
    row = db.fetch_one(conn, "get_customer", id=customer_id, **reader.params())
    return Customer.from_row(row) if row else None


def search(conn: psycopg.Connection, text: str | None, reader: Reader,
           limit: int = MAX_RESULTS) -> list[Customer]:
    """By name, company or email, in alphabetical order; every customer without `text`."""
    return [Customer.from_row(row) for row in db.fetch_all(
        conn, "search_customers", search=like_pattern(text) if text else None,
        limit=max(1, min(limit, MAX_RESULTS)), **reader.params())]
