"""Workers start jobs when they may, not at their next poll: an idle worker takes a job as soon
as the transaction that deferred it commits (LISTEN/NOTIFY, also when the job waited on its
quotation's lock), and a job retried "in N seconds" starts N seconds later, not at the next
5-second poll. Times are the database's own, from procrastinate_events."""

from __future__ import annotations

import statistics
import time

import psycopg
import pytest

from quote_service.demo import wait_until
from tests.samples import sample_payload

pytestmark = pytest.mark.acceptance

QUOTATIONS = 50


def pickups(conn: psycopg.Connection, task_name: str) -> list[float]:
    """Seconds from the moment each job could start to its start: its deferral, or for a job
    deferred by a job of the same quotation (the send, by the PDF's step), the end of that
    job, which held the quotation's lock until then."""
    return [row[0] for row in conn.execute(
        "SELECT extract(epoch FROM s.at - greatest(d.at, held.until))::float8 "
        "FROM procrastinate_jobs j "
        "JOIN procrastinate_events d ON d.job_id = j.id AND d.type = 'deferred' "
        "JOIN procrastinate_events s ON s.job_id = j.id AND s.type = 'started' "
        "LEFT JOIN LATERAL (SELECT max(e.at) AS until FROM procrastinate_jobs o "
        "    JOIN procrastinate_events e ON e.job_id = o.id AND e.type = 'succeeded' "
        "    WHERE o.lock = j.lock AND o.id < j.id) held ON true "
        "WHERE j.task_name = %s ORDER BY j.id", (task_name,))]


def test_idle_workers_on_both_queues_take_each_job_within_a_tenth_of_a_second(stack, conn):
    stack.start_web()
    stack.start_worker("--queues", "documents", name="documents", CONVERTER="unoserver")
    stack.start_worker("--queues", "delivery", name="delivery")
    assert wait_until(lambda: conn.execute("SELECT count(*) FROM workers").fetchone()[0] == 2,
                      30), stack.all_logs()
    time.sleep(1)  # both are listening: idle
    for _ in range(QUOTATIONS):  # one at a time: each finds both workers idle
        status, created = stack.post("/api/quotations", sample_payload())
        assert status == 202
        stack.wait_for(created["links"]["self"], lambda q: q["status"] == "sent", 60)

    for task in ("generate_pdf", "send_quotation"):
        waits = pickups(conn, task)
        assert len(waits) == QUOTATIONS
        assert max(waits) <= 0.1, (task, sorted(waits)[-5:], statistics.median(waits))
        print(f"{task}: median {statistics.median(waits) * 1000:.1f} ms, max {max(waits) * 1000:.1f} ms")


def test_retries_start_when_they_are_due(stack, conn):
    """Three attempts 1 s then 2 s apart (JOB_RETRY_BASE_SECONDS=1), each within half a
    second of when it was due."""
    stack.start_web()
    stack.start_worker(CONVERTER="soffice", SOFFICE_PATH="/bin/false", JOB_MAX_ATTEMPTS="3",
                       JOB_RETRY_BASE_SECONDS="1")
    _, created = stack.post("/api/quotations", sample_payload())
    stack.wait_for(created["links"]["self"], lambda q: q["status"] == "failed", 60)

    gaps = [row[0] for row in conn.execute(
        "SELECT extract(epoch FROM s.at - r.at)::float8 FROM procrastinate_events r "
        "JOIN LATERAL (SELECT min(at) AS at FROM procrastinate_events s "
        "              WHERE s.job_id = r.job_id AND s.type = 'started' AND s.at > r.at) s "
        "ON true WHERE r.type = 'deferred_for_retry' ORDER BY r.id")]
    assert len(gaps) == 2
    for gap, due in zip(gaps, (1.0, 2.0), strict=True):
        assert due <= gap + 0.01 and gap - due <= 0.5, gaps


def test_the_first_quotation_after_a_worker_starts_does_not_wait_for_libreoffice(stack, conn):
    """LibreOffice starts with the worker, and is ready once it answers (never after a fixed
    sleep): a quotation submitted 3 s after the worker process started is sent within 1.5 s."""
    stack.start_web()
    started = time.monotonic()
    stack.start_worker(CONVERTER="unoserver")
    time.sleep(3 - (time.monotonic() - started))
    _, created = stack.post("/api/quotations", sample_payload())
    stack.wait_for(created["links"]["self"], lambda q: q["status"] == "sent", 30)

    [(seconds,)] = conn.execute(
        "SELECT extract(epoch FROM sent_at - created_at)::float8 FROM quotations").fetchall()
    print(f"first quotation: submit to sent {seconds:.2f} s")
    assert seconds <= 1.5, stack.log("worker.log")
