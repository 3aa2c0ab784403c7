import datetime as dt
from decimal import Decimal

import pytest

from quote_service.domain.validation import ValidationFailed, parse_submission
from tests.samples import sample_payload

TODAY = dt.date(2026, 11, 28)


def parse(payload):
    return parse_submission(payload, templates={"standard"}, today=TODAY)


def errors_of(payload) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        parse(payload)
    return {e.field: e.message for e in info.value.errors}


def test_defaults():
    submission = parse(sample_payload())
    assert submission.valid_until == TODAY + dt.timedelta(days=30)
    assert submission.template == "standard"
    assert submission.lines[0].quantity == Decimal("2")
    assert submission.customer.name == "Smith & Sons <Ltd>"


def test_numbers_and_strings_both_accepted_as_decimals():
    payload = sample_payload(lines=[{"description": "a", "quantity": 3,
                                     "unit_price": Decimal("0.335")}])
    line = parse(payload).lines[0]
    assert (line.quantity, line.unit_price, line.tax_rate) == (3, Decimal("0.335"), 0)


def test_every_problem_is_listed_with_its_field_path():
    payload = {
        "customer": {"name": "", "email": "not-an-email", "nickname": "x"},
        "currency": "XYZ",
        "valid_until": "2026-02-30",
        "lines": [
            {"description": "ok", "quantity": "0", "unit_price": "abc"},
            {"quantity": "1.00001", "unit_price": "-1", "tax_rate": "101", "discount_pct": True},
            "not an object",
        ],
        "colour": "blue",
    }
    errors = errors_of(payload)
    assert set(errors) == {
        "colour", "customer.nickname", "customer.name", "customer.email", "currency",
        "valid_until", "lines[0].quantity", "lines[0].unit_price", "lines[1].description",
        "lines[1].quantity", "lines[1].unit_price", "lines[1].tax_rate",
        "lines[1].discount_pct", "lines[2]",
    }
    assert errors["customer.name"] == "is required"
    assert "EUR" in errors["currency"] and "JPY" in errors["currency"]


@pytest.mark.parametrize("body", [None, [], "text", 3])
def test_body_must_be_an_object(body):
    assert "" in errors_of(body)


def test_lines_required_and_bounded():
    assert "lines" in errors_of(sample_payload(lines=[]))
    many = [{"description": "a", "quantity": "1", "unit_price": "1"}] * 201
    assert "lines" in errors_of(sample_payload(lines=many))


def test_dates_must_be_ahead_and_within_a_year():
    assert "valid_until" in errors_of(sample_payload(valid_until="2026-11-27"))
    assert "valid_until" in errors_of(sample_payload(valid_until="2028-01-01"))
    assert parse(sample_payload(valid_until="2026-11-28")).valid_until == TODAY


def test_unknown_template_and_nul_bytes_are_refused():
    errors = errors_of(sample_payload(template="../etc/passwd", notes="a\x00b"))
    assert set(errors) == {"template", "notes"}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e400", "", None])
def test_non_finite_or_missing_quantities(value):
    payload = sample_payload(lines=[{"description": "a", "quantity": value, "unit_price": "1"}])
    assert "lines[0].quantity" in errors_of(payload)


def test_currency_code_is_normalised():
    assert parse(sample_payload(currency=" jpy ")).currency == "JPY"
