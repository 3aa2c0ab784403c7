"""When a worker counts as dead: silent for STALLED_WORKER_SECONDS, counted from the database
server's start at the earliest. Checked on a server of the test's own, restarted here."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.private_postgres import private_cluster

pytestmark = pytest.mark.integration


def test_a_worker_is_silent_only_since_the_server_started_at_the_earliest():
    with private_cluster() as cluster:
        url = cluster.create_database()
        with psycopg.connect(url, autocommit=True) as conn:
            # Two workers silent for ten minutes (a restart of the server, for them), each
            # running a job.
            for _ in range(2):
                worker = conn.execute(
                    "INSERT INTO procrastinate_workers (last_heartbeat) "
                    "VALUES (now() - interval '10 minutes') RETURNING id").fetchone()[0]
                conn.execute("INSERT INTO procrastinate_jobs (queue_name, task_name, status, "
                             "worker_id) VALUES ('documents', 'generate_pdf', 'doing', %s)",
                             (worker,))
        cluster.restart()
        with psycopg.connect(url, autocommit=True) as conn:
            silences = conn.execute(
                "SELECT silent_for, now() - pg_postmaster_start_time() FROM workers").fetchall()
            stalled = conn.execute("SELECT count(*) FROM stalled_jobs").fetchone()[0]

    # The server's start is the earliest a heartbeat could have come: the workers get the
    # usual 30 seconds to come back before their jobs are retried.
    assert [silent == up for silent, up in silences] == [True, True]
    assert all(up.total_seconds() < 30 for _, up in silences)
    assert stalled == 0
