"""jobs.worker's additions to procrastinate's worker, each against a real worker running in
this process on the test's database: a late result of an attempt taken for lost is ignored, a
worker pruned as dead registers again, a job it was given without knowing is disowned, and it
says where it runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from jobs.connection import DatabaseLink, OutageTolerantConnector
from jobs.worker import App, Worker
from quote_service import pauses
from quote_service.demo import wait_until

pytestmark = pytest.mark.integration

BEAT = 0.2


@pytest.fixture
def app(database_url: str) -> App:
    """An App like jobs.app, with one task that waits for `gate`."""
    made = App(connector=OutageTolerantConnector(link=DatabaseLink(), conninfo=database_url))
    made.gate = threading.Event()

    @made.task(name="wait_for_gate", queue="tests")
    def wait_for_gate() -> str:
        made.gate.wait(30)
        return "passed"

    for queue_name in ("documents", "delivery"):
        made.task(name=f"noop_{queue_name}", queue=queue_name)(lambda: "done")
    return made


@contextlib.contextmanager
def running(app: App) -> Iterator[Worker]:
    """A worker on `app` in a thread of its own, stopped afterwards."""
    started = threading.Event()
    box: dict = {}

    async def main() -> None:
        async with app.open_async():
            box["worker"] = worker = app._worker(
                install_signal_handlers=False, update_heartbeat_interval=BEAT,
                fetch_job_polling_interval=0.1, concurrency=1)
            started.set()
            await worker.run()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by the test
            box["error"] = exc
            started.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    if "error" in box:
        raise box["error"]
    worker = box["worker"]
    assert wait_until(lambda: worker.worker_id is not None, 10)
    try:
        yield worker
    finally:
        app.gate.set()
        worker.stop()
        thread.join(15)
        assert "error" not in box, box.get("error")


def job_row(conn: psycopg.Connection, job_id: int) -> tuple:
    return conn.execute("SELECT status::text, attempts, worker_id FROM procrastinate_jobs "
                        "WHERE id = %s", (job_id,)).fetchone()


def test_a_result_that_comes_after_its_attempt_was_taken_for_lost_is_ignored(app, conn, caplog):
    with running(app):
        job_id = app.tasks["wait_for_gate"].defer()
        assert wait_until(lambda: job_row(conn, job_id)[0] == "doing", 10)
        # What the stalled-job check does to an attempt it takes for lost: retry the job.
        conn.execute("SELECT procrastinate_retry_job_v2(%s, now(), NULL, NULL, NULL)", (job_id,))
        app.gate.set()  # the first run ends now, late
        assert wait_until(lambda: job_row(conn, job_id)[:2] == ("succeeded", 2), 10)

    assert f"job {job_id} attempt 1 ended (succeeded) after it was taken for lost" in caplog.text
    events = [row[0] for row in conn.execute(
        "SELECT type::text FROM procrastinate_events WHERE job_id = %s ORDER BY id", (job_id,))]
    assert events.count("started") == 2 and events.count("succeeded") == 1


def test_a_worker_pruned_as_dead_registers_again_and_goes_on(app, conn, caplog):
    with running(app) as worker:
        first_id = worker.worker_id
        conn.execute("DELETE FROM procrastinate_workers WHERE id = %s", (first_id,))
        assert wait_until(lambda: worker.worker_id != first_id, 10)
        app.gate.set()
        job_id = app.tasks["wait_for_gate"].defer()
        assert wait_until(lambda: job_row(conn, job_id)[0] == "succeeded", 10)
        second_id = worker.worker_id
        assert job_row(conn, job_id)[2] == second_id
        [(host, pid)] = conn.execute("SELECT host, pid FROM workers").fetchall()

    assert (host, pid) == (socket.gethostname(), os.getpid())
    assert f"worker {first_id} was taken for dead" in caplog.text
    assert f"registered again as worker {second_id}" in caplog.text


def test_a_job_doing_under_the_worker_that_it_does_not_run_is_disowned(app, conn, caplog):
    with running(app) as worker:
        # A fetch whose answer was lost: the job is the worker's in the database only.
        job_id = conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status, worker_id) "
            "VALUES ('elsewhere', 'wait_for_gate', 'doing', %s) RETURNING id",
            (worker.worker_id,)).fetchone()[0]
        assert wait_until(lambda: job_row(conn, job_id)[2] is None, 10)
        assert job_row(conn, job_id)[:2] == ("doing", 0)  # for the stalled-job check now

    assert f"job {job_id} is doing under worker" in caplog.text


def test_the_workers_view_tells_where_each_worker_runs_and_what_it_runs(app, conn):
    with running(app) as worker:
        job_id = app.tasks["wait_for_gate"].defer()
        assert wait_until(lambda: job_row(conn, job_id)[0] == "doing", 10)
        worker_id = worker.worker_id
        [row] = conn.execute("SELECT worker_id, host, pid, queues, concurrency, jobs_running, "
                             "jobs, silent_for < interval '5 seconds' FROM workers").fetchall()

    assert row[:6] == (worker_id, socket.gethostname(), os.getpid(), None, 1, 1)
    assert row[6] == [{"job_id": job_id, "task_name": "wait_for_gate", "queue_name": "tests",
                       "attempt": 1, "quotation_id": None, "number": None}]
    assert row[7] is True


def test_a_paused_queue_is_left_alone_until_it_is_resumed(app, conn):
    conn.execute("INSERT INTO queue_pauses (queue_name, paused_by) VALUES ('documents', 'test')")
    with running(app):
        paused = app.tasks["noop_documents"].defer()
        other = app.tasks["noop_delivery"].defer()
        assert wait_until(lambda: job_row(conn, other)[0] == "succeeded", 10)
        time.sleep(1)
        assert job_row(conn, paused)[0] == "todo"
        resumed = time.monotonic()
        assert pauses.resume(conn, "documents")
        assert wait_until(lambda: job_row(conn, paused)[0] == "succeeded", 10)
        assert time.monotonic() - resumed < 1  # woken by the resume, not at the next poll
