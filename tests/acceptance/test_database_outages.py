"""Workers and the web server ride out their database going away, on a PostgreSQL server of
the test's own (tests.support.private_postgres), restarted and stopped while quotations flow.

Every quotation still ends sent, each emailed once; the web server answers 503 (never another
5xx) while the database is away; the workers stay up (same processes), say once that the
database is lost and once that it is back, and record what happened meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.samples import sample_payload
from tests.support.outages import (
    Submitter,
    assert_all_sent_once,
    count,
    database_answers,
    gated_soffice,
    query,
    sent,
    stack_on,
    wait_for,
)
from tests.support.private_postgres import PrivateCluster, private_cluster
from tests.support.stack import Stack

pytestmark = pytest.mark.acceptance

LOST = "database unreachable"
BACK = "database reachable again"


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as started:
        yield started


@pytest.fixture
def outage_stack(cluster: PrivateCluster, tmp_path: Path, test_password_hash: str
                 ) -> Iterator[Stack]:
    with stack_on(cluster, tmp_path, test_password_hash) as running:
        yield running


def generated(stack: Stack) -> int:
    return count(stack.database_url, "SELECT count(*) FROM quotations WHERE pdf_key IS NOT NULL")


def first_job_done_since_start(stack: Stack) -> float | None:
    """Seconds from the server's start to the first job that succeeded after it."""
    return query(stack.database_url,
                 "SELECT extract(epoch FROM min(at) - pg_postmaster_start_time())::float8 "
                 "FROM procrastinate_events WHERE type = 'succeeded' "
                 "AND at > pg_postmaster_start_time()")[0][0]


def lost_and_back(stack: Stack, name: str) -> tuple[int, int]:
    """How many times the worker logged that it lost the database, and that it was back."""
    log = stack.log(name, whole=True)
    return log.count(LOST), log.count(BACK)


def test_two_restarts_while_sixty_quotations_flow_through_two_workers(outage_stack, cluster,
                                                                       tmp_path):
    stack = outage_stack
    workers = [stack.start_worker(name=f"worker-{i}", CONVERTER_BASE_PORT=str(2300 + 40 * i))
               for i in range(2)]
    submitter = Submitter(stack, 60, pause=0.1)
    submitter.start()
    recoveries = []
    for threshold in (10, 35):  # PDFs stored: the workers are busy
        wait_for(lambda t=threshold: generated(stack) >= t, 120,
                 lambda: f"stalled at {generated(stack)} PDFs\n{stack.all_logs()}")
        cluster.restart()
        wait_for(lambda: first_job_done_since_start(stack) is not None, 60,
                 lambda: f"no job done after the restart\n{stack.all_logs()}")
        recoveries.append(first_job_done_since_start(stack))
    submitter.join(timeout=120)
    wait_for(lambda: sent(stack) == 60, 180,
             lambda: f"{sent(stack)} of 60 sent\n{stack.all_logs()}")

    assert set(submitter.statuses) <= {202, 503}, submitter.statuses
    assert len(set(submitter.accepted)) == 60
    assert_all_sent_once(stack, 60, tmp_path / "outbox")
    assert all(worker.poll() is None for worker in workers), stack.all_logs()
    for i in range(2):
        # A restart may go unnoticed: every statement found a new connection at once.
        lost, back = lost_and_back(stack, f"worker-{i}.log")
        assert lost <= 2 and back == lost, stack.log(f"worker-{i}.log")
    print(f"first job done {recoveries[0]:.2f} s and {recoveries[1]:.2f} s after each restart's "
          f"server start; {submitter.statuses.count(503)} submissions answered 503 and retried")


