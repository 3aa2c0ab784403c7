from decimal import Decimal

import pytest

from quote_service.domain.money import format_amount, format_unit_price, plain_amount, round_money
from quote_service.domain.pricing import LineInput, price_lines


def line(quantity, price, tax="0", discount="0"):
    return LineInput("x", Decimal(quantity), Decimal(price), Decimal(tax), Decimal(discount))


def test_half_up_per_line_where_a_float_would_round_down():
    # 3 x 0.335 = 1.005 exactly; the float nearest 1.005 is 1.00499999..., which rounds to 1.00.
    assert round(1.005, 2) == 1.0
    priced, totals = price_lines([line("3", "0.335")], "EUR")
    assert priced[0].net == Decimal("1.01")
    assert totals.total == Decimal("1.01")


def test_tax_and_discount_per_line_then_summed():
    priced, totals = price_lines(
        [line("2", "99.50", tax="20"), line("4", "65", tax="20", discount="10")], "EUR")
    assert [p.net for p in priced] == [Decimal("199.00"), Decimal("234.00")]
    assert [p.tax for p in priced] == [Decimal("39.80"), Decimal("46.80")]
    assert totals.subtotal == Decimal("433.00")
    assert totals.discount_total == Decimal("26.00")
    assert totals.tax_total == Decimal("86.60")
    assert totals.total == Decimal("519.60")


def test_each_line_is_rounded_before_summing():
    # Two lines of 0.005 tax each: rounding per line gives 0.02, on the sum 0.01.
    priced, totals = price_lines([line("1", "0.05", tax="10"), line("1", "0.05", tax="10")],
                                 "EUR")
    assert [p.tax for p in priced] == [Decimal("0.01"), Decimal("0.01")]
    assert totals.tax_total == Decimal("0.02")


@pytest.mark.parametrize(("currency", "expected"), [
    ("EUR", "1.01"), ("USD", "1.01"), ("GBP", "1.01"), ("JPY", "1"), ("KWD", "1.005"),
])
def test_minor_units_per_currency(currency, expected):
    assert plain_amount(round_money(Decimal("1.005"), currency), currency) == expected


def test_jpy_rounds_half_up_to_whole_yen():
    _, totals = price_lines([line("3", "100.5")], "JPY")
    assert totals.total == Decimal("302")


def test_format_amount_groups_thousands():
    assert format_amount(Decimal("1234567.5"), "EUR") == "1,234,567.50"
    assert format_amount(Decimal("1234567.5"), "JPY") == "1,234,568"


def test_unit_prices_keep_their_precision():
    assert format_unit_price(Decimal("0.3350"), "EUR") == "0.335"
    assert format_unit_price(Decimal("99.5"), "EUR") == "99.50"
    assert format_unit_price(Decimal("1500"), "JPY") == "1,500"
