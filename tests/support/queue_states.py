"""Queue states built for the dashboard, metrics and SQL tests, through the same functions and
SQL that the web process and the workers use: submissions through `submit`, pipeline records
through `quote_service.pipeline`, and job transitions through procrastinate's own functions
and triggers (a worker taking a job is `status = 'doing'`, as procrastinate_fetch_job does)."""

from __future__ import annotations

import datetime as dt

import psycopg

from quote_service import pipeline
from quote_service.deliver.storage.base import StoredObject
from quote_service.domain.model import Quotation
from quote_service.domain.validation import parse_submission
from quote_service.services import Services
from quote_service.submit.service import submit
from tests.samples import sample_payload, submitter_id

CSRF = "test-csrf-token"


def with_csrf(client) -> None:
    """Give the test client's session a known CSRF token, for posting forms."""
    with client.session_transaction() as session:
        session["csrf"] = CSRF


def new_quotation(services: Services, **overrides) -> Quotation:
    submission = parse_submission(sample_payload(**overrides), templates={"standard"})
    return submit(services.pool, submission, user_id=submitter_id(services.pool)).quotation


def latest_job(conn: psycopg.Connection, quotation_id: int) -> dict:
    row = conn.execute(
        "SELECT id, task_name, status::text, attempts, args FROM procrastinate_jobs "
        "WHERE lock = %s ORDER BY id DESC LIMIT 1", (f"quotation-{quotation_id}",)).fetchone()
    return dict(zip(("id", "task_name", "status", "attempts", "args"), row, strict=True))


def job_status(conn: psycopg.Connection, job_id: int) -> str | None:
    row = conn.execute("SELECT status::text FROM procrastinate_jobs WHERE id = %s",
                       (job_id,)).fetchone()
    return row[0] if row else None


def quotation_status(conn: psycopg.Connection, quotation_id: int) -> str:
    return conn.execute("SELECT status FROM quotations WHERE id = %s",
                        (quotation_id,)).fetchone()[0]


def add_worker(conn: psycopg.Connection, heartbeat_seconds_ago: float = 0) -> int:
    return conn.execute(
        "INSERT INTO procrastinate_workers (last_heartbeat) "
        "VALUES (now() - make_interval(secs => %s)) RETURNING id",
        (heartbeat_seconds_ago,)).fetchone()[0]


def describe_worker(conn: psycopg.Connection, worker_id: int, *, host: str, pid: int,
                    queues: list[str] | None = None, concurrency: int = 1) -> None:
    """What a worker of jobs.worker writes about itself when it registers."""
    conn.execute("INSERT INTO worker_processes (worker_id, host, pid, queues, concurrency, "
                 "started_at) VALUES (%s, %s, %s, %s, %s, now() - interval '1 hour')",
                 (worker_id, host, pid, queues, concurrency))


def start_job(conn: psycopg.Connection, job_id: int, worker_id: int | None = None) -> None:
    conn.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = %s",
                 (worker_id, job_id))


def finish_job(conn: psycopg.Connection, job_id: int, status: str = "succeeded") -> None:
    conn.execute("SELECT procrastinate_finish_job_v1(%s, %s, false)", (job_id, status))


def fail_last_attempt(conn: psycopg.Connection, quotation_id: int, job_id: int, *,
                      error: str, traceback: str = "", step: str = pipeline.GENERATE,
                      task_name: str = "generate_pdf") -> None:
    """What jobs.tasks records when a job's last attempt fails, then procrastinate's end."""
    start_job(conn, job_id)
    pipeline.record_attempt_failure(conn, job_id=job_id, task_name=task_name, attempt=1,
                                    quotation_id=quotation_id, error=error, traceback=traceback)
    pipeline.mark_failed(conn, quotation_id, step, error, job_id)
    finish_job(conn, job_id, "failed")


def store_pdf(conn: psycopg.Connection, quotation_id: int, job_id: int) -> int:
    """generate_pdf succeeding: the PDF recorded and the delivery job deferred; return the
    delivery's id."""
    start_job(conn, job_id)
    quotation = pipeline.begin_generation(conn, quotation_id, job_id)
    assert quotation is not None
    delivery = pipeline.record_pdf(
        conn, quotation, StoredObject(f"quotations/{quotation.number}.pdf", "0" * 64, 1234),
        job_id)
    finish_job(conn, job_id)
    return delivery.id


def shift_job_events(conn: psycopg.Connection, job_id: int, seconds_ago: float,
                     run_seconds: float = 0) -> None:
    """Move a job's history back in time: its events end `seconds_ago` seconds ago, and its
    last run lasted `run_seconds`."""
    conn.execute(
        "UPDATE procrastinate_events SET at = now() - make_interval(secs => CASE "
        "WHEN type IN ('succeeded', 'failed', 'deferred_for_retry') THEN %s ELSE %s END) "
        "WHERE job_id = %s", (seconds_ago, seconds_ago + run_seconds, job_id))


def mark_sent_after(conn: psycopg.Connection, quotation_id: int, seconds: float,
                    *, ago: float = 60) -> None:
    """A quotation submitted `seconds` before it was sent, `ago` seconds ago."""
    conn.execute(
        "UPDATE quotations SET status = 'sent', "
        "created_at = now() - make_interval(secs => %s), "
        "sent_at = now() - make_interval(secs => %s) WHERE id = %s",
        (ago + seconds, ago, quotation_id))


def record_conversion(conn: psycopg.Connection, quotation_id: int, seconds: float,
                      *, reused: bool = False) -> None:
    """A `generating` event followed `seconds` later by `pdf_stored`, as the step writes them."""
    conn.execute(
        "INSERT INTO quotation_events (quotation_id, kind, status, at, detail) VALUES "
        "(%(q)s, 'generating', 'generating', now() - make_interval(secs => %(s)s + 5), '{}'), "
        "(%(q)s, 'pdf_stored', 'delivering', now() - interval '5 seconds', "
        " jsonb_build_object('reused', %(reused)s::boolean))",
        {"q": quotation_id, "s": seconds, "reused": reused})


def now(conn: psycopg.Connection) -> dt.datetime:
    return conn.execute("SELECT now()").fetchone()[0]
