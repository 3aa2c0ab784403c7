"""The DOCX -> PDF converter interface. Backends live in `quote_service.generate.converters`."""

from __future__ import annotations

from typing import Protocol


class ConversionError(Exception):
    """LibreOffice failed to produce a PDF; worth retrying."""


class ConversionTimeout(ConversionError):
    """The conversion ran past its timeout; the process group that ran it was killed."""


class Converter(Protocol):
    name: str

    def convert(self, docx: bytes) -> bytes:
        """Return the PDF for these DOCX bytes; raise ConversionError or ConversionTimeout."""

    def close(self) -> None:
        """Stop any LibreOffice process this converter started (whole process groups)."""
