"""The pipeline's tasks. Each one runs a quote_service step; failures are recorded here with
their error and traceback (procrastinate keeps neither), and after the last attempt the
quotation is marked failed, naming the step and the cause."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import procrastinate
import psycopg

from jobs.application import app, converter, services, settings
from jobs.retry import PipelineRetry
from quote_service import db, pipeline, queue
from quote_service import logging as structured_logging
from quote_service.deliver.step import fail_delivery
from quote_service.deliver.step import send_quotation as send_step
from quote_service.generate.step import generate_pdf as generate_step

logger = logging.getLogger("quote_service.jobs")

retry_strategy = PipelineRetry(max_attempts=settings.max_attempts,
                               base_seconds=settings.retry_base_seconds)

# A worker that has not sent a heartbeat for STALLED_WORKER_SECONDS (default 30) is taken for
# dead and its jobs are retried. Workers beat every WORKER_HEARTBEAT_SECONDS (default 5): 30 s
# is six missed beats, long enough that a busy or briefly paused worker is not mistaken for a
# dead one (its heartbeat runs in the event loop, apart from the threads running sync tasks),
# short enough that a quotation whose worker was killed resumes within a minute (the check
# runs every STALLED_CHECK_SECONDS, default 15).
STALLED_AFTER_SECONDS = settings.stalled_worker_seconds


def _run(context: procrastinate.JobContext, step: str, quotation_id: int,
         body: Callable[[], str], on_last_failure: Callable[[psycopg.Connection, str], None]
         | None = None) -> str:
    """Run a step with every log line tagged with the job id and the quotation's number."""
    with db.transaction(services().pool) as conn:
        row = db.fetch_one(conn, "get_quotation", id=quotation_id)
    with structured_logging.job_context(context.job.id, quotation_id, row and row["number"]):
        return _run_step(context, step, quotation_id, body, on_last_failure)


def _run_step(context: procrastinate.JobContext, step: str, quotation_id: int,
              body: Callable[[], str],
              on_last_failure: Callable[[psycopg.Connection, str], None] | None) -> str:
    job = context.job
    extra = {"job_id": job.id, "quotation_id": quotation_id, "task": job.task_name}
    try:
        outcome = body()
    except Exception as exc:
        last = retry_strategy.get_retry_decision(exception=exc, job=job) is None
        error = f"{type(exc).__name__}: {exc}".strip()
        logger.warning("%s attempt %d failed%s: %s", job.task_name, job.attempts + 1,
                       " (last attempt)" if last else "", error, extra=extra)
        with db.transaction(services().pool) as conn:
            pipeline.record_attempt_failure(
                conn, job_id=job.id, task_name=job.task_name, attempt=job.attempts + 1,
                quotation_id=quotation_id, error=error, traceback=traceback.format_exc(),
            )
            if last:
                pipeline.mark_failed(conn, quotation_id, step, error, job.id)
                if on_last_failure is not None:
                    on_last_failure(conn, error)
            else:
                pipeline.event(conn, quotation_id, "attempt_failed", job_id=job.id, step=step,
                               attempt=job.attempts + 1, error=error)
        raise
    logger.info("%s: %s", job.task_name, outcome, extra=extra)
    return outcome


@app.task(name=queue.GENERATE_PDF.task_name, queue=queue.GENERATE_PDF.queue,
          retry=retry_strategy, pass_context=True)
def generate_pdf(context: procrastinate.JobContext, quotation_id: int) -> str:
    return _run(context, pipeline.GENERATE, quotation_id,
                lambda: generate_step(services(), converter(), quotation_id, context.job.id))


@app.task(name=queue.SEND_QUOTATION.task_name, queue=queue.SEND_QUOTATION.queue,
          retry=retry_strategy, pass_context=True)
def send_quotation(context: procrastinate.JobContext, quotation_id: int, delivery_id: int
                   ) -> str:
    return _run(
        context, pipeline.SEND, quotation_id,
        lambda: send_step(services(), quotation_id, delivery_id, context.job.id),
        lambda conn, error: fail_delivery(conn, delivery_id, error, context.job.id),
    )


@app.periodic(cron=f"* * * * * */{settings.stalled_check_seconds}")
@app.task(name="retry_stalled_jobs", queue="maintenance", pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> int:
    """procrastinate does not retry the jobs of a dead worker by itself: this does."""
    manager = context.app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS))
    for job in stalled:
        logger.warning("retrying job %s (%s) of a dead worker", job.id, job.task_name,
                       extra={"job_id": job.id})
        await manager.retry_job(job)
    await manager.prune_stalled_workers(seconds_since_heartbeat=STALLED_AFTER_SECONDS * 4)
    return len(stalled)
