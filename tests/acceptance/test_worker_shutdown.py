"""A worker on the warm pool stopped with SIGTERM (what systemd, Kubernetes and
supervisord send) leaves no LibreOffice behind: the pool's instances run in process
groups of their own, so only the worker's exit handler can stop them."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from quote_service.demo import wait_until
from tests.samples import sample_payload
from tests.support.ports import free_port
from tests.support.processes import descendants, live_processes

pytestmark = pytest.mark.acceptance


def test_sigterm_stops_the_warm_pool_with_the_worker(stack, tmp_path):
    stack.start_web()
    worker = stack.start_worker("--concurrency", "2", CONVERTER="unoserver", CONVERTER_SLOTS="2",
                                CONVERTER_BASE_PORT=str(free_port()),
                                TMPDIR=str(tmp_path))  # the pool's profiles and pid files
    _, created = stack.post("/api/quotations", sample_payload())
    stack.wait_for(created["links"]["self"], lambda q: q["status"] == "sent")
    started = descendants(worker.pid)
    # the warm instance that converted the PDF
    assert any("soffice.bin" in p.command for p in started.values()), started

    os.kill(worker.pid, signal.SIGTERM)  # the worker alone, not its process group
    assert worker.wait(timeout=30) == 0, stack.log("worker.log")
    stack.processes.remove(worker)

    try:
        assert wait_until(lambda: not started.keys() & live_processes().keys(), 5), {
            pid: live_processes().get(pid) for pid in started}
    finally:
        for pid in started.keys() & live_processes().keys():  # leave nothing behind when it fails
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert not list(tmp_path.glob("quote-service-*/libreoffice/*/profile"))
