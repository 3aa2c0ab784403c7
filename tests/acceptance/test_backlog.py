"""A backlog of PDFs starves nothing. One worker on every queue, as `quote-service demo` and
a small installation run it, with 300 quotations waiting: the emails of the PDFs it makes go
out as it goes (a quotation's next step outranks the next quotation's first), and a killed
worker's job is recovered meanwhile (the stalled-job check runs beside the jobs, not among
them)."""

from __future__ import annotations

import os
import signal

import pytest

from tests.support.outages import count, gated_soffice, query, wait_for
from tests.support.queue_states import new_quotation

pytestmark = pytest.mark.acceptance

BACKLOG = 300
FAST_RECOVERY = {"WORKER_HEARTBEAT_SECONDS": "1", "STALLED_WORKER_SECONDS": "3",
                 "STALLED_CHECK_SECONDS": "1"}


def test_emails_go_out_and_a_dead_workers_job_is_recovered_while_a_backlog_drains(
        stack, services, settings, tmp_path):
    url = settings.database_url
    soffice, converting, _ = gated_soffice(tmp_path)  # never released: it converts forever
    stack.env.update(FAST_RECOVERY)
    doomed = stack.start_worker(name="doomed", CONVERTER="soffice", SOFFICE_PATH=str(soffice))
    first = new_quotation(services)
    wait_for(converting.exists, 60, stack.all_logs)
    for _ in range(BACKLOG - 1):
        new_quotation(services)
    stack.start_worker("--concurrency", "2", name="worker", CONVERTER="unoserver",
                       CONVERTER_SLOTS="2")

    def waiting() -> int:
        return count(url, "SELECT count(*) FROM quotations WHERE pdf_key IS NULL")

    def sent() -> int:
        return count(url, "SELECT count(*) FROM quotations WHERE status = 'sent'")

    wait_for(lambda: sent() >= 20, 120, stack.all_logs)
    assert waiting() >= BACKLOG - 60  # emails went out with most of the backlog still there

    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    stack.processes.remove(doomed)
    wait_for(lambda: count(url, "SELECT count(*) FROM quotations "
                                "WHERE id = %s AND status = 'sent'", first.id) == 1,
             60, stack.all_logs)
    assert waiting() >= BACKLOG / 2  # recovered long before the backlog is done
    [(error,)] = query(url, "SELECT error FROM job_failures WHERE quotation_id = %s", first.id)
    assert error.startswith("WorkerLost: worker ")
