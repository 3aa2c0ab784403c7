"""What a failed attempt leaves behind.

Each failed attempt is a job_failures row (procrastinate keeps no error). On the quotation it
is an `attempt_failed` event, or after the last attempt the quotation is `failed`, naming the
step and the cause, and a send's delivery is ended (`failed`, or `unknown` when its request may
have left).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import psycopg
from procrastinate.jobs import Job
from psycopg_pool import ConnectionPool

from quote_service import db, pipeline, queue
from quote_service.deliver.step import fail_delivery

logger = logging.getLogger("quote_service.jobs")


def _end_delivery(conn: psycopg.Connection, job: Job, error: str) -> None:
    fail_delivery(conn, job.task_kwargs["delivery_id"], error, job.id)


# The pipeline's tasks: the step each one runs, and what else its last failure ends.
STEPS: dict[str, tuple[str, Callable[[psycopg.Connection, Job, str], None] | None]] = {
    queue.GENERATE_PDF.task_name: (pipeline.GENERATE, None),
    queue.SEND_QUOTATION.task_name: (pipeline.SEND, _end_delivery),
}

# Quotations still in a step whose latest job has ended failed: that job's last failure could
# not be recorded (or the job failed before its step ran).
ABANDONED_QUOTATIONS = """
SELECT j.id, j.task_name, j.args, j.attempts
FROM quotations q
JOIN LATERAL (
    SELECT id, task_name, args, attempts, status FROM procrastinate_jobs
    WHERE lock = 'quotation-' || q.id ORDER BY id DESC LIMIT 1
) j ON true
WHERE q.status IN ('queued', 'generating', 'delivering') AND j.status = 'failed'
ORDER BY q.id
"""


def describe(exc: BaseException) -> str:
    """The error as recorded and shown: `ConversionError: soffice exited with status 1`."""
    return f"{type(exc).__name__}: {exc}".strip()


def record_failure(conn: psycopg.Connection, job: Job, error: str, traceback: str, *,
                   last: bool) -> None:
    """Record a failed attempt of `job` (`job.attempts` counts the attempts before it)."""
    quotation_id = job.task_kwargs.get("quotation_id")
    attempt = job.attempts + 1
    pipeline.record_attempt_failure(conn, job_id=job.id, task_name=job.task_name,
                                    attempt=attempt, quotation_id=quotation_id, error=error,
                                    traceback=traceback)
    if job.task_name not in STEPS:
        return
    if last:
        fail_quotation(conn, job, error)
    else:
        pipeline.event(conn, quotation_id, "attempt_failed", job_id=job.id,
                       step=STEPS[job.task_name][0], attempt=attempt, error=error)


def fail_quotation(conn: psycopg.Connection, job: Job, error: str) -> None:
    """The last attempt of a pipeline job failed: its quotation is `failed`, and what else
    its step started is ended."""
    step, end = STEPS[job.task_name]
    pipeline.mark_failed(conn, job.task_kwargs["quotation_id"], step, error, job.id)
    if end is not None:
        end(conn, job, error)


def fail_abandoned_quotations(pool: ConnectionPool) -> int:
    """Mark `failed` the quotations left in a step by a job that ended failed without it being
    recorded (see jobs.tasks: recording a last failure can itself fail); return how many."""
    with db.transaction(pool) as conn:
        rows = conn.execute(ABANDONED_QUOTATIONS).fetchall()
    failed = 0
    for job_id, task_name, args, attempts in rows:
        if task_name not in STEPS:
            continue
        job = Job(id=job_id, queue="", lock=None, queueing_lock=None, task_name=task_name,
                  task_kwargs=args, attempts=attempts)
        error = (f"JobFailed: job {job_id} failed after {attempts} "
                 f"attempt{'' if attempts == 1 else 's'} and its failure could not be "
                 "recorded; see the worker's log")
        try:
            with db.transaction(pool) as conn:
                if _still_abandoned(conn, job):
                    fail_quotation(conn, job, error)
                    failed += 1
        except Exception:
            logger.exception("could not mark the quotation of failed job %s failed", job_id,
                             extra={"job_id": job_id})
    return failed


def _still_abandoned(conn: psycopg.Connection, job: Job) -> bool:
    """Under the quotation's lock: still in a step, and no job of it waiting or running."""
    quotation = pipeline.lock_quotation(conn, job.task_kwargs["quotation_id"])
    lock = queue.quotation_lock(quotation.id)
    return (quotation.status in ("queued", "generating", "delivering")
            and db.fetch_one(conn, "active_job_for_lock", lock=lock) is None)
