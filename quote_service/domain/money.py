"""Currencies and rounding. Money is `Decimal`, never float: `3 x 0.335` must be `1.01`."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 codes we accept, with their minor units. Unknown codes are refused, not guessed.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SEK": 2, "NOK": 2,
    "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "CNY": 2, "HKD": 2, "SGD": 2, "INR": 2, "MXN": 2,
    "BRL": 2, "ZAR": 2, "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "TND": 3,
}


def is_known_currency(code: str) -> bool:
    return code in MINOR_UNITS


def quantum(currency: str) -> Decimal:
    """The smallest unit of `currency`: 0.01 for EUR, 1 for JPY, 0.001 for KWD."""
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor units."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, currency: str) -> str:
    """`1234.5` EUR -> `1,234.50`; JPY -> `1,235`."""
    return f"{round_money(amount, currency):,.{MINOR_UNITS[currency]}f}"


def format_unit_price(amount: Decimal, currency: str) -> str:
    """Like format_amount, but never hides precision the price was given with (`0.335`)."""
    places = max(MINOR_UNITS[currency], -amount.normalize().as_tuple().exponent)
    return f"{amount:,.{places}f}"


def plain_amount(amount: Decimal, currency: str) -> str:
    """The JSON form: no grouping, exactly the currency's minor units (`238.80`)."""
    return f"{round_money(amount, currency):.{MINOR_UNITS[currency]}f}"


def plain_number(value: Decimal) -> str:
    """A quantity or rate without trailing zeros: `2.0000` -> `2`, `0.5000` -> `0.5`."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
