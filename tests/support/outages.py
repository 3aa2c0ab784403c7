"""Driving a stack of real processes through database and network faults: a client that
submits like a well-behaved one, a converter that waits on a gate, and the checks that every
quotation was sent exactly once."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from quote_service.accounts import tokens, users
from quote_service.demo import wait_until
from tests.samples import sample_payload
from tests.support.private_postgres import PrivateCluster
from tests.support.stack import Stack


@contextmanager
def stack_on(cluster: PrivateCluster, folder: Path, password_hash: str) -> Iterator[Stack]:
    """The web server against a migrated database of `cluster`, with a sales user's token; workers are
    started by the test. Storage and outbox are under `folder`."""
    database_url = cluster.create_database()
    with psycopg.connect(database_url, autocommit=True) as conn:
        user = users.insert(conn, "sales@example.com", role="sales", password_hash=password_hash)
        token, _ = tokens.create(conn, user, "tests")
    env = {**os.environ, "DATABASE_URL": database_url,
           "STORAGE_DIR": str(folder / "storage"), "OUTBOX_DIR": str(folder / "outbox"),
           "SECRET_KEY": "test-secret", "JOB_RETRY_BASE_SECONDS": "1"}
    running = Stack(env=env, logs=folder / "logs", token=token, database_url=database_url)
    try:
        running.start_web()
        yield running
    finally:
        running.stop_all()


def gated_soffice(folder: Path) -> tuple[Path, Path, Path]:
    """A `SOFFICE_PATH` whose first conversion waits: it creates `started`, then runs the real
    soffice once `release` exists (and every later one at once)."""
    started, release, script = folder / "started", folder / "release", folder / "gated-soffice"
    script.write_text(f'#!/bin/sh\ntouch {started}\n'
                      f'while [ ! -e {release} ]; do sleep 0.05; done\nexec soffice "$@"\n')
    script.chmod(0o755)
    return script, started, release


class Submitter(threading.Thread):
    """Submits `count` quotations over HTTP, each with its own Idempotency-Key, trying each
    again after a 503 until it is accepted: what a well-behaved client does."""

    def __init__(self, stack: Stack, count: int, pause: float = 0.0):
        super().__init__(daemon=True)
        self.stack, self.count, self.pause = stack, count, pause
        self.statuses: list[int] = []
        self.accepted: list[int] = []

    def run(self) -> None:
        for i in range(self.count):
            while True:
                status, body = self.stack.post("/api/quotations", sample_payload(),
                                               **{"Idempotency-Key": f"outage-{i}"})
                self.statuses.append(status)
                if status == 202:
                    self.accepted.append(body["id"])
                    break
                time.sleep(0.2)
            time.sleep(self.pause)


def query(database_url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def count(database_url: str, sql: str, *params) -> int:
    return query(database_url, sql, *params)[0][0]


def wait_for(condition, timeout: float, message) -> None:
    if not wait_until(condition, timeout, 0.2):
        raise AssertionError(message() if callable(message) else message)


def database_answers(stack: Stack) -> bool:
    try:
        count(stack.database_url, "SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def sent(stack: Stack) -> int:
    return count(stack.database_url, "SELECT count(*) FROM quotations WHERE status = 'sent'")


def assert_all_sent_once(stack: Stack, expected: int, outbox: Path) -> None:
    url = stack.database_url
    assert count(url, "SELECT count(*) FROM quotations") == expected
    assert count(url, "SELECT count(*) FROM quotations WHERE status = 'sent'") == expected
    assert count(url, "SELECT count(DISTINCT number) FROM quotations") == expected
    # One delivery each, accepted, and one email file each.
    assert query(url, "SELECT kind, state, count(*) FROM deliveries GROUP BY 1, 2") == [
        ("initial", "accepted", expected)]
    assert len(list(outbox.glob("*.eml"))) == expected
    # Nothing left behind in the queue: no job running, none failed.
    assert count(url, "SELECT count(*) FROM procrastinate_jobs "
                      "WHERE status IN ('doing', 'failed')") == 0
