"""Fill a DOCX template with a quotation's context.

Customers type `&`, `<`, quotes and even `{{ ... }}` into their names and notes; all of it must
come out verbatim. docxtpl's default renders with autoescape off (lxml then silently drops what
is not valid XML) and with an environment in which a template can run code, so rendering here
always uses a sandboxed, autoescaping Jinja environment. Templates are chosen by name among the
files in `docx_templates/`, never by path.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from docxtpl import DocxTemplate
from jinja2.sandbox import SandboxedEnvironment

from quote_service.config import PROJECT_ROOT
from quote_service.domain.locales import DEFAULT_LOCALE
from quote_service.domain.pricing import LineInput, price_lines
from quote_service.generate.context import framing_context, line_context, totals_context

TEMPLATES_DIR = PROJECT_ROOT / "docx_templates"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# XML 1.0 forbids most C0 controls; docxtpl turns \a and \f in data into paragraph and page breaks.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class DocumentError(Exception):
    """The DOCX could not be rendered (unknown template or a template error); not retryable."""


def available_templates(templates_dir: Path = TEMPLATES_DIR) -> frozenset[str]:
    """Names that `render_docx` accepts: the `.docx` files of the templates folder. Every
    submission asks; the folder is listed again only when it changed (its mtime moves when a
    file is added, removed or renamed), so a request costs one stat, not a directory scan."""
    return _listing(templates_dir, templates_dir.stat().st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _listing(templates_dir: Path, mtime_ns: int) -> frozenset[str]:
    return frozenset(path.stem for path in templates_dir.glob("*.docx")
                     if path.is_file() and _NAME.fullmatch(path.stem))


def template_path(template: str, templates_dir: Path = TEMPLATES_DIR) -> Path:
    """The file of a template name; anything else than a listed name is refused."""
    if not isinstance(template, str) or template not in available_templates(templates_dir):
        raise DocumentError(f"unknown template {template!r}")
    return templates_dir / f"{template}.docx"


def _clean(value: Any) -> Any:
    """Normalise line ends and drop control characters that would corrupt the XML."""
    if isinstance(value, str):
        return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


# docxtpl cleans up and compiles the same XML of the same template for every document: that was
# about half of a render (docs/benchmarks.md), in the worker's one Python thread that all its
# conversions share. Both results depend on the XML alone, so each is kept per process, for the
# few parts (body, headers, footers) of the few templates there are.
_CACHED_SOURCES = 256


class _Environment(SandboxedEnvironment):
    """Sandboxed (no attribute tricks), strict about missing keys, and compiling each template
    source once. Autoescaping for the XML parts; not for the document's properties (title,
    subject...), which are plain text that python-docx escapes itself when it writes them:
    escaped twice, `Smith & Sons` became `Smith &amp; Sons` in the PDF's metadata."""

    def __init__(self, *, autoescape: bool = True) -> None:
        super().__init__(autoescape=autoescape, undefined=jinja2.StrictUndefined)
        self._compiled: dict[str, jinja2.Template] = {}

    def from_string(self, source, globals=None, template_class=None):  # noqa: A002 (Jinja's)
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        found = self._compiled.get(source)
        if found is None:
            found = super().from_string(source)
            if len(self._compiled) >= _CACHED_SOURCES:
                self._compiled.clear()
            self._compiled[source] = found
        return found


class _Template(DocxTemplate):
    """docxtpl's template, cleaning up each distinct XML source once, and rendering the
    document's properties as the plain text they are."""

    _patched: dict[str, str] = {}

    def render_properties(self, context: dict[str, Any], jinja_env=None) -> None:
        super().render_properties(context, _text_environment())

    def patch_xml(self, src_xml: str) -> str:
        found = self._patched.get(src_xml)
        if found is None:
            found = super().patch_xml(src_xml)
            if len(self._patched) >= _CACHED_SOURCES:
                self._patched.clear()
            self._patched[src_xml] = found
        return found


@functools.cache
def _environment() -> _Environment:
    return _Environment()


@functools.cache
def _text_environment() -> _Environment:
    return _Environment(autoescape=False)


def render_docx(
    context: dict[str, Any], template: str = "standard", *, templates_dir: Path = TEMPLATES_DIR
) -> bytes:
    """Return the DOCX bytes of `template` filled with `context`; raise DocumentError."""
    path = template_path(template, templates_dir)
    document = _Template(path)
    try:
        document.render(_clean(context), jinja_env=_environment(), autoescape=True)
    except jinja2.TemplateError as exc:
        raise DocumentError(f"template {template!r} failed: {exc}") from exc
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


_PRODUCTS = [
    ("Industrial shelving unit, galvanised steel, 5 levels", "149.00"),
    ("Installation and anchoring on site (per unit)", "45.00"),
    ("Pallet racking beam pair 2700 mm, load class B\nincludes safety pins", "62.50"),
    ("Anti-slip floor mat 90 x 150 cm", "38.90"),
    ("Annual inspection visit with written report", "320.00"),
    ("Wire mesh decking panel 1000 x 1100 mm", "27.75"),
    ("Forklift-ready label set, 500 pieces", "19.99"),
]


def sample_context(lines: int = 3, locale: str = DEFAULT_LOCALE, *,
                   customer_name: str = "Dr. Ana Müller-Łukasiewicz") -> dict[str, Any]:
    """A realistic quotation context with `lines` line items, for tests and benchmarks, priced
    by the service's own rules (`price_lines`) and formatted as quotations are."""
    currency = "EUR"
    priced, totals = price_lines([
        LineInput(description=description, quantity=Decimal(position % 4 + 1),
                  unit_price=Decimal(price), discount_pct=Decimal(10 if position % 3 == 0 else 0),
                  tax_rate=Decimal(20 if position % 5 else 5))
        for position, (description, price) in enumerate(
            (_PRODUCTS[i % len(_PRODUCTS)] for i in range(lines)), start=1)
    ], currency)
    return {
        "company": {
            "name": "Northwind Supplies Ltd",
            "address_lines": ["12 Harbour Road", "Bristol BS1 4XX", "United Kingdom"],
        },
        **framing_context(locale, number="Q-2026-0001", currency=currency,
                          issued_on=dt.date(2026, 11, 28), valid_until=dt.date(2026, 12, 28),
                          customer_name=customer_name),
        "customer": {
            "name": customer_name,
            "company": "Smith & Sons <Ltd>",
            "email": "buyer@example.com",
            "address_lines": ["Hauptstraße 5", "10115 Berlin", "Germany"],
        },
        "lines": [line_context(line, currency, locale) for line in priced],
        **totals_context(totals, currency, locale),
        "notes_lines": [
            "Delivery within 10 working days of your order.",
            "",
            "Payment: 30 days net, bank transfer.",
        ],
    }
