"""The data a DOCX template sees: a plain dict of already formatted strings.

Formatting happens here, once, so templates contain no logic beyond loops: amounts, numbers
and dates as the quotation's locale writes them (domain/locales.py), and the fixed words in
its language (the `[document]` words of quote_service/words/): the template holds no words
of its own, so one template serves every locale.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from quote_service.config import Settings
from quote_service.domain import locales
from quote_service.domain.model import Line, Quotation
from quote_service.domain.pricing import PricedLine, Totals
from quote_service.words import words_for


def _lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines()] if text else []


def line_context(line: Line | PricedLine, currency: str, locale: str) -> dict[str, Any]:
    """One table row: a stored line, or one just priced (previews, samples)."""
    return {
        "position": line.position,
        "description": line.description,
        "quantity": locales.number(line.quantity, locale),
        "unit_price": locales.unit_price(line.unit_price, currency, locale),
        "discount_pct": locales.number(line.discount_pct, locale),
        "tax_rate": locales.number(line.tax_rate, locale),
        "net": locales.amount(line.net, currency, locale),
        "tax": locales.amount(line.tax, currency, locale),
        "total": locales.amount(line.total, currency, locale),
    }


def totals_context(totals: Quotation | Totals, currency: str, locale: str) -> dict[str, str]:
    """The totals block; `total_with_currency` as the locale writes money (`1.299,90 €`)."""
    return {
        "subtotal": locales.amount(totals.subtotal, currency, locale),
        "discount_total": locales.amount(totals.discount_total, currency, locale),
        "tax_total": locales.amount(totals.tax_total, currency, locale),
        "total": locales.amount(totals.total, currency, locale),
        "total_with_currency": locales.money(totals.total, currency, locale),
    }


def framing_context(locale: str, *, number: str, currency: str, issued_on: dt.date,
                    valid_until: dt.date, customer_name: str) -> dict[str, Any]:
    """The dates and the fixed words, whose sentences name the number, the currency, the dates
    and the customer (`terms_text`, `subject`): filled in here, as word order is the
    language's."""
    issued, valid = locales.long_date(issued_on, locale), locales.long_date(valid_until, locale)
    values = {"number": number, "currency": currency, "issued_on": issued,
              "valid_until": valid, "name": customer_name}
    return {
        "locale": locale,
        "number": number,
        "issued_on": issued,
        "valid_until": valid,
        "currency": currency,
        "words": {key: text.format(**values)
                  for key, text in words_for(locale, "document").items()},
    }


def build_context(quotation: Quotation, lines: list[Line], settings: Settings) -> dict[str, Any]:
    currency, locale = quotation.currency, quotation.locale
    return {
        "company": {
            "name": settings.company_name,
            "address_lines": _lines_of(settings.company_address),
        },
        **framing_context(locale, number=quotation.number, currency=currency,
                          issued_on=quotation.created_at.date(),
                          valid_until=quotation.valid_until,
                          customer_name=quotation.customer_name),
        "customer": {
            "name": quotation.customer_name,
            "company": quotation.customer_company,
            "email": quotation.customer_email,
            "address_lines": _lines_of(quotation.customer_address),
        },
        "lines": [line_context(line, currency, locale) for line in lines],
        **totals_context(quotation, currency, locale),
        "notes_lines": _lines_of(quotation.notes),
    }
