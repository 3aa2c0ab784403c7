"""The quotation form: HTML form fields <-> the JSON API's payload, and errors back to fields.

The form posts flat names (`customer_name`, `lines-2-quantity`); the domain validates the same
payload dict as the JSON API, so both entry points share one set of rules. Validation errors
come back with payload paths (`lines[0].quantity`) and are mapped here to the input that
holds the value, so the page can show each message next to its field.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from quote_service.domain.model import Line, Quotation
from quote_service.domain.money import plain_number
from quote_service.domain.validation import MAX_LINES, FieldError

CUSTOMER_FIELDS = ("name", "email", "company", "address")
LINE_FIELDS = ("description", "quantity", "unit_price", "tax_rate", "discount_pct")
DEFAULT_CURRENCY = "EUR"
DEFAULT_TEMPLATE = "standard"
# Enough empty rows to start typing; "Add line" gives more.
INITIAL_ROWS = 1

_LINE_NAME = re.compile(r"^lines-([0-9]{1,4})-(\w+)$")
_LINE_PATH = re.compile(r"^lines\[([0-9]+)\](?:\.(\w+))?$")
_SUBMISSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# Where errors go that belong to no single input (`lines` as a whole, an unknown field).
LINES = "lines"
GENERAL = ""


def new_submission_id() -> str:
    """A fresh id per rendered form: resubmitting the same page must not create a second
    quotation, while a new form always may."""
    return secrets.token_urlsafe(16)


def valid_submission_id(value: str | None) -> str | None:
    return value if value and _SUBMISSION_ID.match(value) else None


def empty_line() -> dict[str, str]:
    return dict.fromkeys(LINE_FIELDS, "")


@dataclass
class QuotationForm:
    """What the user typed, kept verbatim (strings) so a re-rendered form shows it unchanged."""

    customer: dict[str, str] = field(default_factory=lambda: dict.fromkeys(CUSTOMER_FIELDS, ""))
    currency: str = DEFAULT_CURRENCY
    valid_until: str = ""
    notes: str = ""
    template: str = DEFAULT_TEMPLATE
    locale: str = ""  # empty: the service's LOCALE
    lines: list[dict[str, str]] = field(
        default_factory=lambda: [empty_line() for _ in range(INITIAL_ROWS)]
    )
    submission_id: str = field(default_factory=new_submission_id)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> QuotationForm:
        """Read a posted form. Row numbers may have gaps (rows removed in the browser): rows
        are kept in the order of their numbers and renumbered from 0."""
        rows: dict[int, dict[str, str]] = {}
        for name in form:
            match = _LINE_NAME.match(name)
            if match and match.group(2) in LINE_FIELDS:
                rows.setdefault(int(match.group(1)), empty_line())[match.group(2)] = _text(
                    form.get(name))
        lines = [rows[index] for index in sorted(rows)][:MAX_LINES + 1]
        return cls(
            customer={name: _text(form.get(f"customer_{name}")) for name in CUSTOMER_FIELDS},
            currency=_text(form.get("currency")) or DEFAULT_CURRENCY,
            valid_until=_text(form.get("valid_until")),
            notes=_text(form.get("notes")),
            template=_text(form.get("template")) or DEFAULT_TEMPLATE,
            locale=_text(form.get("locale")),
            lines=lines or [empty_line()],
            submission_id=valid_submission_id(form.get("submission_id")) or new_submission_id(),
        )

    @classmethod
    def from_quotation(cls, quotation: Quotation, lines: Iterable[Line]) -> QuotationForm:
        """A stored quotation's body, for editing it or starting its next version."""
        return cls(
            customer={"name": quotation.customer_name, "email": quotation.customer_email,
                      "company": quotation.customer_company,
                      "address": quotation.customer_address},
            currency=quotation.currency, valid_until=quotation.valid_until.isoformat(),
            notes=quotation.notes, template=quotation.template, locale=quotation.locale,
            lines=[{"description": line.description, "quantity": plain_number(line.quantity),
                    "unit_price": plain_number(line.unit_price),
                    "tax_rate": plain_number(line.tax_rate),
                    "discount_pct": plain_number(line.discount_pct)} for line in lines]
            or [empty_line()])

    def add_line(self) -> None:
        if len(self.lines) < MAX_LINES:
            self.lines.append(empty_line())

    def remove_line(self, index: int) -> None:
        """Remove row `index`; the form always keeps one row to type into."""
        if 0 <= index < len(self.lines):
            del self.lines[index]
        if not self.lines:
            self.lines.append(empty_line())

    def filled_rows(self) -> list[int]:
        """Indexes of the rows that hold anything: blank rows are left-over space, not lines."""
        return [i for i, line in enumerate(self.lines) if any(v.strip() for v in line.values())]

    def to_payload(self, *, draft: bool | None = None) -> dict[str, Any]:
        """The same dict the JSON API accepts. Empty strings stand for "not given": the domain
        applies its defaults (validity, tax rate, discount) or reports a required field."""
        return {
            "customer": dict(self.customer),
            "currency": self.currency,
            "valid_until": self.valid_until.strip(),
            "notes": self.notes,
            "template": self.template,
            "locale": self.locale.strip(),
            "lines": [dict(self.lines[i]) for i in self.filled_rows()],
            **({} if draft is None else {"draft": draft}),
        }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def input_name(path: str, row_of_line: list[int]) -> str:
    """The form input for a payload path: `customer.name` -> `customer_name`,
    `lines[1].quantity` -> `lines-<row>-quantity` (the row that produced payload line 1),
    `lines[1]` -> `lines-<row>`; anything else -> `lines` or the general summary."""
    if path.startswith("customer.") and path.removeprefix("customer.") in CUSTOMER_FIELDS:
        return "customer_" + path.removeprefix("customer.")
    if path in ("currency", "valid_until", "notes", "template", "locale", LINES):
        return path
    match = _LINE_PATH.match(path)
    if match:
        index = int(match.group(1))
        if index >= len(row_of_line):
            return LINES
        row = row_of_line[index]
        name = match.group(2)
        if name is None:
            return f"lines-{row}"
        return f"lines-{row}-{name}" if name in LINE_FIELDS else f"lines-{row}"
    return GENERAL


def errors_by_input(errors: Iterable[FieldError], row_of_line: list[int]
                    ) -> dict[str, list[str]]:
    """Group validation messages by the input they belong to."""
    grouped: dict[str, list[str]] = {}
    for error in errors:
        grouped.setdefault(input_name(error.field, row_of_line), []).append(error.message)
    return grouped


FIELD_LABELS = {
    "customer_name": "Customer name",
    "customer_email": "Email",
    "customer_company": "Company",
    "customer_address": "Address",
    "currency": "Currency",
    "valid_until": "Valid until",
    "notes": "Notes",
    "template": "Template",
    "locale": "Language and formats",
    LINES: "Line items",
    "description": "description",
    "quantity": "quantity",
    "unit_price": "unit price",
    "tax_rate": "tax %",
    "discount_pct": "discount %",
}


def label_for(name: str) -> str:
    """A human label for an input name, used in the error summary (`Line 2 quantity`)."""
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    match = re.match(r"^lines-([0-9]+)(?:-(\w+))?$", name)
    if match:
        row = int(match.group(1)) + 1
        part = match.group(2)
        return f"Line {row} {FIELD_LABELS.get(part, part)}" if part else f"Line {row}"
    return "Form"
