"""Group commit: submissions that arrive together in one process share one transaction.

Numbers are gapless, so the year's counter row stays locked from a submission's statement
until its commit is on disk, and submissions take their numbers one at a time: each one's
transaction start, plan, commit and WAL flush stand in a single queue. When the request
threads of one web process submit at the same moment, their statements (submit.sql's, each
unchanged, each checking its own token) are sent in ONE pipeline and commit together: one
round trip, one commit and one WAL flush for the lot, one turn at the counter. Measured on
this statement, that halves the database's CPU per submission at a batch of eight.

Nothing else changes for a submission: its quotation, lines, customer, job and event still
commit together or not at all, and the numbers of one batch are consecutive. A batch commits
or rolls back as a whole, so when any statement of it fails (two racing requests with one
Idempotency-Key, say) nothing of it is kept and each of its submissions runs again on its
own, where that error belongs to the one that caused it. A database that cannot be reached
fails the whole batch at once: every submission answers 503 and none is written.

One GroupCommit per pool (submit/service.py keeps them). No thread of its own: the first
thread to arrive leads, running batches of whatever has
queued meanwhile until its own submission is answered; then it hands the lead to the next
waiting thread and returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from quote_service import db

# The most statements sent in one pipeline. The web server's threads bound a batch anyway
# (`quote-service serve --threads` per process); this keeps one that a caller's own threads
# could grow from holding the counter for long.
MAX_BATCH = 32

Row = dict[str, Any]


class _Waiting:
    """One submission waiting for its batch: its statement's parameters, then its row or
    the exception that belongs to it, or the lead."""

    __slots__ = ("params", "row", "error", "lead", "answered", "woken")

    def __init__(self, params: dict[str, Any]):
        self.params = params
        self.row: Row | None = None  # None once answered: the statement returned no row
        self.error: BaseException | None = None
        self.lead = False
        self.answered = False
        self.woken = threading.Event()


class GroupCommit:
    """Runs `query` (a statement that makes a whole change by itself) for the submissions of
    one pool, batching those that wait at the same moment into one transaction."""

    def __init__(self, pool: ConnectionPool, query: str,
                 run_alone: Callable[[dict[str, Any]], Row]):
        self._pool = pool
        self._query = query
        self._run_alone = run_alone
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._led = False

    def run(self, params: dict[str, Any]) -> Row:
        """The statement's row for `params`, committed (possibly with others)."""
        me = _Waiting(params)
        with self._lock:
            self._queue.append(me)
            leading = not self._led
            self._led = True
        while not leading:
            me.woken.wait()
            me.woken.clear()
            if me.answered:
                return _answer(me)
            leading = me.lead
        try:
            while not me.answered:
                self._run_next_batch()
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].woken.set()
                else:
                    self._led = False
        return _answer(me)

    def _run_next_batch(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        rows: list[Row | None] | None = None
        if len(batch) > 1:
            try:
                rows = self._together([waiting.params for waiting in batch])
            except db.DatabaseUnavailable as exc:
                for waiting in batch:
                    waiting.error = exc
            except Exception:  # noqa: BLE001 - nothing was kept: each runs again on its own
                rows = None
        for i, waiting in enumerate(batch):
            if rows is not None:
                waiting.row = rows[i]
            elif waiting.error is None:
                try:
                    waiting.row = self._run_alone(waiting.params)
                except Exception as exc:  # noqa: BLE001 - raised in its own request's thread
                    waiting.error = exc
            waiting.answered = True
            waiting.woken.set()

    def _together(self, batch: list[dict[str, Any]]) -> list[Row | None]:
        """The rows of `batch`'s statements, sent in one pipeline and committed together. They
        are read once the pipeline has ended: reading one sooner would wait for its answer
        before the COMMIT is even sent, holding the counter for a round trip."""
        with db.batch(self._pool) as conn:
            cursors = [conn.cursor(row_factory=dict_row) for _ in batch]
            for cursor, params in zip(cursors, batch, strict=True):
                cursor.execute(self._query, params)
        return [cursor.fetchone() for cursor in cursors]


def _answer(waiting: _Waiting) -> Row:
    if waiting.error is not None:
        raise waiting.error
    if waiting.row is None:
        raise RuntimeError("the submitting statement returned no row")
    return waiting.row
