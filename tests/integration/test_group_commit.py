"""Group commit (submit/group_commit.py): submissions made at the same moment by one process
share one transaction, and still each commits whole or not at all, with gapless numbers.

The batches are made deterministic by holding the year's counter from another connection: the
first submission then waits inside the database while the others queue behind it, so they
leave together as the next batch once the counter is let go.
"""

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from quote_service import db
from quote_service.accounts import tokens
from quote_service.services import Services
from quote_service.submit import service
from quote_service.submit.service import NotAuthenticated, client_key, submit
from tests.integration.test_submit_statement import TODAY, counts, submission

pytestmark = pytest.mark.integration


def _transactions(conn) -> list[int]:
    """How many quotations each transaction committed (rows of one transaction share xmin)."""
    return [n for (n,) in conn.execute(
        "SELECT count(*) FROM quotations GROUP BY xmin::text::bigint ORDER BY min(id)")]


def _numbers(conn) -> list[str]:
    return [n for (n,) in conn.execute("SELECT number FROM quotations ORDER BY seq")]


def _held_counter(database_url: str, first, *rest):
    """Run `first` while the year's counter is locked elsewhere, queue `rest` behind it, then
    let the counter go; the results (or exceptions) of all, in order."""
    with psycopg.connect(database_url) as holder, ThreadPoolExecutor(len(rest) + 1) as pool:
        holder.execute("LOCK TABLE quotation_counters IN SHARE MODE")  # no counter taken
        futures = [pool.submit(first)]
        time.sleep(0.3)  # the first one is in the database, waiting for the counter
        futures += [pool.submit(call) for call in rest]
        time.sleep(0.3)  # the others are queued behind it
        holder.commit()
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(timeout=30))
            except Exception as exc:  # noqa: BLE001 - the test looks at it
                outcomes.append(exc)
        return outcomes


def test_concurrent_submissions_commit_together_with_consecutive_numbers(
        services, conn, database_url, api_token):
    token = api_token("sales")
    calls = [lambda: submit(services.pool, submission(), token=token, today=TODAY)] * 12
    results = _held_counter(database_url, *calls)
    assert sorted(r.quotation.number for r in results) == [
        f"Q-2026-{n:04d}" for n in range(1, 13)]
    assert _transactions(conn) == [1, 11]  # the first alone, the eleven queued behind it as one
    assert counts(conn) == {"quotations": 12, "quotation_lines": 12, "quotation_events": 12,
                            "procrastinate_jobs": 12, "quotation_counters": 1, "customers": 1}
    assert conn.execute("SELECT count(*) FROM quotation_events e JOIN procrastinate_jobs j "
                        "ON j.id = e.job_id AND j.args->>'quotation_id' = e.quotation_id::text"
                        ).fetchone()[0] == 12


def test_a_refused_token_in_a_batch_writes_nothing_and_the_others_commit(
        services, conn, database_url, api_token):
    good, revoked = api_token("sales"), api_token("sales")
    conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s",
                 (tokens.digest(revoked),))
    ok = lambda: submit(services.pool, submission(), token=good, today=TODAY)  # noqa: E731
    refused = lambda: submit(services.pool, submission(), token=revoked, today=TODAY)  # noqa: E731
    results = _held_counter(database_url, ok, ok, refused, ok, refused, ok)
    assert [type(r) for r in results if isinstance(r, Exception)] == [NotAuthenticated] * 2
    assert _numbers(conn) == [f"Q-2026-{n:04d}" for n in range(1, 5)]
    assert _transactions(conn) == [1, 3]


def test_racing_requests_with_one_key_in_a_batch_answer_one_quotation(
        services, conn, database_url, api_token):
    token = api_token("sales")
    keyed = lambda: submit(services.pool, submission(), token=token, today=TODAY,  # noqa: E731
                           idempotency_key=client_key("k-1"), payload={"same": "body"})
    plain = lambda: submit(services.pool, submission(), token=token, today=TODAY)  # noqa: E731
    results = _held_counter(database_url, plain, keyed, plain, keyed, keyed, plain)
    keyed_results = [results[i] for i in (1, 3, 4)]
    assert len({r.quotation.id for r in keyed_results}) == 1
    assert [r.replayed for r in keyed_results] == [False, True, True]
    assert _numbers(conn) == [f"Q-2026-{n:04d}" for n in range(1, 5)]


