"""Retention: the hourly task removes finished jobs past JOB_RETENTION_HOURS and nothing else."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

import croniter
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
                                                                      conn):
    from jobs import maintenance

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

    app = maintenance.app.with_connector(procrastinate.PsycopgConnector(conninfo=database_url))

    async def run_task() -> None:
        async with app.open_async():
            await maintenance.delete_finished_jobs(SimpleNamespace(app=app), timestamp=0)

    asyncio.run(run_task())

    assert [job_status(conn, j) for j in (old_generate, old_send, old_failed)] == [None] * 3
    assert conn.execute("SELECT count(*) FROM procrastinate_events WHERE job_id = ANY(%s)",
                        ([old_generate, old_send, old_failed],)).fetchone()[0] == 0
    assert job_status(conn, recent_job) == "succeeded"
    assert job_status(conn, old_waiting) == "todo"
    assert records == {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                       for table in records}


def test_it_runs_every_hour_on_the_maintenance_queue():
    from jobs import maintenance

    periodic = maintenance.app.periodic_registry.periodic_tasks[("delete_finished_jobs", "")]
    assert periodic.task.queue == "maintenance"
    start = dt.datetime(2026, 11, 28, 10, 30, 15, tzinfo=dt.UTC)
    runs = croniter.croniter(periodic.cron, start)  # how procrastinate reads the schedule
    assert [runs.get_next(dt.datetime) for _ in range(2)] == [
        dt.datetime(2026, 11, 28, 11, 7, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 28, 12, 7, tzinfo=dt.UTC)]
