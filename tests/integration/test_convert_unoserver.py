"""The warm pool against real LibreOffice: slots, timeouts, restarts, shutdown, orphans."""

from __future__ import annotations

import dataclasses
import io
import logging
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
from pypdf import PdfReader

from quote_service.config import Settings
from quote_service.generate.converter import ConversionError, ConversionTimeout
from quote_service.generate.converters import (
    SofficeConverter,
    UnoserverConverter,
    make_converter,
)
from quote_service.generate.converters.process_group import group_members, office_pipes
from quote_service.generate.document import render_docx, sample_context
from tests.support.ports import free_port
from tests.support.processes import group_commands

pytestmark = pytest.mark.integration


def has_office(pgid: int) -> bool:
    return any("soffice.bin" in command for command in group_commands(pgid))


def customer_in(pdf: bytes) -> str:
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    return next(line for line in text.splitlines() if line.startswith("Customer "))


def quotation_for(name: str, lines: int = 2) -> bytes:
    context = sample_context(lines)
    context["customer"]["name"] = name
    return render_docx(context)


@pytest.fixture(scope="module")
def auto_pool():
    """CONVERTER=auto with LibreOffice and python3-uno present: a started two-slot pool."""
    settings = Settings(converter="auto", converter_slots=2, convert_timeout=30,
                        converter_base_port=free_port())
    converter = make_converter(settings)
    converter.wait_warm(60)  # both slots started, for the tests that use them
    yield converter
    converter.close()


def test_auto_starts_the_warm_pool(auto_pool):
    assert isinstance(auto_pool, UnoserverConverter)
    assert auto_pool.instances[0].running  # the first at once, the others in the background
    auto_pool.wait_warm(60)
    assert all(instance.running for instance in auto_pool.instances)
    ports = [instance.port for instance in auto_pool.instances]
    assert abs(ports[0] - ports[1]) >= 2  # each slot has its own XML-RPC and UNO port


def test_concurrent_conversions_use_both_slots(auto_pool):
    names = [f"Customer {i}" for i in range(6)]
    before = sum(instance.conversions for instance in auto_pool.instances)

    with ThreadPoolExecutor(3) as threads:
        pdfs = list(threads.map(lambda name: auto_pool.convert(quotation_for(name)), names))

    assert [customer_in(pdf) for pdf in pdfs] == names
    assert sum(instance.conversions for instance in auto_pool.instances) == before + 6
    assert all(instance.conversions > 0 for instance in auto_pool.instances)


def test_a_refused_document_is_an_error_and_the_instance_survives(auto_pool):
    pgids = {instance.pgid for instance in auto_pool.instances}

    with pytest.raises(ConversionError, match="refused the document"):
        auto_pool.convert(b"PK\x03\x04 a damaged archive")

    assert {instance.pgid for instance in auto_pool.instances} == pgids
    assert customer_in(auto_pool.convert(quotation_for("Customer after"))) == "Customer after"


def test_auto_falls_back_to_soffice_when_the_pool_cannot_start(caplog):
    settings = Settings(converter="auto", soffice_path="/nonexistent/soffice")
    with caplog.at_level(logging.WARNING):
        converter = make_converter(settings)
    assert isinstance(converter, SofficeConverter)
    assert "not found" in caplog.text


def test_explicit_choices_start_nothing():
    settings = Settings(converter="unoserver", converter_base_port=free_port())
    pool = make_converter(settings)
    assert isinstance(pool, UnoserverConverter)
    assert not any(instance.running for instance in pool.instances)
    pool.close()
    assert isinstance(make_converter(dataclasses.replace(settings, converter="soffice")),
                      SofficeConverter)


def test_timeout_kills_the_group_and_the_instance_comes_back(tmp_path):
    pool = UnoserverConverter(slots=1, timeout=30, base_port=free_port(), runtime_dir=tmp_path,
                              grace=1)
    try:
        pool.start()
        instance = pool.instances[0]
        hung = instance.pgid
        assert has_office(hung)

        with pytest.raises(ConversionTimeout, match="process group was killed"):
            pool.convert(quotation_for("Customer slow", lines=135), timeout=0.02)

        assert group_commands(hung) == []  # no soffice.bin, oosplash or unoserver left
        pdf = pool.convert(quotation_for("Customer next"))
        assert customer_in(pdf) == "Customer next"
        assert instance.pgid != hung and has_office(instance.pgid)
    finally:
        pool.close()


def test_restart_after_max_conversions_and_close_leaves_nothing(tmp_path):
    pool = UnoserverConverter(slots=1, timeout=30, max_conversions=2, base_port=free_port(),
                              runtime_dir=tmp_path)
    instance = pool.instances[0]
    try:
        assert customer_in(pool.convert(quotation_for("Customer 0"))) == "Customer 0"
        first = instance.pgid  # started lazily by the first conversion
        assert customer_in(pool.convert(quotation_for("Customer 1"))) == "Customer 1"
        assert customer_in(pool.convert(quotation_for("Customer 2"))) == "Customer 2"
        second = instance.pgid
        assert instance.conversions == 1  # the third ran on a fresh instance
        pipes = office_pipes(group_members(second))
        assert pipes and all(pipe.exists() for pipe in pipes)
        assert "Documents are loaded hidden." in (instance.folder / "server.log").read_text()
    finally:
        pool.close()

    assert first != second
    assert group_commands(first) == []
    assert group_commands(second) == []
    assert not instance.running
    assert not any(pipe.exists() for pipe in pipes)  # a killed office leaves its pipe behind
    assert not (instance.folder / "profile").exists()
    with pytest.raises(ConversionError, match="closed"):
        pool.convert(quotation_for("Customer late"))


ORPHAN_MAKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from quote_service.generate.converters import UnoserverConverter

    pool = UnoserverConverter(slots=1, base_port=int(sys.argv[1]), runtime_dir=Path(sys.argv[2]))
    pool.start()
    print(pool.instances[0].pgid, pool.instances[0].port, flush=True)
    sys.stdin.read()
""")


def test_a_later_pool_kills_the_orphans_of_a_killed_worker(tmp_path):
    base_port = free_port()
    with subprocess.Popen(
        [sys.executable, "-c", ORPHAN_MAKER, str(base_port), str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as worker:
        try:
            orphan, port = map(int, worker.stdout.readline().split())
        finally:
            worker.kill()  # SIGKILL: no chance to stop its LibreOffice
    assert has_office(orphan)

    pool = UnoserverConverter(slots=1, base_port=base_port, runtime_dir=tmp_path)
    try:
        pool.start()
        assert group_commands(orphan) == []
        assert pool.instances[0].port == port  # the same pair, reclaimed
        assert customer_in(pool.convert(quotation_for("Customer again"))) == "Customer again"
    finally:
        pool.close()
