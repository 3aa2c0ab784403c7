"""The cold converter against a real LibreOffice: private profiles, timeouts, errors."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pypdf import PdfReader

from quote_service.generate.converter import ConversionError, ConversionTimeout
from quote_service.generate.converters import SofficeConverter
from quote_service.generate.document import render_docx, sample_context

pytestmark = pytest.mark.integration


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain `text` (zombies have no command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in command:
                found.append(command)
    return found


def first_page_text(pdf: bytes) -> str:
    return PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_two_parallel_conversions_both_succeed(tmp_path):
    converter = SofficeConverter(timeout=60, work_dir=tmp_path)
    contexts = [sample_context(2), sample_context(3)]
    contexts[0]["customer"]["name"] = "First Customer"
    contexts[1]["customer"]["name"] = "Second Customer"

    with ThreadPoolExecutor(2) as pool:
        pdfs = list(pool.map(lambda c: converter.convert(render_docx(c)), contexts))

    assert "First Customer" in first_page_text(pdfs[0])
    assert "Second Customer" in first_page_text(pdfs[1])
    assert list(tmp_path.iterdir()) == []  # profiles and files cleaned up
    assert processes_mentioning(str(tmp_path)) == []


def test_timeout_kills_the_whole_process_group(tmp_path):
    converter = SofficeConverter(timeout=60, work_dir=tmp_path, grace=1)

    with pytest.raises(ConversionTimeout, match="did not finish within 0.5 s"):
        converter.convert(render_docx(sample_context(135)), timeout=0.5)

    # soffice.bin and oosplash carried the private profile path in their command lines.
    assert processes_mentioning(str(tmp_path)) == []
    assert list(tmp_path.iterdir()) == []


def test_missing_executable_is_a_conversion_error(tmp_path):
    converter = SofficeConverter(soffice_path=str(tmp_path / "no-soffice"))
    with pytest.raises(ConversionError, match="cannot start"):
        converter.convert(render_docx(sample_context(1)))


def test_unreadable_document_reports_soffice_stderr(tmp_path):
    converter = SofficeConverter(timeout=60, work_dir=tmp_path)

    with pytest.raises(ConversionError, match="source file could not be loaded"):
        converter.convert(b"PK\x03\x04 a damaged archive")
