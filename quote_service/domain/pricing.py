"""Pricing: each line is rounded on its own, then totals are sums of rounded lines.

Rounding per line (not on the grand total) is what an invoice reader can check with a pencil:
every printed line adds up to the printed total.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from quote_service.domain.money import round_money

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal = Decimal(0)
    discount_pct: Decimal = Decimal(0)


@dataclass(frozen=True)
class PricedLine:
    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    discount_pct: Decimal
    gross: Decimal  # quantity x unit price, rounded
    discount: Decimal  # rounded
    net: Decimal  # gross - discount
    tax: Decimal  # rounded tax on net
    total: Decimal  # net + tax


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal  # sum of net amounts (after discounts)
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal


def price_line(position: int, line: LineInput, currency: str) -> PricedLine:
    gross = round_money(line.quantity * line.unit_price, currency)
    discount = round_money(gross * line.discount_pct / HUNDRED, currency)
    net = gross - discount
    tax = round_money(net * line.tax_rate / HUNDRED, currency)
    return PricedLine(
        position=position,
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        tax_rate=line.tax_rate,
        discount_pct=line.discount_pct,
        gross=gross,
        discount=discount,
        net=net,
        tax=tax,
        total=net + tax,
    )


def price_lines(lines: list[LineInput], currency: str) -> tuple[list[PricedLine], Totals]:
    priced = [price_line(i, line, currency) for i, line in enumerate(lines, start=1)]
    zero = round_money(Decimal(0), currency)
    totals = Totals(
        subtotal=sum((p.net for p in priced), zero),
        discount_total=sum((p.discount for p in priced), zero),
        tax_total=sum((p.tax for p in priced), zero),
        total=sum((p.total for p in priced), zero),
    )
    return priced, totals
