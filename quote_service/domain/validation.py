"""Turn a submitted payload (JSON or form) into a `Submission`, or into the full list of problems.

Every problem is reported with its field path (`lines[0].quantity`), all at once, so a client
fixes its request in one round trip. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Set
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from quote_service.domain.locales import DEFAULT_LOCALE, SUPPORTED_LOCALES, canonical
from quote_service.domain.money import MINOR_UNITS, is_known_currency
from quote_service.domain.pricing import LineInput

MAX_LINES = 200
MAX_QUANTITY = Decimal("1000000000")
MAX_PRICE = Decimal("1000000000000")
DEFAULT_VALIDITY_DAYS = 30
MAX_VALIDITY_DAYS = 366
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]{2,}$")
_TOP_FIELDS = {"customer", "currency", "valid_until", "notes", "template", "lines", "draft",
               "locale"}
_CUSTOMER_FIELDS = {"name", "email", "company", "address"}
_LINE_FIELDS = {"description", "quantity", "unit_price", "tax_rate", "discount_pct"}


_MULTILINE_CONTROLS = frozenset("\n\t")
# Lone UTF-16 halves: valid in a Python (and a JSON "\ud800") string, not encodable as UTF-8.
_SURROGATE_FIRST, _SURROGATE_LAST = "\ud800", "\udfff"


def _is_control(ch: str) -> bool:
    """C0 and C1 controls, DEL, and the Unicode line and paragraph separators."""
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def is_one_line(text: str) -> bool:
    """No control character and no lone surrogate: text a single-line field accepts."""
    return not any(_is_control(ch) or _SURROGATE_FIRST <= ch <= _SURROGATE_LAST for ch in text)


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ValidationFailed(Exception):
    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    company: str = ""
    address: str = ""


@dataclass(frozen=True)
class Submission:
    customer: Customer
    currency: str
    valid_until: dt.date
    notes: str
    template: str
    lines: tuple[LineInput, ...]
    draft: bool | None = None  # None: not said (a submission is sent, a revision is a draft)
    locale: str | None = DEFAULT_LOCALE  # BCP 47, one of SUPPORTED_LOCALES; None: not said


class _Checker:
    """Collects errors while reading fields, so that every problem is reported."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def keys(self, obj: dict, allowed: set[str], prefix: str) -> None:
        """Unknown fields, and fields given twice (see domain.jsontext): both are refused."""
        for key in sorted(set(obj) - allowed):
            self.fail(f"{prefix}{key}", "unknown field")
        for key in getattr(obj, "duplicate_keys", ()):
            self.fail(f"{prefix}{key}", "is given more than once")

    def text(self, obj: dict, key: str, field: str, *, required: bool, max_len: int,
             multiline: bool = False) -> str:
        """A string field, trimmed of spaces. Single-line fields (names, email) refuse every
        control character, even at an end: a line break in a name would become a new line in
        the email's text. Multi-line ones keep line breaks (CR LF and CR become LF) and tabs,
        and refuse the rest."""
        value = obj.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(field, "is required")
            return ""
        if not isinstance(value, str):
            self.fail(field, "must be a string")
            return ""
        if multiline:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        allowed = _MULTILINE_CONTROLS if multiline else frozenset()
        if any(_SURROGATE_FIRST <= ch <= _SURROGATE_LAST for ch in value):
            self.fail(field, "must be valid Unicode text (it holds a lone surrogate)")
        elif any(ch not in allowed and _is_control(ch) for ch in value):
            self.fail(field, "must not contain control characters" if multiline else
                      "must be one line, without line breaks, tabs or other control characters")
        elif len(value := value.strip()) > max_len:
            self.fail(field, f"must be at most {max_len} characters")
        return value

    def decimal(
        self, obj: dict, key: str, field: str, *, default: Decimal | None, minimum: Decimal,
        maximum: Decimal, places: int = 4, strictly_positive: bool = False,
    ) -> Decimal:
        value = obj.get(key)
        if value is None or value == "":
            if default is None:
                self.fail(field, "is required")
                return Decimal(0)
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            self.fail(field, "must be a decimal number such as \"12.50\"")
            return Decimal(0)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.fail(field, "must be a decimal number such as \"12.50\"")
            return Decimal(0)
        if not number.is_finite():
            self.fail(field, "must be a finite number")
            return Decimal(0)
        if strictly_positive and number <= 0:
            self.fail(field, "must be greater than 0")
        elif number < minimum:
            self.fail(field, f"must be at least {minimum}")
        elif number > maximum:
            self.fail(field, f"must be at most {maximum}")
        elif -number.as_tuple().exponent > places:
            self.fail(field, f"must have at most {places} decimal places")
        return number


