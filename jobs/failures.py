"""What a failed attempt leaves behind, however it failed: an exception in its step, or a
worker that died during it (found by its silent heartbeat).

Each failed attempt is a job_failures row (procrastinate keeps no error). On the quotation it
is an `attempt_failed` event, or after the last attempt the quotation is `failed`, naming the
step and the cause, and a send's delivery is ended (`failed`, or `unknown` when its request may
have left). A worker's death is an attempt like any other: a job that kills its worker every
time ends failed after its last attempt instead of looping.

A dead worker's job is retried or ended with procrastinate's own queries, on the connection
that records its failure and in the same transaction: the job and its quotation never disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psycopg
from procrastinate import BaseRetryStrategy
from procrastinate import sql as procrastinate_sql
from procrastinate.jobs import Job
from psycopg_pool import ConnectionPool

from quote_service import db, pipeline, queue
from quote_service.deliver.step import fail_delivery

logger = logging.getLogger("quote_service.jobs")


class WorkerLost(Exception):
    """The worker running the attempt stopped sending heartbeats: it died, or lost the
    database."""


def _end_delivery(conn: psycopg.Connection, job: Job, error: str) -> None:
    fail_delivery(conn, job.task_kwargs["delivery_id"], error, job.id)


@dataclass(frozen=True)
class Step:
    """What a task's failures touch: the step named in events and `last_error`, whether its
    last failure fails the quotation, and what else it ends."""

    name: str
    fails_quotation: bool
    end: Callable[[psycopg.Connection, Job, str], None] | None


# The pipeline's tasks. An email about an answer that cannot be sent ends failed itself; the
# quotation, answered, stays as it is.
STEPS: dict[str, Step] = {
    queue.GENERATE_PDF.task_name: Step(pipeline.GENERATE, True, None),
    queue.SEND_QUOTATION.task_name: Step(pipeline.SEND, True, _end_delivery),
    queue.SEND_ANSWER_EMAIL.task_name: Step("answer_email", False, _end_delivery),
}

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
                       step=STEPS[job.task_name].name, attempt=attempt, error=error)


def fail_quotation(conn: psycopg.Connection, job: Job, error: str) -> None:
    """The last attempt of a pipeline job failed: its quotation is `failed` (unless the step
    is about an answer), and what else its step started is ended."""
    step = STEPS[job.task_name]
    if step.fails_quotation:
        pipeline.mark_failed(conn, job.task_kwargs["quotation_id"], step.name, error, job.id)
    if step.end is not None:
        step.end(conn, job, error)


def settle_stalled_job(pool: ConnectionPool, job: Job, strategy: BaseRetryStrategy | None
                       ) -> bool:
    """Count the running attempt of a dead worker's job as failed, then retry the job or, after
    its last attempt, end it failed, as the task's retry strategy decides (a task without one
    is not retried, as procrastinate does after an exception). False when the job has moved
    on since it was found stalled."""
    if job.worker_id is None:  # pruned as dead, or disowned by a worker that lost track of it
        lost = WorkerLost(f"its worker was lost during attempt {job.attempts + 1}")
    else:
        lost = WorkerLost(f"worker {job.worker_id} stopped sending heartbeats during attempt "
                          f"{job.attempts + 1}")
    decision = strategy.get_retry_decision(exception=lost, job=job) if strategy else None
    with db.transaction(pool) as conn:
        if db.fetch_one(conn, "lock_attempt", id=job.id, attempts=job.attempts,
                        worker_id=job.worker_id) is None:
            return False
        record_failure(conn, job, describe(lost), "", last=decision is None)
        if decision is None:
            conn.execute(procrastinate_sql.queries["finish_job"],
                         {"job_id": job.id, "status": "failed", "delete_job": False})
        else:
            conn.execute(procrastinate_sql.queries["retry_job"],
                         {"job_id": job.id, "retry_at": decision.retry_at,
                          "new_priority": decision.priority, "new_queue_name": decision.queue,
                          "new_lock": decision.lock})
    logger.warning("job %s (%s): %s; %s", job.id, job.task_name, describe(lost),
                   "failed: that was its last attempt" if decision is None else "retried",
                   extra={"job_id": job.id})
    return True


def settle_stalled_jobs(pool: ConnectionPool, jobs: Iterable[Job],
                        strategy_of: Callable[[str], BaseRetryStrategy | None]) -> int:
    """Settle each stalled job in its own transaction; return how many were. One that cannot
    be settled is logged and stays stalled, for the next pass."""
    settled = 0
    for job in jobs:
        try:
            settled += settle_stalled_job(pool, job, strategy_of(job.task_name))
        except Exception:
            logger.exception("could not settle job %s (%s) of a dead worker", job.id,
                             job.task_name, extra={"job_id": job.id})
    return settled


def fail_abandoned_quotations(pool: ConnectionPool) -> int:
    """Mark `failed` the quotations left in a step by a job that ended failed without it being
    recorded (see jobs.tasks: recording a last failure can itself fail); return how many."""
    with db.transaction(pool) as conn:
        rows = db.fetch_all(conn, "abandoned_quotations")
    failed = 0
    for row in rows:
        if row["task_name"] not in STEPS:
            continue
        job = Job(id=row["id"], queue="", lock=None, queueing_lock=None,
                  task_name=row["task_name"], task_kwargs=row["args"], attempts=row["attempts"])
        error = (f"JobFailed: job {job.id} failed after {job.attempts} "
                 f"attempt{'' if job.attempts == 1 else 's'} and its failure could not be "
                 "recorded; see the worker's log")
        try:
            with db.transaction(pool) as conn:
                if _still_abandoned(conn, job):
                    fail_quotation(conn, job, error)
                    failed += 1
        except Exception:
            logger.exception("could not mark the quotation of failed job %s failed", job.id,
                             extra={"job_id": job.id})
    return failed


def _still_abandoned(conn: psycopg.Connection, job: Job) -> bool:
    """Under the quotation's lock: still in a step, and no job of it waiting or running."""
    quotation = pipeline.lock_quotation(conn, job.task_kwargs["quotation_id"])
    lock = queue.quotation_lock(quotation.id)
    return (quotation.status in ("draft", "queued", "generating", "delivering")
            and db.fetch_one(conn, "active_job_for_lock", lock=lock) is None)
