"""The workers' housekeeping, run outside the job queue (see jobs.worker.Routine).

- `recover_stalled_jobs`, every STALLED_CHECK_SECONDS (15): procrastinate does not retry the
  jobs of a dead worker by itself. A worker silent for STALLED_WORKER_SECONDS (30) is taken for
  dead: the attempts it was running count as failed (jobs.failures) and their jobs are retried,
  or end failed after their last attempt, like any others. Workers beat every
  WORKER_HEARTBEAT_SECONDS (5): 30 s is six missed beats, long enough that a busy worker is not
  mistaken for a dead one (its heartbeat runs in the event loop, apart from the threads running
  sync tasks), short enough that a killed worker's quotation resumes within a minute.
- `delete_finished_jobs`, every hour: procrastinate_jobs is the queue, not the record. Finished
  jobs older than JOB_RETENTION_HOURS (168, a week) are deleted, a few thousand per
  transaction (quote_service/retention.py); what must last is kept elsewhere and never deleted
  here: quotations, their events, deliveries and job_failures.

- `expire_quotations`, every minute: a quotation past its `valid_until` day (in TIME_ZONE)
  without an answer is `expired`, with an event; in bounded batches.

These were periodic jobs on a `maintenance` queue. As jobs they waited behind a backlog like
any other, so dead workers' jobs were recovered last exactly when the system was loaded, and
the check alone left a row in the queue every 15 s. Every worker now runs them as side tasks;
the first to find one due claims it (`maintenance_runs`, one row per routine, also what the
dashboard shows), so each runs once per period whatever the number of workers, for as long as
any worker is alive.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import procrastinate

from jobs import failures
from jobs.application import app, services, settings
from jobs.worker import Routine
from quote_service import db, retention

logger = logging.getLogger("quote_service.jobs.maintenance")

RETENTION_EVERY_SECONDS = 3600
EXPIRY_EVERY_SECONDS = 60
EXPIRY_BATCH = 500


@dataclass(frozen=True)
class Recovery:
    settled: int  # stalled attempts counted as failed, their jobs retried or ended
    abandoned: int  # quotations marked failed because their job's last failure was lost
    pruned: int  # workers forgotten

    def __str__(self) -> str:
        return (f"{self.settled} stalled job(s) settled, {self.abandoned} abandoned "
                f"quotation(s) failed, {self.pruned} worker(s) pruned")


async def recover_stalled_jobs(app: procrastinate.App) -> Recovery:
    """Settle the running attempts of dead workers, mark failed the quotations whose last
    failure could not be recorded, and forget workers silent for four times the threshold."""
    seconds = settings.stalled_worker_seconds
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds)

    def strategy_of(task_name: str) -> procrastinate.BaseRetryStrategy | None:
        task = app.tasks.get(task_name)
        return task.retry_strategy if task is not None else None

    pool = services().pool
    settled = await asyncio.to_thread(failures.settle_stalled_jobs, pool, stalled, strategy_of)
    abandoned = await asyncio.to_thread(failures.fail_abandoned_quotations, pool)
    pruned = await app.job_manager.prune_stalled_workers(seconds_since_heartbeat=seconds * 4)
    return Recovery(settled, abandoned, len(pruned))


async def delete_finished_jobs(app: procrastinate.App) -> str:
    """Delete succeeded, failed, cancelled and aborted jobs (and their procrastinate_events)
    whose last event is older than the retention, in short batches (quote_service.retention)."""
    hours = settings.job_retention_hours
    done = await asyncio.to_thread(retention.delete_finished_jobs, services().pool, hours)
    logger.info("jobs finished more than %d hours ago: %s", hours, done)
    return f"{done} (finished more than {hours} h ago)"


async def expire_quotations(app: procrastinate.App) -> str:
    """Expire what is due, a batch per transaction (each short, the rows locked briefly)."""

    def run() -> int:
        expired = 0
        while True:
            with db.transaction(services().pool) as conn:
                batch = len(db.fetch_all(conn, "expire_quotations",
                                         time_zone=settings.time_zone, limit=EXPIRY_BATCH))
            expired += batch
            if batch < EXPIRY_BATCH:
                return expired

    expired = await asyncio.to_thread(run)
    if expired:
        logger.info("%d quotation(s) expired", expired)
    return f"{expired} quotation(s) expired"


app.maintenance.extend([
    Routine("recover_stalled_jobs", settings.stalled_check_seconds, recover_stalled_jobs),
    Routine("delete_finished_jobs", RETENTION_EVERY_SECONDS, delete_finished_jobs),
    Routine("expire_quotations", EXPIRY_EVERY_SECONDS, expire_quotations),
])
