"""The retention of finished jobs: procrastinate_jobs is the queue, not the record.

procrastinate's own `delete_old_jobs` removes every finished job past the retention in one
statement. On a queue that has grown for months (the first run after an upgrade, or after the
workers were stopped a while) that is one transaction of millions of rows: tens of seconds of
locks, a sort spilling to disk, hundreds of MB of WAL in one go. Here the jobs are walked in id
order, BATCH at a time, each batch its own short transaction; a pass that is interrupted (a
worker stopped, the database restarted) has lost nothing and the next one goes on with what is
left, since the rows already deleted are gone. The rule is procrastinate's: succeeded, failed,
cancelled and aborted jobs whose latest event is older than the retention.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from quote_service import db, queue

BATCH = 5000


@dataclass(frozen=True)
class Pass:
    deleted: int
    batches: int
    longest_seconds: float  # the longest batch's transaction

    def __str__(self) -> str:
        return (f"deleted {self.deleted} finished job(s) in {self.batches} batch(es), "
                f"longest {self.longest_seconds:.2f} s")


def delete_finished_jobs(pool: ConnectionPool, hours: int, *, batch: int = BATCH) -> Pass:
    """Delete the jobs finished more than `hours` ago, a batch of `batch` jobs looked at per
    transaction (quotations, their events, deliveries and job_failures are other tables)."""
    after, deleted, batches, longest = 0, 0, 0, 0.0
    while True:
        started = time.monotonic()
        with db.transaction(pool) as conn:
            row = db.fetch_one(conn, "delete_finished_jobs_batch", after=after, limit=batch,
                               hours=hours, statuses=list(queue.FINISHED_STATUSES))
        longest = max(longest, time.monotonic() - started)
        if row["last_id"] is None:
            return Pass(deleted, batches, longest)
        after, deleted, batches = row["last_id"], deleted + row["deleted"], batches + 1
