"""Gapless per-year quotation numbers: `Q-2026-0001`, growing past 9999 as `Q-2026-10000`."""

from __future__ import annotations

import psycopg

from quote_service import db


def format_number(year: int, seq: int) -> str:
    # Not lpad(): it truncates '10000' to '1000'.
    return f"Q-{year}-{seq:04d}"


def take_next(conn: psycopg.Connection, year: int) -> tuple[int, str]:
    """Increment the year's counter on `conn`; the row stays locked until commit or rollback.

    A rollback returns the number, hence no gaps; the price is that concurrent submissions
    queue on this row, so callers take it as the last write before committing.
    """
    seq = db.fetch_one(conn, "next_number", year=year)["last_value"]
    return seq, format_number(year, seq)