def parse_submission(
    payload: Any, *, templates: Set[str], today: dt.date | None = None,
    default_locale: str | None = DEFAULT_LOCALE,
) -> Submission:
    """Validate `payload`; raise ValidationFailed listing every problem. A payload that names
    no locale gets `default_locale`: the service's LOCALE for a new quotation, None (keep
    the one it has) for a changed one."""
    today = today or dt.date.today()
    check = _Checker()
    if not isinstance(payload, dict):
        raise ValidationFailed([FieldError("", "the body must be a JSON object")])
    check.keys(payload, _TOP_FIELDS, "")

    customer_raw = payload.get("customer")
    if not isinstance(customer_raw, dict):
        check.fail("customer", "is required" if customer_raw is None else "must be an object")
        customer_raw = {}
    check.keys(customer_raw, _CUSTOMER_FIELDS, "customer.")
    customer = Customer(
        name=check.text(customer_raw, "name", "customer.name", required=True, max_len=200),
        email=check.text(customer_raw, "email", "customer.email", required=True, max_len=254),
        company=check.text(customer_raw, "company", "customer.company", required=False, max_len=200),
        address=check.text(customer_raw, "address", "customer.address", required=False,
                           max_len=1000, multiline=True),
    )
    if customer.email and not _EMAIL.match(customer.email):
        check.fail("customer.email", "must be an email address such as buyer@example.com")

    currency = payload.get("currency")
    if not currency:
        check.fail("currency", "is required")
        currency = "EUR"
    elif not isinstance(currency, str) or not is_known_currency(currency.strip().upper()):
        check.fail("currency", f"must be one of {', '.join(sorted(MINOR_UNITS))}")
        currency = "EUR"
    else:
        currency = currency.strip().upper()

    valid_until = today + dt.timedelta(days=DEFAULT_VALIDITY_DAYS)
    raw_date = payload.get("valid_until")
    if raw_date not in (None, ""):
        try:
            valid_until = dt.date.fromisoformat(str(raw_date))
        except ValueError:
            check.fail("valid_until", "must be a date in the form YYYY-MM-DD")
        else:
            if valid_until < today:
                check.fail("valid_until", "must not be in the past")
            elif valid_until > today + dt.timedelta(days=MAX_VALIDITY_DAYS):
                check.fail("valid_until", f"must be within {MAX_VALIDITY_DAYS} days")

    notes = check.text(payload, "notes", "notes", required=False, max_len=5000, multiline=True)
    template = check.text(payload, "template", "template", required=False, max_len=64) or "standard"
    if template not in templates:
        check.fail("template", f"must be one of {', '.join(sorted(templates))}")

    lines: list[LineInput] = []
    raw_lines = payload.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        check.fail("lines", "must be a list with at least one line")
        raw_lines = []
    elif len(raw_lines) > MAX_LINES:
        check.fail("lines", f"must have at most {MAX_LINES} lines")
        raw_lines = []
    for i, raw in enumerate(raw_lines):
        prefix = f"lines[{i}]"
        if not isinstance(raw, dict):
            check.fail(prefix, "must be an object")
            continue
        check.keys(raw, _LINE_FIELDS, f"{prefix}.")
        percent = {"minimum": Decimal(0), "maximum": Decimal(100), "default": Decimal(0)}
        lines.append(LineInput(
            description=check.text(raw, "description", f"{prefix}.description", required=True,
                                   max_len=1000, multiline=True),
            quantity=check.decimal(raw, "quantity", f"{prefix}.quantity", default=None,
                                   minimum=Decimal(0), maximum=MAX_QUANTITY,
                                   strictly_positive=True),
            unit_price=check.decimal(raw, "unit_price", f"{prefix}.unit_price", default=None,
                                     minimum=Decimal(0), maximum=MAX_PRICE),
            tax_rate=check.decimal(raw, "tax_rate", f"{prefix}.tax_rate", **percent),
            discount_pct=check.decimal(raw, "discount_pct", f"{prefix}.discount_pct", **percent),
        ))

    draft = payload.get("draft")
    if draft is not None and not isinstance(draft, bool):
        check.fail("draft", "must be true or false")

    locale = default_locale
    raw_locale = payload.get("locale")
    if raw_locale not in (None, ""):
        locale = canonical(raw_locale) or ""
        if not locale:
            check.fail("locale", f"must be one of {', '.join(SUPPORTED_LOCALES)}")

    if check.errors:
        raise ValidationFailed(check.errors)
    return Submission(customer, currency, valid_until, notes, template, tuple(lines), draft,
                      locale)


@dataclass(frozen=True)
class Answer:
    """A customer's answer to a quotation: who gives it, and what they add."""

    name: str
    comment: str


def parse_answer(form: Any) -> Answer:
    """The answer form (`name` required, on one line; `comment` optional); raise
    ValidationFailed listing the problems."""
    check = _Checker()
    fields = {key: form.get(key) for key in ("name", "comment")}
    answer = Answer(
        name=check.text(fields, "name", "name", required=True, max_len=200),
        comment=check.text(fields, "comment", "comment", required=False, max_len=2000,
                           multiline=True))
    if check.errors:
        raise ValidationFailed(check.errors)
    return answer
