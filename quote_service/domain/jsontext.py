"""Submitted JSON text read the way validation needs it (the API's body, `quote-service submit`).

- Numbers with a fraction become `Decimal`, never float: "0.335" and 0.335 price exactly.
- A key given twice in one object is remembered, not silently resolved to its last value
  (another JSON parser could read the first one: the body would mean two things). Each object
  is a `JsonObject`, whose `duplicate_keys` validation reports as errors with their path.
- Nesting deeper than a quotation ever needs, invalid UTF-8 and malformed text are one error,
  `MalformedJson`, instead of a RecursionError or UnicodeDecodeError.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

MAX_DEPTH = 32


class MalformedJson(ValueError):
    """Not JSON this service can read; the message says why."""


class JsonObject(dict):
    """A JSON object; `duplicate_keys` lists the keys it had more than once."""

    duplicate_keys: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> JsonObject:
    found = JsonObject(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        found.duplicate_keys = tuple(sorted({k for k, _ in pairs if k in seen or seen.add(k)}))
    return found


def _depth_within(value: Any, limit: int) -> bool:
    """Iterative, so the check itself cannot overflow the stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def load(text: bytes | str) -> Any:
    """Parse `text`; raise MalformedJson."""
    try:
        value = json.loads(text, parse_float=Decimal, object_pairs_hook=_object)
    except RecursionError:
        raise MalformedJson(f"nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError as exc:
        raise MalformedJson(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:
        raise MalformedJson(str(exc)) from None
    if not _depth_within(value, MAX_DEPTH):
        raise MalformedJson(f"nested deeper than {MAX_DEPTH} levels")
    return value
