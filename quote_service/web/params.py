"""Whole numbers from URLs and forms, read the same way everywhere.

Ids are PostgreSQL bigints: a number past 2**63 - 1 must be refused here, as a client error,
not reach the database as "bigint out of range". And only ASCII digits count: `str.isdigit`
also accepts "²" or "①", which `int()` then refuses with a ValueError.
"""

from __future__ import annotations

import re

from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def whole_number(raw: str | None, *, minimum: int = 1, maximum: int = MAX_ID) -> int | None:
    """`raw` as an int within [minimum, maximum], or None when it is anything else."""
    if raw is None or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: ASCII digits (werkzeug's default), at least 1 and at most a
    bigint, so `/quotations/99999999999999999999` is a 404 like any id that does not exist."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
