"""The pipeline's tasks. Each one runs a quote_service step; failures are recorded here with
their error and traceback (procrastinate keeps neither), and after the last attempt the
quotation is marked failed, naming the step and the cause (see jobs.failures)."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable

import procrastinate
import psycopg
from procrastinate.jobs import Job

from jobs import failures
from jobs.application import app, converter, link, services, settings
from jobs.retry import PipelineRetry
from quote_service import db, queue
from quote_service import logging as structured_logging
from quote_service.deliver.step import send_quotation as send_step
from quote_service.generate.step import generate_pdf as generate_step

logger = logging.getLogger("quote_service.jobs")

FIRST_RECORD_PAUSE = 0.5
MAX_RECORD_PAUSE = 5.0

retry_strategy = PipelineRetry(max_attempts=settings.max_attempts,
                               base_seconds=settings.retry_base_seconds)


def _run(context: procrastinate.JobContext, quotation_id: int,
         body: Callable[[queue.Attempt], str]) -> str:
    """Run one attempt of a step, every log line tagged with the job and the quotation.

    Everything that touches the database is inside the try, the quotation's lookup for the
    tags included: a database error anywhere is a failed attempt, recorded and retried. An
    attempt found superseded (taken for lost while its worker was cut off) records nothing:
    the job's current attempt, elsewhere, owns the quotation now."""
    job = context.job
    number = None
    try:
        number = _quotation_number(quotation_id)
        with structured_logging.job_context(job.id, quotation_id, number):
            outcome = body(queue.Attempt.of(job))
            logger.info("%s: %s", job.task_name, outcome, extra=_extra(job))
            return outcome
    except queue.AttemptSuperseded as exc:
        with structured_logging.job_context(job.id, quotation_id, number):
            logger.warning("%s: %s; its late work is dropped", job.task_name, exc,
                           extra=_extra(job))
        return f"superseded: {exc}"
    except Exception as exc:
        with structured_logging.job_context(job.id, quotation_id, number):
            _record_failure(job, exc)
        raise


def _quotation_number(quotation_id: int) -> str | None:
    with db.transaction(services().pool) as conn:
        row = db.fetch_one(conn, "get_quotation", id=quotation_id)
    return row and row["number"]


def _extra(job: Job) -> dict:
    return {"job_id": job.id, "quotation_id": job.task_kwargs.get("quotation_id"),
            "task": job.task_name}


def _record_failure(job: Job, exc: Exception) -> None:
    """Record a failed attempt; when that fails too, say so loudly and change nothing else.

    The caller re-raises the step's own exception either way, so procrastinate decides as
    computed here: a last attempt (a refusal that cannot change, or the attempts used up)
    ends the job failed even when its quotation could not be marked failed, instead of the
    recording's error earning the job another attempt. Such a quotation is left in its step
    with a failed job; `retry_stalled_jobs` finds it on its next pass and marks it failed
    (failures.fail_abandoned_quotations), so it does not stay `generating` for good."""
    last = retry_strategy.get_retry_decision(exception=exc, job=job) is None
    error = failures.describe(exc)
    logger.warning("%s attempt %d failed%s: %s", job.task_name, job.attempts + 1,
                   " (last attempt)" if last else "", error, extra=_extra(job))
    details = "".join(traceback.format_exception(exc))
    attempt = queue.Attempt.of(job)

    def record(conn) -> None:
        attempt.claim(conn)
        failures.record_failure(conn, job, error, details, last=last)

    try:
        _when_reachable(record, f"{job.task_name} attempt {attempt.number}", job)
    except queue.AttemptSuperseded as superseded:
        logger.warning("%s attempt %d: %s; its failure is not recorded", job.task_name,
                       attempt.number, superseded, extra=_extra(job))
    except Exception:
        logger.critical("could not record that %s attempt %d failed (%s)%s", job.task_name,
                        attempt.number, error,
                        "; its quotation is marked failed on the next stalled-job check"
                        if last else "", exc_info=True, extra=_extra(job))


def _when_reachable(write: Callable[[psycopg.Connection], None], what: str, job: Job) -> None:
    """Run `write` in a transaction, waiting while the database is unavailable (often the very
    reason the attempt failed) until it is back, or until the worker stops: then the error is
    raised and the job is left `doing`, for the stalled-job check to record as lost."""
    waited, pause = 0.0, FIRST_RECORD_PAUSE
    while True:
        try:
            with db.transaction(services().pool) as conn:
                write(conn)
        except db.DatabaseUnavailable:
            if not waited:
                logger.warning("%s: the database is unavailable; its failure is recorded when "
                               "it is back", what, extra=_extra(job))
            if link.stopping.wait(pause):
                raise
            waited, pause = waited + pause, min(pause * 2, MAX_RECORD_PAUSE)
            continue
        if waited:
            logger.info("%s: its failure was recorded after waiting %.0f s for the database",
                        what, waited, extra=_extra(job))
        return


@app.task(name=queue.GENERATE_PDF.task_name, queue=queue.GENERATE_PDF.queue,
          retry=retry_strategy, pass_context=True)
def generate_pdf(context: procrastinate.JobContext, quotation_id: int) -> str:
    return _run(context, quotation_id,
                lambda attempt: generate_step(services(), converter(), quotation_id, attempt))


@app.task(name=queue.SEND_QUOTATION.task_name, queue=queue.SEND_QUOTATION.queue,
          retry=retry_strategy, pass_context=True)
def send_quotation(context: procrastinate.JobContext, quotation_id: int, delivery_id: int
                   ) -> str:
    return _run(context, quotation_id,
                lambda attempt: send_step(services(), quotation_id, delivery_id, attempt))


# A worker that has not sent a heartbeat for STALLED_WORKER_SECONDS (default 30) is taken for
# dead: the attempts it was running count as failed, and their jobs are retried (or end failed
# after their last attempt) like any others. Workers beat every WORKER_HEARTBEAT_SECONDS
# (default 5): 30 s is six missed beats, long enough that a busy or briefly paused worker is
# not mistaken for a dead one (its heartbeat runs in the event loop, apart from the threads
# running sync tasks), short enough that a quotation whose worker was killed resumes within a
# minute (the check runs every STALLED_CHECK_SECONDS, default 15).
@app.periodic(cron=f"* * * * * */{settings.stalled_check_seconds}")
@app.task(name="retry_stalled_jobs", queue="maintenance", pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> int:
    """procrastinate does not retry the jobs of a dead worker by itself: this does, counting
    the lost run as a failed attempt of the job (jobs.failures), so that one that kills its
    worker every time ends failed after its last attempt. It also marks failed the quotations
    whose last failure could not be recorded. Returns how many stalled jobs it settled."""
    seconds = settings.stalled_worker_seconds
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=seconds)

    def strategy_of(task_name: str) -> procrastinate.BaseRetryStrategy | None:
        task = context.app.tasks.get(task_name)
        return task.retry_strategy if task is not None else None

    pool = services().pool
    settled = await asyncio.to_thread(failures.settle_stalled_jobs, pool, stalled, strategy_of)
    await asyncio.to_thread(failures.fail_abandoned_quotations, pool)
    await manager.prune_stalled_workers(seconds_since_heartbeat=seconds * 4)
    return settled
