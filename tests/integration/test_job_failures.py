"""Failed attempts and their records, from the worker's side: a step whose database lookup
fails, and a quotation whose job failed without its failure being recorded.

Queue states are staged as test_dashboard_scenario stages them. The periodic task runs as a
worker runs it, with procrastinate's job manager on the test's database."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import procrastinate
import pytest
from procrastinate.jobs import Job

from quote_service import db, pipeline
from tests.integration.test_dashboard_scenario import (
    finish_job,
    latest_job,
    new_quotation,
    quotation_status,
    start_job,
)

pytestmark = pytest.mark.integration

@pytest.fixture
def tasks(services, monkeypatch):
    """jobs.tasks, with its database the test's own."""
    from jobs import tasks

    monkeypatch.setattr(tasks, "services", lambda: services)
    return tasks


@pytest.fixture
def stalled_check(tasks, database_url):
    """Run the periodic `retry_stalled_jobs` once; return what it returns."""
    def run() -> int:
        async def check() -> int:
            connector = procrastinate.PsycopgConnector(conninfo=database_url)
            with tasks.app.replace_connector(connector) as app:
                async with app.open_async():
                    return await tasks.retry_stalled_jobs(SimpleNamespace(app=app), timestamp=0)

        return asyncio.run(check())

    return run


def job_of(row: dict, worker_id: int | None = None) -> Job:
    return Job(id=row["id"], queue="documents", lock=None, queueing_lock=None,
               task_name=row["task_name"], task_kwargs=row["args"], attempts=row["attempts"],
               worker_id=worker_id)


def failures(conn, job_id: int) -> list[tuple[int, str]]:
    return conn.execute("SELECT attempt, error FROM job_failures WHERE job_id = %s ORDER BY id",
                        (job_id,)).fetchall()


def event_kinds(conn, quotation_id: int) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT kind FROM quotation_events WHERE quotation_id = %s ORDER BY id",
        (quotation_id,))]


def quotation_error(conn, quotation_id: int) -> str:
    return conn.execute("SELECT last_error FROM quotations WHERE id = %s",
                        (quotation_id,)).fetchone()[0]


def test_a_database_error_looking_up_the_quotation_is_a_failed_attempt(tasks, services, conn,
                                                                       monkeypatch):
    q = new_quotation(services)
    row = latest_job(conn, q.id)
    start_job(conn, row["id"])
    real_fetch_one = db.fetch_one

    def connection_lost_on_lookup(connection, name, **params):
        if name == "get_quotation":
            raise db.DatabaseUnavailable("server closed the connection unexpectedly")
        return real_fetch_one(connection, name, **params)

    monkeypatch.setattr(db, "fetch_one", connection_lost_on_lookup)
    context = procrastinate.JobContext(app=tasks.app, job=job_of(row), start_timestamp=time.time(),
                                       abort_reason=lambda: None)

    with pytest.raises(db.DatabaseUnavailable):
        tasks.generate_pdf(context, quotation_id=q.id)

    assert failures(conn, row["id"]) == [
        (1, "DatabaseUnavailable: server closed the connection unexpectedly")]
    assert event_kinds(conn, q.id) == ["submitted", "attempt_failed"]


def test_a_quotation_whose_job_failed_unrecorded_is_marked_failed(services, conn,
                                                                  stalled_check):
    q = new_quotation(services)
    job_id = latest_job(conn, q.id)["id"]
    start_job(conn, job_id)
    pipeline.begin_generation(conn, q.id, job_id)
    finish_job(conn, job_id, "failed")  # its failure was not recorded
    waiting = new_quotation(services)

    stalled_check()

    assert quotation_status(conn, q.id) == "failed"
    assert quotation_error(conn, q.id) == (
        f"generate: JobFailed: job {job_id} failed after 1 attempt and its failure could not "
        "be recorded; see the worker's log")
    assert quotation_status(conn, waiting.id) == "queued"
