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
from procrastinate.sync_psycopg_connector import SyncPsycopgConnector


@dataclass(frozen=True)
class Step:
    task_name: str
    queue: str


GENERATE_PDF = Step("generate_pdf", "documents")
SEND_QUOTATION = Step("send_quotation", "delivery")
MAINTENANCE_QUEUE = "maintenance"  # the periodic tasks: stalled jobs, retention
QUEUES = (GENERATE_PDF.queue, SEND_QUOTATION.queue, MAINTENANCE_QUEUE)
# procrastinate's job statuses ("aborting" is a transient request, shown with "doing").
JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")
FINISHED_STATUSES = ("succeeded", "failed", "cancelled", "aborted")


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
        lock=quotation_lock(quotation_id),
        connection=conn,
    ).defer(quotation_id=quotation_id, **kwargs)


def defer_generate_pdf(conn: psycopg.Connection, quotation_id: int) -> int:
    return defer(conn, GENERATE_PDF, quotation_id)


def defer_send_quotation(conn: psycopg.Connection, quotation_id: int, delivery_id: int) -> int:
    return defer(conn, SEND_QUOTATION, quotation_id, delivery_id=delivery_id)
