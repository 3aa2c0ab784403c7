"""Deferring pipeline jobs inside the caller's transaction.

The web process and the step records use plain psycopg connections; procrastinate inserts the
job on that same connection (`configure(connection=conn)`), so the job commits or rolls back
with the rows that need it. Tasks are named here rather than imported from `jobs`, so the
domain never imports the worker.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import procrastinate
import psycopg
from procrastinate.jobs import Job
from procrastinate.sync_psycopg_connector import SyncPsycopgConnector

from quote_service import db


@dataclass(frozen=True)
class Step:
    task_name: str
    queue: str
    # Workers take the highest priority first: a quotation's next step goes before the first
    # step of the next quotations, so a worker on every queue sends PDFs as it makes them
    # instead of making the whole backlog first.
    priority: int


GENERATE_PDF = Step("generate_pdf", "documents", priority=0)
SEND_QUOTATION = Step("send_quotation", "delivery", priority=10)
# The emails about a customer's answer: to the customer, and to the sales user.
SEND_ANSWER_EMAIL = Step("send_answer_email", "delivery", priority=10)
QUEUES = (GENERATE_PDF.queue, SEND_QUOTATION.queue)
# procrastinate's job statuses ("aborting" is a transient request, shown with "doing").
JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")
FINISHED_STATUSES = ("succeeded", "failed", "cancelled", "aborted")


class AttemptSuperseded(Exception):
    """The attempt is no longer its job's current one: its worker was taken for dead (cut off
    from the database for longer than STALLED_WORKER_SECONDS) and the job was retried. Its late
    work must change nothing."""


@dataclass(frozen=True)
class Attempt:
    """One run of a job as the worker running it knows it: the job, how many runs came before
    (procrastinate's `attempts` when it was fetched) and the worker it was given to."""

    job_id: int
    runs_before: int
    worker_id: int | None

    @classmethod
    def of(cls, job: Job) -> Attempt:
        assert job.id is not None
        return cls(job_id=job.id, runs_before=job.attempts, worker_id=job.worker_id)

    @property
    def number(self) -> int:
        return self.runs_before + 1

    def claim(self, conn: psycopg.Connection) -> None:
        """Check, on the connection about to write a step's result (or to record that a side
        effect is leaving), that this is still the job's current attempt, and hold that until
        the transaction ends; raise AttemptSuperseded if not."""
        if db.fetch_one(conn, "claim_attempt", id=self.job_id, attempts=self.runs_before,
                        worker_id=self.worker_id) is None:
            raise AttemptSuperseded(f"attempt {self.number} of job {self.job_id} was taken for "
                                    "lost and its job retried")


def claim(conn: psycopg.Connection, attempt: Attempt | None) -> None:
    """`attempt.claim(conn)`; nothing for work run outside a worker (no attempt)."""
    if attempt is not None:
        attempt.claim(conn)


def job_id_of(attempt: Attempt | None) -> int | None:
    return attempt.job_id if attempt is not None else None


def quotation_lock(quotation_id: int) -> str:
    """All jobs of one quotation share a lock: they never run at the same time."""
    return f"quotation-{quotation_id}"


@functools.cache
def _deferrer() -> procrastinate.App:
    # Never opened: with `connection=` procrastinate runs the INSERT on the given connection.
    return procrastinate.App(connector=SyncPsycopgConnector())


def defer(conn: psycopg.Connection, step: Step, quotation_id: int, **kwargs: int) -> int:
    """Insert the job on `conn` (uncommitted); return its id."""
    return _deferrer().configure_task(
        step.task_name,
        queue=step.queue,
        priority=step.priority,
        lock=quotation_lock(quotation_id),
        connection=conn,
    ).defer(quotation_id=quotation_id, **kwargs)


def defer_generate_pdf(conn: psycopg.Connection, quotation_id: int) -> int:
    return defer(conn, GENERATE_PDF, quotation_id)


def defer_send_quotation(conn: psycopg.Connection, quotation_id: int, delivery_id: int) -> int:
    return defer(conn, SEND_QUOTATION, quotation_id, delivery_id=delivery_id)


def defer_send_answer_email(conn: psycopg.Connection, quotation_id: int, delivery_id: int
                            ) -> int:
    return defer(conn, SEND_ANSWER_EMAIL, quotation_id, delivery_id=delivery_id)
