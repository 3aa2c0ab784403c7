"""The data a DOCX template sees: a plain dict of already formatted strings.

Formatting happens here, once, so templates contain no logic beyond loops.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from quote_service.config import Settings
from quote_service.domain.model import Line, Quotation
from quote_service.domain.money import format_amount, format_unit_price, plain_number
from quote_service.domain.pricing import PricedLine


def _date(value: dt.date) -> str:
    return f"{value.day} {value:%B %Y}"


def _lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines()] if text else []


def line_context(line: Line | PricedLine, currency: str) -> dict[str, Any]:
    """One table row: a stored line, or one just priced (previews, samples)."""
    return {
        "position": line.position,
        "description": line.description,
        "quantity": plain_number(line.quantity),
        "unit_price": format_unit_price(line.unit_price, currency),
        "discount_pct": plain_number(line.discount_pct),
        "tax_rate": plain_number(line.tax_rate),
        "net": format_amount(line.net, currency),
        "tax": format_amount(line.tax, currency),
        "total": format_amount(line.total, currency),
    }


def build_context(quotation: Quotation, lines: list[Line], settings: Settings) -> dict[str, Any]:
    currency = quotation.currency
    return {
        "company": {
            "name": settings.company_name,
            "address_lines": _lines_of(settings.company_address),
        },
        "number": quotation.number,
        "issued_on": _date(quotation.created_at.date()),
        "valid_until": _date(quotation.valid_until),
        "currency": currency,
        "customer": {
            "name": quotation.customer_name,
            "company": quotation.customer_company,
            "email": quotation.customer_email,
            "address_lines": _lines_of(quotation.customer_address),
        },
        "lines": [line_context(line, currency) for line in lines],
        "subtotal": format_amount(quotation.subtotal, currency),
        "discount_total": format_amount(quotation.discount_total, currency),
        "tax_total": format_amount(quotation.tax_total, currency),
        "total": format_amount(quotation.total, currency),
        "notes_lines": _lines_of(quotation.notes),
    }
