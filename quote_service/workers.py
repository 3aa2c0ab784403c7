"""The workers as operators see them: where each one runs, what it listens on, whether it is
alive, what it is running. Read from the `workers` view (migrations/0007_workers.sql) by
`quote-service workers`, the dashboard and /metrics alike.

A worker is alive while it has been silent for less than STALLED_WORKER_SECONDS: past that
its jobs are taken for lost and retried by the others. A queue with no live worker listening
on it is unattended: its jobs wait, however many workers run elsewhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

from quote_service import db, queue


@dataclass(frozen=True)
class RunningJob:
    job_id: int
    task_name: str
    queue_name: str
    attempt: int
    quotation_id: int | None
    number: str | None


@dataclass(frozen=True)
class Worker:
    worker_id: int
    host: str | None  # None for a worker that did not say (procrastinate's own, say)
    pid: int | None
    queues: tuple[str, ...] | None  # None: every queue
    concurrency: int | None
    started_at: dt.datetime | None
    last_heartbeat: dt.datetime
    silent_for: dt.timedelta
    jobs: tuple[RunningJob, ...]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Worker:
        return cls(worker_id=row["worker_id"], host=row["host"], pid=row["pid"],
                   queues=tuple(row["queues"]) if row["queues"] is not None else None,
                   concurrency=row["concurrency"], started_at=row["started_at"],
                   last_heartbeat=row["last_heartbeat"], silent_for=row["silent_for"],
                   jobs=tuple(RunningJob(**job) for job in row["jobs"]))

    def alive(self, stalled_after: float) -> bool:
        return self.silent_for.total_seconds() < stalled_after

    def listens_on(self, queue_name: str) -> bool:
        return self.queues is None or queue_name in self.queues

    @property
    def queues_display(self) -> str:
        return ", ".join(self.queues) if self.queues else "all queues"


def list_all(conn: psycopg.Connection) -> list[Worker]:
    return [Worker.from_row(row) for row in db.fetch_all(conn, "list_workers")]


def live_per_queue(workers: list[Worker], stalled_after: float) -> dict[str, int]:
    """For each of the service's queues, how many live workers listen on it."""
    return {name: sum(w.alive(stalled_after) and w.listens_on(name) for w in workers)
            for name in queue.QUEUES}


def unattended_queues(workers: list[Worker], stalled_after: float) -> list[str]:
    """The service's queues that no live worker listens on."""
    return [name for name, n in live_per_queue(workers, stalled_after).items() if not n]


@dataclass(frozen=True)
class MaintenanceRun:
    """The last run of one of the workers' maintenance routines (jobs.maintenance)."""

    task: str
    due_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    worker_id: int | None
    outcome: str | None
    since_finished: dt.timedelta | None


def maintenance_runs(conn: psycopg.Connection) -> list[MaintenanceRun]:
    return [MaintenanceRun(**row) for row in db.fetch_all(conn, "list_maintenance")]
