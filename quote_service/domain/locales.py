"""A quotation's locale: which ones the service speaks, and amounts, numbers and dates as that
locale writes them.

The rules are CLDR's, through Babel, not ours: `de-DE` writes `1.299,90 €` and
`1. Dezember 2026`, `fr-FR` groups thousands with a narrow no-break space, `ja-JP` writes
`2026年12月1日`. A locale is offered only when the document and its emails have words in its
language (quote_service/words/), so a German date never sits between
English labels. The number of decimals is always the currency's (domain/money.py), whatever
CLDR's own table says, so the PDF, the emails and the JSON agree to the cent.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from decimal import Decimal

from babel import Locale
from babel.dates import format_date
from babel.numbers import NumberPattern, format_decimal

from quote_service.domain.money import MINOR_UNITS, round_money

DEFAULT_LOCALE = "en-GB"
# BCP 47 tags, as stored and as the API and the form take them.
SUPPORTED_LOCALES = ("en-GB", "en-US", "de-DE", "de-AT", "de-CH", "fr-FR", "fr-BE", "fr-CH",
                     "ja-JP")
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "ja": "日本語"}
# Quantities and rates keep up to 4 decimals (domain/validation.py); CLDR's decimal
# pattern would cut them at 3.
_NUMBER_PATTERN = "#,##0.####"


def canonical(tag: object) -> str | None:
    """The supported tag that `tag` names, ignoring case and `_` for `-` (`de_de` is
    `de-DE`); None when the service does not speak it."""
    if not isinstance(tag, str):
        return None
    wanted = tag.strip().replace("_", "-").lower()
    return next((known for known in SUPPORTED_LOCALES if known.lower() == wanted), None)


def language(tag: str) -> str:
    """`de-CH` -> `de`: the word tables are per language, the formats per locale."""
    return tag.split("-", 1)[0]


def label(tag: str) -> str:
    """What a person picks in a list: `Deutsch (Schweiz) — de-CH`, in the locale's own words."""
    return f"{_babel(tag).get_display_name(_babel(tag))} — {tag}"


@functools.cache
def _babel(tag: str) -> Locale:
    return Locale.parse(tag, sep="-")


@functools.cache
def _currency_pattern(tag: str, places: int) -> NumberPattern:
    pattern = copy.copy(_babel(tag).currency_formats["standard"])
    pattern.frac_prec = (places, places)
    return pattern


def money(amount: Decimal, currency: str, tag: str) -> str:
    """`1299.9` EUR in `de-DE` -> `1.299,90 €` (a no-break space before the sign)."""
    return _currency_pattern(tag, MINOR_UNITS[currency]).apply(
        round_money(amount, currency), _babel(tag), currency=currency, currency_digits=False)


def _fixed(amount: Decimal, places: int, tag: str) -> str:
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(amount, format=pattern, locale=_babel(tag))


def amount(value: Decimal, currency: str, tag: str) -> str:
    """An amount without its currency, for a table whose caption names it: `1.299,90`."""
    return _fixed(round_money(value, currency), MINOR_UNITS[currency], tag)


def unit_price(value: Decimal, currency: str, tag: str) -> str:
    """Like `amount`, but never hiding precision the price was given with (`0,335`)."""
    places = max(MINOR_UNITS[currency], -value.normalize().as_tuple().exponent)
    return _fixed(value, places, tag)


def number(value: Decimal, tag: str) -> str:
    """A quantity or a rate, without trailing zeros: `2`, `0,5`, `1.000`."""
    return format_decimal(value, format=_NUMBER_PATTERN, locale=_babel(tag))


def long_date(value: dt.date, tag: str) -> str:
    """`1 December 2026`, `1. Dezember 2026`, `1 décembre 2026`, `2026年12月1日`."""
    return format_date(value, format="long", locale=_babel(tag))
