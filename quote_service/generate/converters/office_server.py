"""Entry point of a pool instance: unoserver's server, loading documents hidden.

Run by the pool as `python -m quote_service.generate.converters.office_server ARGS`, with the
arguments of `unoserver` (this module must run under a Python that can `import uno`).

unoserver opens each document as a visible one, so LibreOffice builds a view and lays the
document out for it before exporting; loaded with `Hidden=True` the same PDF comes out about a
third faster (measured in docs/benchmarks.md). unoserver has no option for it, so its converter
is given a desktop whose `loadComponentFromURL` adds the property. If a future unoserver stops
looking its converter class up at start, documents are simply loaded visible again.
"""

from __future__ import annotations

import logging
import sys

import uno  # noqa: F401  (installs the import hook for the `com.sun.star` modules)
from com.sun.star.beans import PropertyValue
from unoserver import converter, server

log = logging.getLogger("unoserver")


class _HiddenDesktop:
    """The LibreOffice desktop, except that every document it loads is hidden."""

    def __init__(self, desktop) -> None:
        self._desktop = desktop

    def loadComponentFromURL(self, url, frame, flags, properties):  # noqa: N802 (UNO name)
        hidden = PropertyValue(Name="Hidden", Value=True)
        return self._desktop.loadComponentFromURL(url, frame, flags, (*properties, hidden))

    def __getattr__(self, name):
        return getattr(self._desktop, name)


class HiddenLoadingConverter(converter.UnoConverter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.desktop = _HiddenDesktop(self.desktop)
        log.info("Documents are loaded hidden.")


def main() -> int:
    converter.UnoConverter = HiddenLoadingConverter
    return server.main() or 0


if __name__ == "__main__":
    sys.exit(main())
