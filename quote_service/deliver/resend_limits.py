"""Limits on resending a quotation's email: per quotation and per recipient, over a window.

A resend emails the customer the PDF again, at a user's request: without a limit, one account
(or a script with its token) can flood a customer's inbox. The count is of `resend`
deliveries in the database, so it holds across every web process and server. It is taken in
the transaction that creates the new delivery: the quotation's row is locked there already
(pipeline.resend), and an advisory lock on the recipient serialises resends of different
quotations to the same address, so concurrent requests cannot slip past the count.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import psycopg

from quote_service import db
from quote_service.config import Settings
from quote_service.domain.model import Quotation


@dataclass(frozen=True)
class ResendLimits:
    per_quotation: int = 5
    per_recipient: int = 5
    window_seconds: int = 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> ResendLimits:
        return cls(settings.resend_limit_per_quotation, settings.resend_limit_per_recipient,
                   settings.resend_window_seconds)


class ResendLimited(Exception):
    """Too many resends of this quotation or to this recipient; the message says which and
    when the next one is possible (`retry_after`, seconds)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def _window(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    minutes = math.ceil(seconds / 60)
    return "minute" if minutes == 1 else f"{minutes} minutes"


def check(conn: psycopg.Connection, quotation: Quotation, limits: ResendLimits) -> None:
    """Raise ResendLimited when one more resend of `quotation` would pass a limit. Call it in
    the transaction that inserts the resend, with the quotation's row locked."""
    recipient = quotation.customer_email.lower()
    db.fetch_one(conn, "lock_key", key=f"resend-recipient:{recipient}")
    counts = db.fetch_one(conn, "count_recent_resends", quotation_id=quotation.id,
                          recipient=recipient, window_seconds=limits.window_seconds)
    assert counts is not None
    window = dt.timedelta(seconds=limits.window_seconds)
    per = _window(limits.window_seconds)
    if counts["by_quotation"] >= limits.per_quotation:
        raise ResendLimited(
            f"{quotation.number} was resent {counts['by_quotation']} times in the last {per} "
            f"(the limit is {limits.per_quotation} per {per})",
            _seconds_until(counts["oldest_by_quotation"] + window, counts["now"]))
    if counts["by_recipient"] >= limits.per_recipient:
        raise ResendLimited(
            f"{recipient} was sent {counts['by_recipient']} resends in the last {per} "
            f"(the limit is {limits.per_recipient} per {per} and recipient)",
            _seconds_until(counts["oldest_by_recipient"] + window, counts["now"]))


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
