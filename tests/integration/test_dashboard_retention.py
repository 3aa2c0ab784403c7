"""Retention: the hourly routine removes finished jobs past JOB_RETENTION_HOURS and nothing
else."""

from __future__ import annotations

import asyncio

import procrastinate
import pytest

from tests.support.queue_states import (
    fail_last_attempt,
    finish_job,
    job_status,
    latest_job,
    new_quotation,
    shift_job_events,
    start_job,
    store_pdf,
)

pytestmark = pytest.mark.integration


def test_finished_jobs_past_the_retention_go_and_every_record_stays(database_url, services,
                                                                      conn, monkeypatch):
    from jobs import maintenance

    monkeypatch.setattr(maintenance, "services", lambda: services)
    sent = new_quotation(services)
    old_generate = latest_job(conn, sent.id)["id"]
    store_pdf(conn, sent.id, old_generate)
    old_send = latest_job(conn, sent.id)["id"]
    start_job(conn, old_send)
    finish_job(conn, old_send)
    failed = new_quotation(services)
    old_failed = latest_job(conn, failed.id)["id"]
    fail_last_attempt(conn, failed.id, old_failed, error="boom", traceback="Traceback ...")
    for job_id in (old_generate, old_send, old_failed):
        shift_job_events(conn, job_id, seconds_ago=(maintenance.settings.job_retention_hours + 1) * 3600)
    recent = new_quotation(services)
    recent_job = latest_job(conn, recent.id)["id"]
    store_pdf(conn, recent.id, recent_job)
    old_waiting = latest_job(conn, new_quotation(services).id)["id"]
    shift_job_events(conn, old_waiting, seconds_ago=1000 * 3600)
    records = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
               for table in ("quotations", "quotation_events", "deliveries", "job_failures")}

    connector = procrastinate.PsycopgConnector(conninfo=database_url)

    async def run_routine() -> None:
        with maintenance.app.replace_connector(connector) as app:
            async with app.open_async():
                await maintenance.delete_finished_jobs(app)

    asyncio.run(run_routine())

    assert [job_status(conn, j) for j in (old_generate, old_send, old_failed)] == [None] * 3
    assert conn.execute("SELECT count(*) FROM procrastinate_events WHERE job_id = ANY(%s)",
                        ([old_generate, old_send, old_failed],)).fetchone()[0] == 0
    assert job_status(conn, recent_job) == "succeeded"
    assert job_status(conn, old_waiting) == "todo"
    assert records == {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                       for table in records}


def test_it_runs_every_hour_as_a_workers_routine():
    from jobs import maintenance

    [routine] = [r for r in maintenance.app.maintenance if r.name == "delete_finished_jobs"]
    assert routine.every == 3600 and routine.run is maintenance.delete_finished_jobs


def test_the_retention_deletes_in_bounded_batches_and_resumes_where_it_stopped(services, conn):
    from quote_service import retention

    hours = 168
    old = []
    for _ in range(5):
        made = new_quotation(services)
        job_id = latest_job(conn, made.id)["id"]
        store_pdf(conn, made.id, job_id)
        shift_job_events(conn, job_id, seconds_ago=(hours + 1) * 3600)
        old.append(job_id)
    waiting = [latest_job(conn, q)["id"] for q in
               {row[0] for row in conn.execute("SELECT id FROM quotations").fetchall()}]
    # A pass cut short after its first batch: what it deleted is committed...
    conn.execute("DELETE FROM procrastinate_jobs WHERE id = ANY(%s)", (old[:2],))
    done = retention.delete_finished_jobs(services.pool, hours, batch=2)

    # ...and the next pass deletes the rest, two jobs looked at per transaction.
    assert done.deleted == 3
    jobs = conn.execute("SELECT count(*) FROM procrastinate_jobs").fetchone()[0]
    assert done.batches == -(-(jobs + 3) // 2)
    assert [job_status(conn, j) for j in old] == [None] * 5
    assert [job_status(conn, j) for j in waiting] == ["todo"] * len(waiting)
    assert retention.delete_finished_jobs(services.pool, hours, batch=2).deleted == 0
