"""Limits on failed sign-ins, kept in PostgreSQL so that they hold across every web worker
and server (an in-process counter would give each web worker process its own budget).

A password check first reserves a row in `login_attempts`, under advisory locks on its email
and its address, and only then runs; a success deletes the email's rows. So concurrent guesses
cannot slip past the count, and a request that is over the limit is refused before any
password is checked.

The per-email limit also means that someone can lock a known address out for the window by
failing on purpose; the window is short, and the per-address limit bounds guessing across many
accounts from one place.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import psycopg

from quote_service import db


@dataclass(frozen=True)
class LoginLimits:
    per_email: int = 5
    per_ip: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)


class LoginLimited(Exception):
    """Too many failed sign-ins for this email or from this address; try again later."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed sign-ins; try again in {retry_after} seconds")
        self.retry_after = retry_after


def reserve(conn: psycopg.Connection, email: str, ip: str, limits: LoginLimits) -> int:
    """Record an attempt before its password is checked; raise LoginLimited instead when the
    email or the address has used up its failures. Commit before checking the password, so
    that other workers count this attempt while it runs."""
    # Always email first, then address: two attempts never wait on each other in a cycle.
    db.fetch_one(conn, "lock_key", key=f"login-email:{email}")
    db.fetch_one(conn, "lock_key", key=f"login-ip:{ip}")
    window = limits.window.total_seconds()
    counts = db.fetch_one(conn, "count_login_failures", email=email, ip=ip,
                          window_seconds=window)
    assert counts is not None
    waits = []
    if counts["by_email"] >= limits.per_email:
        waits.append(counts["oldest_by_email"])
    if counts["by_ip"] >= limits.per_ip:
        waits.append(counts["oldest_by_ip"])
    if waits:
        free_at = max(waits) + limits.window
        raise LoginLimited(max(1, math.ceil((free_at - counts["now"]).total_seconds())))
    db.execute(conn, "prune_login_attempts")
    row = db.fetch_one(conn, "insert_login_attempt", email=email, ip=ip)
    assert row is not None
    return row["id"]


def clear(conn: psycopg.Connection, email: str) -> None:
    """A successful sign-in forgives the email's earlier failures (not the address's: one's
    own account must not reset the count of guesses at others' from the same place)."""
    db.execute(conn, "clear_login_failures", email=email)
