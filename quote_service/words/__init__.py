"""The fixed words of the quotation document and of the emails, one catalog per language.

Each `<language>.toml` beside this file holds three tables, `[document]` (the DOCX template's
`{{ words.* }}`, see generate/context.py), `[email]` (deliver/email.py) and `[page]` (the
customer's page, web/customer_page.py). They are data, not
code, so a translator edits one file and a new language is a new file plus its locales in
domain/locales.py. Sentences are whole, with named places (`{total}`), because word order
differs between languages; every catalog has exactly the keys of the English one (a test checks).
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from quote_service.domain.locales import language

CATALOGS = Path(__file__).resolve().parent


@functools.cache
def catalog(lang: str) -> dict[str, dict[str, str]]:
    """The `[document]`, `[email]` and `[page]` tables of `lang` (`de`), read once per process."""
    with open(CATALOGS / f"{lang}.toml", "rb") as file:
        return tomllib.load(file)


def words_for(locale: str, part: str) -> dict[str, str]:
    """The `part` ("document", "email" or "page") words of `locale`'s language: `de-CH` reads `de`."""
    return catalog(language(locale))[part]
