"""Group commit: submissions that arrive together in one process share one statement.

Numbers are gapless, so the year's counter row stays locked from a submission's statement
until its commit is on disk, and submissions take their numbers one at a time: each one's
statement, commit and WAL flush stand in a single queue, and the database work behind the
counter runs on one core at a time whatever the number of cores. When the request threads of
one web process submit at the same moment, they are submitted as ONE batch (submit.sql takes
an array of submissions, each still checking its own token): one round trip, one statement's
start, one commit and WAL flush for the lot, one turn at the counter. Measured on one
connection against one statement per submission, that takes a quarter off the database's CPU
per submission at a batch of eight and 40% at sixteen (docs/benchmarks.md).

Nothing else changes for a submission: its quotation, lines, customer, job and event still
commit together or not at all, and the numbers of one batch are consecutive. A batch commits
or rolls back as a whole, so when it fails (two racing requests with one new Idempotency-Key,
say) nothing of it is kept and each of its submissions runs again on its own, where that error
belongs to the one that caused it. A database that cannot be reached fails the whole batch at
once: every submission answers 503 and none is written.

One GroupCommit per pool (submit/service.py keeps them). No thread of its own: the first
thread to arrive leads, running batches of whatever has queued meanwhile until its own
submission is answered; then it hands the lead to the next waiting thread and returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from quote_service import db

# The most submissions in one batch. The web server's threads bound a batch anyway
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
    """Submits one pool's submissions, those that wait at the same moment as one batch:
    `run_together` commits a batch's parameters as one change and gives their rows in order
    (None where there is none), `run_alone` does the same for one submission."""

    def __init__(self, run_together: Callable[[list[dict[str, Any]]], list[Row | None]],
                 run_alone: Callable[[dict[str, Any]], Row | None]):
        self._run_together = run_together
        self._run_alone = run_alone
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._led = False

    def run(self, params: dict[str, Any]) -> Row | None:
        """The row of `params`' submission, committed (possibly with others)."""
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
                rows = self._run_together([waiting.params for waiting in batch])
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


def _answer(waiting: _Waiting) -> Row | None:
    if waiting.error is not None:
        raise waiting.error
    return waiting.row
