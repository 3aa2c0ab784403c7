"""A worker on the warm pool stopped with SIGTERM (what systemd, Kubernetes and
supervisord send) leaves no LibreOffice behind: the pool's instances run in process
groups of their own, so only the worker's exit handler can stop them."""

from __future__ import annotations

import contextlib
import os
import signal

import psycopg
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


def test_a_worker_that_stops_on_an_error_exits_non_zero(stack, settings):
    """A supervisor's `Restart=on-failure` must see it (procrastinate's own worker exits 0 when
    its heartbeat fails). The error here: the database refuses the heartbeat, which no waiting
    for the database will mend; the worker can still unregister."""
    worker = stack.start_worker(WORKER_HEARTBEAT_SECONDS="0.5", STALLED_WORKER_SECONDS="3")
    assert wait_until(lambda: "Starting worker" in stack.log("worker.log"), 30)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'heartbeats refused'; END $$")
        conn.execute("CREATE TRIGGER refuse BEFORE UPDATE ON procrastinate_workers "
                     "FOR EACH ROW EXECUTE FUNCTION refuse()")

    assert worker.wait(timeout=30) == 1, stack.log("worker.log")
    stack.processes.remove(worker)
    assert "the worker stopped on an error" in stack.log("worker.log")
