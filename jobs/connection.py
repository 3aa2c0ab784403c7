"""The worker's connection to PostgreSQL, which is also its queue: outages are ridden out.

A database restart (a minor upgrade, a failover, a restarted container) is an ordinary event
for a service whose queue is the database. procrastinate's own worker stops at the first error
of its listener or heartbeat, and forgets the outcome of a job that ends while the database is
away. While a worker runs (`riding_out`), every statement it sends through this connector
waits for the database instead of failing: it is tried again with a growing pause (at most
MAX_PAUSE seconds, so the worker is back within seconds of the database), the listener
reconnects the same way, and one line is logged when the database is lost and one when it is
back. Other commands of procrastinate's CLI fail at once, as they always did.

Only connection-level errors are waited out (psycopg's OperationalError: refused, reset,
"the database system is shutting down", a pool that cannot connect). A statement whose answer
was lost may have run: whatever the worker sends again is written to be harmless the second
time (jobs.worker).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import psycopg
from procrastinate import PsycopgConnector, exceptions
from procrastinate import sql as procrastinate_sql

logger = logging.getLogger("quote_service.jobs.connection")

FIRST_PAUSE = 0.25
MAX_PAUSE = 2.0
T = TypeVar("T")


def is_outage(exc: BaseException) -> bool:
    """A connection-level error (the database is unreachable, restarting or gone), as opposed
    to a statement the database refused."""
    cause = exc.__cause__ if isinstance(exc, exceptions.ConnectorException) else exc
    return isinstance(cause, psycopg.OperationalError)


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc, exceptions.ConnectorException) else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


class DatabaseLink:
    """Whether this worker reaches the database, logged once per outage, and whether the worker
    is stopping (then nothing waits for the database any more).

    Just after the database is back, a statement may still fail on a connection the pool opened
    before the outage (the listener reconnects on a fresh connection and may see the database back
    first). A failure within SETTLE_SECONDS of the return is the tail of the same outage: it is
    waited out like any other, without a second pair of log lines.
    """

    SETTLE_SECONDS = 5.0

    def __init__(self) -> None:
        self._lost_at: float | None = None
        self._back_at = float("-inf")
        self._relapse = False
        self._on_back: list[Callable[[], None]] = []
        self.stopping = threading.Event()

    @property
    def lost(self) -> bool:
        return self._lost_at is not None

    def on_back(self, callback: Callable[[], None]) -> None:
        self._on_back.append(callback)

    def mark_lost(self, exc: BaseException) -> None:
        if self._lost_at is not None:
            return
        self._lost_at = time.monotonic()
        self._relapse = self._lost_at - self._back_at < self.SETTLE_SECONDS
        if not self._relapse:
            logger.warning("database unreachable (%s): the worker stays up and waits for it",
                           _reason(exc))

    def mark_back(self) -> None:
        if self._lost_at is None:
            return
        self._back_at = time.monotonic()
        lost_for, self._lost_at = self._back_at - self._lost_at, None
        if not self._relapse:
            logger.warning("database reachable again after %.1f s", lost_for)
        for callback in self._on_back:
            callback()


class OutageTolerantConnector(PsycopgConnector):
    """procrastinate's psycopg connector, waiting out database outages while a worker runs."""

    def __init__(self, *, link: DatabaseLink, **pool_args: Any) -> None:
        super().__init__(**pool_args)
        self.link = link
        self.riding_out = False
        self._purges: set[asyncio.Task[None]] = set()
        link.on_back(self._purge_stale_connections)

    def _purge_stale_connections(self) -> None:
        """Once the database is back, test the pool's idle connections and drop those opened
        before the outage, rather than letting the next statements fail on them one by one."""
        if self._async_pool is None:
            return
        purge = asyncio.get_running_loop().create_task(self._check_pool(self._async_pool))
        self._purges.add(purge)
        purge.add_done_callback(self._purges.discard)

    @staticmethod
    async def _check_pool(pool: Any) -> None:
        try:
            await pool.check()
        except Exception:  # the next statements find out by themselves
            logger.debug("checking the pool's connections failed", exc_info=True)

    async def open_async(self, pool: Any = None) -> None:
        """As procrastinate's, without waiting for the first connections: a worker started
        while the database is down waits for it instead of exiting."""
        if self._async_pool or pool is not None:
            await super().open_async(pool)
            return
        self._async_pool = await self._create_pool(self._pool_args)
        await self._async_pool.open(wait=False)

    async def _ride_out(self, statement: Callable[..., Awaitable[T]], *args: Any,
                        **kwargs: Any) -> T:
        pause = FIRST_PAUSE
        while True:
            try:
                result = await statement(*args, **kwargs)
            except exceptions.ConnectorException as exc:
                if not (self.riding_out and is_outage(exc)) or self.link.stopping.is_set():
                    raise
                self.link.mark_lost(exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE)
                continue
            self.link.mark_back()
            return result

    async def execute_query_async(self, query: Any, **arguments: Any) -> None:
        await self._ride_out(super().execute_query_async, query, **arguments)

    async def execute_query_one_async(self, query: Any, **arguments: Any) -> dict[str, Any]:
        return await self._ride_out(super().execute_query_one_async, query, **arguments)

    async def execute_query_all_async(self, query: Any, **arguments: Any
                                      ) -> list[dict[str, Any]]:
        return await self._ride_out(super().execute_query_all_async, query, **arguments)

    async def listen_notify(self, on_notification: Any, channels: Iterable[str]) -> None:
        """procrastinate's listener, reconnecting after the database went away. Jobs deferred
        while it was not listening were not announced: once listening again it wakes the
        worker, which looks for them at once."""
        if not self.riding_out:
            await super().listen_notify(on_notification, channels)
            return
        channels = list(channels)
        pause = FIRST_PAUSE
        while True:
            try:
                async with self._get_standalone_connection() as connection:
                    for channel in channels:
                        await connection.execute(self._make_dynamic_query(
                            query=procrastinate_sql.queries["listen_queue"],
                            channel_name=channel))
                    pause = FIRST_PAUSE
                    self.link.mark_back()
                    await on_notification(channel=channels[0] if channels else "",
                                          payload=json.dumps({"type": "job_inserted"}))
                    # Returns when the connection dies (procrastinate checks it every 30 s).
                    await self._loop_notify(on_notification=on_notification,
                                            connection=connection)
            except (psycopg.OperationalError, exceptions.ConnectorException) as exc:
                if not is_outage(exc):
                    raise
                self.link.mark_lost(exc)
            if self.link.stopping.is_set():
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
