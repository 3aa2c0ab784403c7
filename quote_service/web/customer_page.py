"""What every page for a quotation's customer shares: it speaks the quotation's language, and
it is never cached.

A customer reads the PDF and the emails in the quotation's locale (domain/locales.py), so the
page behind the email's link does too: its sentences are the `[page]` words of
quote_service/words/, its amounts and dates CLDR's. A page that has no quotation to go by (a
token that never existed, a link of the old kind) is in the service's LOCALE.

Templates get `say(key, **values)`: the catalog's sentence, escaped, with its places filled by
values that are escaped too unless they are markup the template built (a mailto link), so a
translator never writes HTML and a customer's name never becomes any.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Response, render_template
from markupsafe import Markup, escape

from quote_service.app import services
from quote_service.domain import locales
from quote_service.words import words_for


def customer_page(template: str, status: int, locale: str | None = None,
                  **context) -> Response:
    """`template` in `locale` (a quotation's; None: the service's LOCALE), with `say`, `words`
    and the locale's formatters; dates of timestamps are the day in TIME_ZONE."""
    settings = services().settings
    locale = locale or settings.locale
    words = words_for(locale, "page")
    zone = ZoneInfo(settings.time_zone)

    def say(key: str, **values) -> Markup:
        return Markup(escape(words[key])).format(**values)

    def day(value: dt.date | dt.datetime) -> str:
        if isinstance(value, dt.datetime):
            value = value.astimezone(zone).date()
        return locales.long_date(value, locale)

    body = render_template(
        template, status=status, company=settings.company_name, contact=settings.mail_from,
        lang=locale, say=say, words=words, day=day,
        money=lambda amount, currency: locales.money(amount, currency, locale),
        unit_price=lambda value, currency: locales.unit_price(value, currency, locale),
        number=lambda value: locales.number(value, locale),
        **context)
    response = Response(body, status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def link_unavailable(reason: str, status: int = 410, locale: str | None = None) -> Response:
    """The page a customer sees instead of the quotation: why, and how to get a new link."""
    return customer_page("link_unavailable.html", status, locale, reason=reason)
