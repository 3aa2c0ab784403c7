"""Pausing a queue, as BullMQ and Oban users do before maintenance: its waiting jobs stay,
its running jobs finish, and no worker starts another of its jobs until it is resumed. The
pause is a row in `queue_pauses`, so it holds on every machine and outlives worker restarts;
workers leave paused queues out of every fetch (jobs.worker), and resuming wakes them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from quote_service import db, queue


class UnknownQueue(ValueError):
    """Not one of the service's queues."""


@dataclass(frozen=True)
class Pause:
    queue_name: str
    paused_at: dt.datetime
    paused_by: str


def _known(queue_name: str) -> str:
    if queue_name not in queue.QUEUES:
        raise UnknownQueue(f"no queue {queue_name!r}: the queues are {', '.join(queue.QUEUES)}")
    return queue_name


def pause(conn: psycopg.Connection, queue_name: str, by: str) -> bool:
    """Pause the queue; False when it was paused already."""
    return db.fetch_one(conn, "pause_queue", queue_name=_known(queue_name),
                        paused_by=by) is not None


def resume(conn: psycopg.Connection, queue_name: str) -> bool:
    """Resume the queue and wake its workers; False when it was not paused."""
    return db.fetch_one(conn, "resume_queue", queue_name=_known(queue_name)) is not None


def list_all(conn: psycopg.Connection) -> dict[str, Pause]:
    return {row["queue_name"]: Pause(**row) for row in db.fetch_all(conn, "list_pauses")}