def test_a_failed_batch_keeps_nothing_of_it(services, conn, api_token):
    token = api_token("sales")
    twice = _params(token, idempotency_key=client_key("new"), body_hash="h")
    with pytest.raises(psycopg.errors.UniqueViolation):
        service._together(services.pool, [_params(token), twice, twice])
    assert set(counts(conn).values()) == {0}
    # The connection went back to the pool clean: the next submission is the first number.
    assert submit(services.pool, submission(), token=token,
                  today=TODAY).quotation.number == "Q-2026-0001"


def test_one_batch_answers_each_submission_its_own_outcome(services, conn, api_token):
    token, viewer, revoked = api_token("sales"), api_token("viewer"), api_token("sales")
    conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s",
                 (tokens.digest(revoked),))
    first = submit(services.pool, submission(), token=token, today=TODAY,
                   idempotency_key=client_key("k"), payload={"same": "body"})
    moved = {"customer": {"name": "Ann", "email": "ann@example.com", "address": "2 Main St"}}
    rows = service._together(services.pool, [
        _params(token),
        _params(viewer),
        _params(token, idempotency_key=client_key("k"), body_hash=service.request_hash(
            {"same": "body"})),
        _params(revoked),
        _params(token, **{"customer": {"name": "Ann", "email": "ANN@example.com"}}),
        _params(token, **moved),
    ])
    assert [r["outcome"] for r in rows] == [
        "inserted", "refused", "replayed", "refused", "inserted", "inserted"]
    assert [r["role"] for r in rows if r["outcome"] == "refused"] == ["viewer", None]
    assert rows[2]["id"] == first.quotation.id
    assert [r["number"] for r in rows if r["outcome"] == "inserted"] == [
        "Q-2026-0002", "Q-2026-0003", "Q-2026-0004"]
    # Ann twice in one batch: one customer, with the details of the batch's last submission.
    assert conn.execute("SELECT count(*), min(email), min(address) FROM customers "
                        "WHERE lower(email) = 'ann@example.com'").fetchone() == (
        1, "ann@example.com", "2 Main St")
    assert rows[4]["customer_id"] == rows[5]["customer_id"]
    assert counts(conn) == {"quotations": 4, "quotation_lines": 4, "quotation_events": 4,
                            "procrastinate_jobs": 4, "quotation_counters": 1, "customers": 2}
    assert _transactions(conn) == [1, 3]


def _params(token: str, *, idempotency_key: str | None = None, body_hash: str | None = None,
            **overrides) -> dict:
    return service._statement(submission(**overrides), user_id=None,
                              token_hash=tokens.digest(token), roles=service.SUBMITTERS,
                              idempotency_key=idempotency_key, body_hash=body_hash, today=TODAY)


def test_with_the_database_down_every_waiting_submission_fails_fast(settings):
    down = Services(dataclasses.replace(settings, database_url="postgresql://127.0.0.1:9/none"),
                    pool_timeout=0.5)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(submit, down.pool, submission(), user_id=1, today=TODAY)
                   for _ in range(8)]
        errors = [f.exception(timeout=30) for f in futures]
    assert all(isinstance(e, db.DatabaseUnavailable) for e in errors)
    assert time.monotonic() - started < 5
    down.close()


def test_many_threads_many_batches_no_gap(services, conn, api_token):
    token = api_token("sales")
    barrier = threading.Barrier(16)

    def many():
        barrier.wait()
        return [submit(services.pool, submission(), token=token, today=TODAY).quotation.seq
                for _ in range(10)]

    with ThreadPoolExecutor(16) as pool:
        seqs = sorted(s for f in [pool.submit(many) for _ in range(16)] for s in f.result())
    assert seqs == list(range(1, 161))
    assert sum(_transactions(conn)) == 160 and len(_transactions(conn)) < 160
