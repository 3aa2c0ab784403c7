"""Converter backends and the factory that picks one from the settings.

`CONVERTER=unoserver` keeps LibreOffice warm (started when the worker starts, or on first use),
`soffice` starts it per document, and `auto` starts the warm pool's first instance right away
(the others follow in the background) and falls back to `soffice`, saying why in the log, when
it cannot (no python3-uno, no LibreOffice, no free port...).
"""

from __future__ import annotations

import logging

from quote_service.config import Settings
from quote_service.generate.converter import ConversionError, Converter
from quote_service.generate.converters.soffice import SofficeConverter
from quote_service.generate.converters.unoserver import UnoserverConverter

log = logging.getLogger(__name__)

__all__ = ["SofficeConverter", "UnoserverConverter", "make_converter"]


def make_converter(settings: Settings) -> Converter:
    """Build the converter named by `settings.converter`; the caller must `close()` it."""
    if settings.converter == "soffice":
        return SofficeConverter.from_settings(settings)
    pool = UnoserverConverter.from_settings(settings)
    if settings.converter == "unoserver":
        return pool
    try:
        pool.check()
        pool.warm_up()
    except ConversionError as exc:
        pool.close()
        log.warning("CONVERTER=auto: using soffice (one LibreOffice per document) because the "
                    "warm unoserver pool cannot start: %s", exc)
        return SofficeConverter.from_settings(settings)
    log.info("CONVERTER=auto: using the warm unoserver pool (%d slot(s))",
             settings.converter_slots)
    return pool
