"""PostgreSQL access: a connection pool and named SQL queries loaded from `quote_service/sql/`.

Queries live in plain `.sql` files as blocks that start with `-- name: some_query`; code calls
them by name with `%(param)s` parameters, so each table's statements sit in one place.
"""

from __future__ import annotations

import functools
import re
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

SQL_DIR = Path(__file__).parent / "sql"
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


class DatabaseUnavailable(Exception):
    """The database cannot be reached right now."""


@functools.cache
def queries() -> dict[str, str]:
    """All named queries of `quote_service/sql/*.sql`, by name, as sent (`compact`)."""
    found: dict[str, str] = {}
    for path in sorted(SQL_DIR.glob("*.sql")):
        parts = _NAME.split(path.read_text())
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in found:
                raise RuntimeError(f"query {name!r} is defined twice ({path.name})")
            found[name] = compact(body)
    return found


def compact(sql: str) -> str:
    """`sql` without its comment lines and indentation: the files are written for readers,
    the server needs none of it, and psycopg converts a query's `%(name)s` placeholders once
    per process only for texts under 4 KiB."""
    return "\n".join(line.strip() for line in sql.strip().splitlines()
                     if line.strip() and not line.lstrip().startswith("--"))


def query(name: str) -> str:
    return queries()[name]


def fetch_one(conn: psycopg.Connection, name: str, **params: Any) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query(name), params)
        return cur.fetchone()


def fetch_all(conn: psycopg.Connection, name: str, **params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query(name), params)
        return cur.fetchall()


def execute(conn: psycopg.Connection, name: str, **params: Any) -> int:
    """Run a statement; return the number of rows it touched."""
    with conn.cursor() as cur:
        cur.execute(query(name), params)
        return cur.rowcount


# A server that vanished (a machine lost, a network cut) answers nothing, and TCP's own
# retransmissions would hold a statement for about 15 minutes: idle connections are probed
# every few seconds and unacknowledged data gives up after TCP_USER_TIMEOUT_MS, so a lost
# database is an error within seconds. (Unix sockets ignore these.)
CONNECTION_KWARGS: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
# psycopg_pool retries a lost connection with a pause that doubles without bound, so after a
# long outage its next try could be a minute away. Giving up on a connection after this many
# seconds lets the next request start again with a fresh, short pause instead.
RECONNECT_SECONDS = 5.0


def connection_kwargs(timeout: float) -> dict[str, Any]:
    """Keyword arguments of psycopg.connect for the pools: `timeout` bounds connecting too."""
    return {"connect_timeout": max(1, round(timeout)), **CONNECTION_KWARGS}


# In the web server's pool, a connection handed back less than this long ago is handed out
# again without a round trip to check it: under load that check was a tenth of the web
# server's time, and a connection that just worked is alive. One idle for longer (the
# database may have restarted meanwhile) is checked first, so that the first request after an
# outage does not fail on a dead one.
FRESH_SECONDS = 1.0
_returned_at: weakref.WeakKeyDictionary[psycopg.Connection, float] = weakref.WeakKeyDictionary()


def _remember_return(conn: psycopg.Connection) -> None:
    _returned_at[conn] = time.monotonic()


def _check_unless_fresh(conn: psycopg.Connection) -> None:
    returned = _returned_at.get(conn)
    if returned is None or time.monotonic() - returned > FRESH_SECONDS:
        ConnectionPool.check_connection(conn)


def make_pool(database_url: str, *, timeout: float, max_size: int = 10,
              trust_fresh: bool = False) -> ConnectionPool:
    """A pool that is NOT opened here: nothing connects at import or construction time.

    `timeout` bounds how long a request waits for a connection, so that with the database
    down the API answers 503 quickly instead of hanging for psycopg_pool's default 30 s.
    Connections are in autocommit mode, so that nothing runs in a transaction nobody opened:
    `transaction` and `statement` open theirs explicitly.

    With `trust_fresh` (the web server's pool) a connection handed back less than
    FRESH_SECONDS ago is not checked (see above); without it (workers, the CLI) every checkout
    is checked, so that a database restart never reaches a worker's statements.
    """
    return ConnectionPool(
        database_url,
        min_size=1,
        max_size=max_size,
        timeout=timeout,
        open=False,
        kwargs={"autocommit": True, **connection_kwargs(timeout)},
        reconnect_timeout=RECONNECT_SECONDS,
        check=_check_unless_fresh if trust_fresh else ConnectionPool.check_connection,
        reset=_remember_return,
    )


def _unavailable(exc: Exception) -> DatabaseUnavailable:
    # psycopg_pool raises PoolTimeout (an OperationalError) when no connection can be made.
    return DatabaseUnavailable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


@contextmanager
def transaction(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """One connection, one transaction: committed if the block succeeds, else rolled back."""
    try:
        with pool.connection() as conn, conn.transaction():
            yield conn
    except (psycopg.OperationalError, TimeoutError) as exc:
        raise _unavailable(exc) from exc


@contextmanager
def statement(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """One connection for ONE statement that makes a whole change by itself (submit.sql's):
    on the pool's autocommit connection it is its own transaction, committed on the server as
    soon as it ends, in one round trip, without waiting for a COMMIT from here (a row it locks,
    such as the year's counter, is held no longer than that)."""
    try:
        with pool.connection() as conn:
            yield conn
    except (psycopg.OperationalError, TimeoutError) as exc:
        raise _unavailable(exc) from exc


@contextmanager
def connect(database_url: str) -> Iterator[psycopg.Connection]:
    """A single connection outside any pool (CLI, workers' step records, migrations)."""
    try:
        conn = psycopg.connect(database_url, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc).strip().splitlines()[-1]) from exc
    with conn:
        yield conn
