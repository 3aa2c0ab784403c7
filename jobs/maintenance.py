"""Housekeeping of the queue: finished jobs are deleted once they are older than
JOB_RETENTION_HOURS (default 168, a week).

procrastinate_jobs is the queue, not the record: every job ever run stays in it until removed,
the periodic tasks alone add thousands a day, and the queue's scans slow down as it grows. What
must last is kept elsewhere and never deleted here: quotations, their events (the audit trail),
deliveries and job_failures (each failed attempt's error and traceback). The retention gives
operators a week to look at a job on the dashboard before it goes.
"""

from __future__ import annotations

import logging

import procrastinate

from jobs.application import app, settings

logger = logging.getLogger("quote_service.jobs.maintenance")


# Every hour, at minute 7 (five fields: procrastinate's optional sixth, seconds, is not used).
@app.periodic(cron="7 * * * *")
@app.task(name="delete_finished_jobs", queue="maintenance", pass_context=True)
async def delete_finished_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Delete succeeded, failed, cancelled and aborted jobs (and their procrastinate_events)
    whose last event is older than the retention, with procrastinate's own statement."""
    await context.app.job_manager.delete_old_jobs(
        nb_hours=settings.job_retention_hours, include_failed=True, include_cancelled=True,
        include_aborted=True,
    )
    logger.info("deleted jobs finished more than %d hours ago", settings.job_retention_hours)
