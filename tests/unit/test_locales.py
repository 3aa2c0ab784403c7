"""Locales: CLDR's formats through Babel, and word catalogs that match each other."""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal

import pytest

from quote_service.config import ConfigError, Settings
from quote_service.domain import locales
from quote_service.domain.money import MINOR_UNITS
from quote_service.words import catalog, words_for

DAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(("tag", "money", "day"), [
    ("de-DE", "1.299,90\xa0€", "1. Dezember 2026"),
    ("en-GB", "€1,299.90", "1 December 2026"),
    ("en-US", "€1,299.90", "December 1, 2026"),
    ("fr-FR", "1\u202f299,90\xa0€", "1 décembre 2026"),
    ("de-CH", "EUR\xa01'299.90", "1. Dezember 2026"),
    ("ja-JP", "€1,299.90", "2026年12月1日"),
])
def test_money_and_dates_follow_cldr(tag, money, day):
    assert locales.money(Decimal("1299.9"), "EUR", tag) == money
    assert locales.long_date(DAY, tag) == day


def test_decimals_are_the_currencys_whatever_cldr_says():
    assert locales.money(Decimal("1299.5"), "JPY", "ja-JP") == "￥1,300"
    assert locales.money(Decimal("12.3456"), "KWD", "de-DE") == "12,346\xa0KWD"
    for currency, places in MINOR_UNITS.items():
        text = locales.amount(Decimal("1234.5"), currency, "en-GB")
        assert text == ("1,235" if places == 0 else "1,234." + "5".ljust(places, "0")), currency


def test_table_numbers_keep_their_precision():
    assert locales.unit_price(Decimal("0.3350"), "EUR", "de-DE") == "0,335"
    assert locales.unit_price(Decimal("99.5"), "EUR", "fr-FR") == "99,50"
    assert locales.number(Decimal("1.2500"), "de-DE") == "1,25"
    assert locales.number(Decimal("0.0001"), "en-GB") == "0.0001"
    assert locales.number(Decimal("1500"), "de-DE") == "1.500"


@pytest.mark.parametrize(("given", "stored"), [
    ("de-DE", "de-DE"), ("de_de", "de-DE"), (" JA-jp ", "ja-JP"), ("de", None),
    ("pt-BR", None), ("", None), (None, None), (7, None)])
def test_only_supported_tags_are_taken(given, stored):
    assert locales.canonical(given) == stored


def test_every_supported_locale_has_words_and_every_catalog_the_same_keys_and_places():
    english = catalog("en")
    for tag in locales.SUPPORTED_LOCALES:
        for part in ("document", "email", "page"):
            words = words_for(tag, part)
            assert set(words) == set(english[part]), (tag, part)
            for key, text in words.items():
                places = {name for _, name, _, _ in string.Formatter().parse(text) if name}
                wanted = {n for _, n, _, _ in string.Formatter().parse(english[part][key]) if n}
                assert places == wanted, (tag, part, key)


def test_the_service_locale_is_checked_at_start():
    assert Settings.from_env({"LOCALE": "fr_ch"}).locale == "fr-CH"
    assert Settings.from_env({}).locale == "en-GB"
    with pytest.raises(ConfigError, match=r"^LOCALE='xx' is invalid: expected one of en-GB"):
        Settings.from_env({"LOCALE": "xx"})
