"""The pipeline's tasks. Each one runs a quote_service step; failures are recorded here with
their error and traceback (procrastinate keeps neither), and after the last attempt the
quotation is marked failed, naming the step and the cause (see jobs.failures)."""

from __future__ import annotations

import logging
import threading
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
from quote_service.generate.converter import ConversionError
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
    with a failed job; the stalled-job check finds it on its next pass and marks it failed
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


def _start_converter(worker) -> None:
    """A worker that makes PDFs starts LibreOffice as it starts, in the background, rather
    than at its first job: the first quotation does not wait for it (a job that comes first
    waits only for what is left of the start)."""
    if worker.queues is not None and queue.GENERATE_PDF.queue not in worker.queues:
        return

    def start() -> None:
        try:
            built = converter()
            if hasattr(built, "warm_up"):
                built.warm_up()
        except ConversionError as exc:  # the first job tries again, and fails visibly
            logger.error("could not start LibreOffice: %s", exc)

    threading.Thread(target=start, name="converter-start", daemon=True).start()


app.on_worker_start.append(_start_converter)


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


@app.task(name=queue.SEND_ANSWER_EMAIL.task_name, queue=queue.SEND_ANSWER_EMAIL.queue,
          retry=retry_strategy, pass_context=True)
def send_answer_email(context: procrastinate.JobContext, quotation_id: int, delivery_id: int
                      ) -> str:
    """The same step as send_quotation, for an email about the customer's answer: its last
    failure ends the delivery, not the quotation (jobs.failures)."""
    return _run(context, quotation_id,
                lambda attempt: send_step(services(), quotation_id, delivery_id, attempt))
