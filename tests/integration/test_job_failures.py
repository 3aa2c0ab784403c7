"""Failed attempts and their records, from the worker's side: a step whose database lookup
fails, a job whose worker dies on every attempt (found by the stalled-job check through stale
heartbeats, as procrastinate's workers leave them), and a quotation whose job failed without
its failure being recorded.

Worker deaths are staged as test_dashboard_scenario stages queue states: a worker row whose
last heartbeat is old, and the job taken by it (`status = 'doing'`). The check then runs as a
worker runs it, with the job manager on the test's database."""

from __future__ import annotations

import asyncio
import time

import procrastinate
import pytest
from procrastinate.jobs import Job

from quote_service import db, pipeline
from tests.support.queue_states import (
    add_worker,
    finish_job,
    job_status,
    latest_job,
    new_quotation,
    quotation_status,
    start_job,
    store_pdf,
)

pytestmark = pytest.mark.integration

DEAD = 600  # seconds since a dead worker's last heartbeat


@pytest.fixture
def tasks(services, monkeypatch):
    """jobs.tasks, with its database the test's own (and the maintenance routines')."""
    from jobs import maintenance, tasks

    monkeypatch.setattr(tasks, "services", lambda: services)
    monkeypatch.setattr(maintenance, "services", lambda: services)
    return tasks


@pytest.fixture
def stalled_check(tasks, database_url):
    """Run the workers' stalled-job check once; return how many stalled jobs it settled."""
    from jobs import maintenance

    def run() -> int:
        async def check() -> int:
            connector = procrastinate.PsycopgConnector(conninfo=database_url)
            with tasks.app.replace_connector(connector) as app:
                async with app.open_async():
                    return (await maintenance.recover_stalled_jobs(app)).settled

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


def test_a_job_whose_worker_dies_on_every_attempt_ends_failed(tasks, services, conn,
                                                               stalled_check):
    q = new_quotation(services)
    job_id = latest_job(conn, q.id)["id"]
    max_attempts = tasks.settings.max_attempts
    for attempt in range(1, max_attempts + 1):
        worker = add_worker(conn, heartbeat_seconds_ago=DEAD)
        start_job(conn, job_id, worker)
        pipeline.begin_generation(conn, q.id, job_id)  # what the step records first
        assert stalled_check() == 1
        if attempt < max_attempts:
            assert (job_status(conn, job_id), quotation_status(conn, q.id)) == (
                "todo", "generating")

    error = f"WorkerLost: worker {worker} stopped sending heartbeats during attempt {max_attempts}"
    assert (job_status(conn, job_id), quotation_status(conn, q.id)) == ("failed", "failed")
    assert latest_job(conn, q.id)["attempts"] == max_attempts
    assert quotation_error(conn, q.id) == f"generate: {error}"
    assert [a for a, _ in failures(conn, job_id)] == list(range(1, max_attempts + 1))
    assert failures(conn, job_id)[-1] == (max_attempts, error)
    kinds = event_kinds(conn, q.id)
    assert kinds.count("attempt_failed") == max_attempts - 1 and kinds[-1] == "failed"
    assert stalled_check() == 0


def test_a_send_whose_worker_died_on_its_last_attempt_parks_the_email_as_unknown(
        tasks, services, conn, stalled_check):
    q = new_quotation(services)
    delivery_id = store_pdf(conn, q.id, latest_job(conn, q.id)["id"])
    job_id = latest_job(conn, q.id)["id"]
    conn.execute("UPDATE procrastinate_jobs SET attempts = %s WHERE id = %s",
                 (tasks.settings.max_attempts - 1, job_id))
    start_job(conn, job_id, add_worker(conn, heartbeat_seconds_ago=DEAD))
    pipeline.begin_sending(conn, pipeline.lock_delivery(conn, delivery_id), "sendgrid", job_id)

    assert stalled_check() == 1

    assert (job_status(conn, job_id), quotation_status(conn, q.id)) == ("failed", "failed")
    assert quotation_error(conn, q.id).startswith("send: WorkerLost: worker ")
    assert conn.execute("SELECT state FROM deliveries WHERE id = %s",
                        (delivery_id,)).fetchone()[0] == "unknown"


def test_a_stalled_job_that_moved_on_since_it_was_found_is_left_alone(tasks, services, conn,
                                                                      stalled_check):
    """Two passes overlapping: the second one's list is out of date."""
    from jobs import failures as job_failures

    q = new_quotation(services)
    row = latest_job(conn, q.id)
    dead = add_worker(conn, heartbeat_seconds_ago=DEAD)
    start_job(conn, row["id"], dead)
    found = job_of(latest_job(conn, q.id), worker_id=dead)
    assert stalled_check() == 1
    start_job(conn, row["id"], add_worker(conn))  # retried, and taken by a live worker

    assert not job_failures.settle_stalled_job(services.pool, found, tasks.retry_strategy)

    assert job_status(conn, row["id"]) == "doing"
    assert len(failures(conn, row["id"])) == 1


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
