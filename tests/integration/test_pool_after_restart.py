"""The web server's pool hands out a connection that was just used without checking it first
(db.py, FRESH_SECONDS). After a database restart such a connection is dead: the request that gets it
is answered 503 (DatabaseUnavailable, never a 500), the pool drops it, and the next request
is served, with no one stepping in. Checked on a server of the test's own, restarted here."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from quote_service import db
from quote_service.accounts import users
from quote_service.domain.validation import parse_submission
from quote_service.submit.service import submit
from tests.samples import sample_payload
from tests.support.private_postgres import private_cluster

pytestmark = pytest.mark.integration


def test_a_restart_costs_at_most_one_503_per_pooled_connection_then_submits_recover():
    with private_cluster() as cluster:
        url = cluster.create_database()
        with db.connect(url) as conn:
            user = users.insert(conn, "sales@example.com", role="sales", password_hash="!").id
        pool = db.make_pool(url, timeout=1.0, max_size=1, trust_fresh=True)
        pool.open(wait=True)
        submission = parse_submission(sample_payload(), templates={"standard"},
                                      today=dt.date(2026, 11, 28))
        try:
            assert submit(pool, submission, user_id=user).quotation.seq == 1
            cluster.restart()
            outcomes = []
            started = time.monotonic()
            for _ in range(3):
                try:
                    outcomes.append(submit(pool, submission, user_id=user).quotation.seq)
                except db.DatabaseUnavailable:
                    outcomes.append("503")
            elapsed = time.monotonic() - started
        finally:
            pool.close()
    # The one pooled connection died with the server: at most its request is refused, and
    # the numbers stay gapless across it.
    assert outcomes in (["503", 2, 3], [2, 3, 4])
    assert elapsed < 3
