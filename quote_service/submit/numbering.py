"""Gapless per-year quotation numbers: `Q-2026-0001`, growing past 9999 as `Q-2026-10000`.

The submitting statement takes the next number itself (submit.sql, with the SQL function
`quotation_number` of migration 0040, which formats as `format_number` does): the year's
counter row stays locked until that transaction ends, and a rollback gives the number back.
"""

from __future__ import annotations


def format_number(year: int, seq: int) -> str:
    # Not lpad(): it truncates '10000' to '1000'.
    return f"Q-{year}-{seq:04d}"