def test_database_stopped_two_minutes_mid_conversion(outage_stack, cluster, tmp_path):
    stack = outage_stack
    soffice, started, release = gated_soffice(tmp_path)
    worker = stack.start_worker(CONVERTER="soffice", SOFFICE_PATH=str(soffice))
    submitter = Submitter(stack, 5)
    submitter.start()
    submitter.join(timeout=60)
    wait_for(started.exists, 60, lambda: f"no conversion started\n{stack.all_logs()}")

    cluster.stop()
    stopped = time.monotonic()
    status, body = stack.post("/api/quotations", sample_payload())
    answered_in = time.monotonic() - stopped
    release.touch()  # the conversion ends while the database is away
    time.sleep(125 - (time.monotonic() - stopped))
    assert worker.poll() is None, stack.log("worker.log")
    cluster.start()
    restarted = time.monotonic()
    wait_for(lambda: database_answers(stack) and sent(stack) == 5, 90,
             lambda: f"not all sent after the outage\n{stack.all_logs()}")
    recovered_in = time.monotonic() - restarted

    assert (status, body["error"]) == (503, "the database is unavailable; try again shortly")
    assert_all_sent_once(stack, 5, tmp_path / "outbox")
    assert worker.poll() is None
    assert lost_and_back(stack, "worker.log") == (1, 1), stack.log("worker.log")
    # The attempt the outage broke is recorded, once the database was back.
    [(attempt, error, recorded_late)] = query(
        stack.database_url,
        "SELECT attempt, error, at > pg_postmaster_start_time() FROM job_failures")
    assert attempt == 1 and error.startswith("DatabaseUnavailable: ") and recorded_late, error
    status, _ = stack.post("/api/quotations", sample_payload())
    assert status == 202
    print(f"503 answered in {answered_in:.2f} s while stopped; all 5 sent {recovered_in:.1f} s "
          "after the server started again")


def test_a_job_that_ends_while_the_database_is_away_is_finished_when_it_is_back(
        outage_stack, cluster, tmp_path):
    """The step has written its result; procrastinate's own "succeeded" cannot be written. It
    is written when the database is back: the job is neither left `doing` nor retried."""
    stack = outage_stack
    soffice, started, release = gated_soffice(tmp_path)
    worker = stack.start_worker(CONVERTER="soffice", SOFFICE_PATH=str(soffice))
    status, body = stack.post("/api/quotations", sample_payload())
    assert status == 202
    wait_for(started.exists, 60, lambda: f"no conversion started\n{stack.all_logs()}")
    [(job_id,)] = query(stack.database_url, "SELECT id FROM procrastinate_jobs "
                                            "WHERE task_name = 'generate_pdf'")

    # Hold the job's row so that the worker's "succeeded" waits, while the step, which only
    # shares the row, writes its result.
    holder = psycopg.connect(stack.database_url)
    holder.execute("SELECT 1 FROM procrastinate_jobs WHERE id = %s FOR SHARE", (job_id,))
    release.touch()
    wait_for(lambda: count(stack.database_url, "SELECT count(*) FROM pg_stat_activity WHERE "
                           "wait_event_type = 'Lock' AND query LIKE '%%finish_job_v1%%'") == 1,
             60, lambda: f"the worker's finish never waited\n{stack.all_logs()}")
    assert count(stack.database_url, "SELECT count(*) FROM quotations "
                                     "WHERE status = 'delivering'") == 1
    cluster.stop()  # the held finish fails with the server's shutdown
    holder.close()
    time.sleep(20)
    cluster.start()
    wait_for(lambda: database_answers(stack) and sent(stack) == 1, 60,
             lambda: f"not sent after the outage\n{stack.all_logs()}")

    assert query(stack.database_url, "SELECT status::text, attempts FROM procrastinate_jobs "
                                     "WHERE id = %s", job_id) == [("succeeded", 1)]
    assert count(stack.database_url, "SELECT count(*) FROM job_failures") == 0
    assert_all_sent_once(stack, 1, tmp_path / "outbox")
    assert worker.poll() is None
    assert lost_and_back(stack, "worker.log") == (1, 1), stack.log("worker.log")


def test_a_worker_stopped_while_the_database_is_away_exits_without_waiting(outage_stack,
                                                                            cluster):
    """SIGTERM during an outage: the worker stops at once, non-zero (it could not unregister);
    a supervisor starts it again, and it waits for the database then."""
    stack = outage_stack
    worker = stack.start_worker(CONVERTER="soffice")
    wait_for(lambda: "Starting worker" in stack.log("worker.log"), 30, stack.all_logs)
    cluster.stop()
    wait_for(lambda: LOST in stack.log("worker.log"), 30, lambda: stack.log("worker.log"))
    stopping = time.monotonic()
    worker.terminate()

    assert worker.wait(timeout=30) == 1, stack.log("worker.log")
    assert time.monotonic() - stopping < 10
    stack.processes.remove(worker)
