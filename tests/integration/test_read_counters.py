"""The counts that triggers keep for the dashboard and /metrics (migrations/0030) agree with
the tables they count, after submissions, status changes, retries, deletes and bulk changes,
and whichever session made them; recount_counters() rebuilds the same numbers."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.queue_states import (
    fail_last_attempt,
    finish_job,
    latest_job,
    mark_sent_after,
    new_quotation,
    record_conversion,
    store_pdf,
)

pytestmark = pytest.mark.integration

TRUE_STATUSES = "SELECT status, count(*) FROM quotations GROUP BY status"
KEPT_STATUSES = ("SELECT status, sum(n) FROM quotation_status_counts GROUP BY status "
                 "HAVING sum(n) <> 0")
TRUE_JOBS = ("SELECT queue_name, task_name, status::text, count(*) FROM procrastinate_jobs "
             "GROUP BY 1, 2, 3")
KEPT_JOBS = ("SELECT queue_name, task_name, status::text, sum(n) FROM job_counts "
             "GROUP BY 1, 2, 3 HAVING sum(n) <> 0")
# Per bucket, the samples at or below its bound, as the old whole-history queries counted them.
TRUE_HISTOGRAM = """
SELECT b.le, count(s.seconds) FILTER (WHERE s.seconds <= b.le)
FROM histogram_bounds h, unnest(h.bounds) AS b(le)
LEFT JOIN (SELECT seconds FROM pdf_conversions) s ON true
WHERE h.metric = 'conversion_seconds' GROUP BY b.le
"""
KEPT_HISTOGRAM = """
SELECT b.le, coalesce((SELECT sum(n) FROM histogram_counts c
                       WHERE c.metric = 'conversion_seconds' AND c.le <= b.le), 0)
FROM histogram_bounds h, unnest(h.bounds) AS b(le)
WHERE h.metric = 'conversion_seconds'
"""
TRUE_SENT = ("SELECT count(*), round(coalesce(sum(extract(epoch FROM sent_at - created_at)), 0)"
             "::numeric, 3) "
             "FROM quotations WHERE sent_at IS NOT NULL")
KEPT_SENT = ("SELECT coalesce(sum(n), 0), round(coalesce(sum(total), 0)::numeric, 3) "
             "FROM histogram_counts WHERE metric = 'submit_to_sent_seconds'")


def as_dict(conn: psycopg.Connection, sql: str) -> dict:
    return {tuple(row[:-1]): int(row[-1]) for row in conn.execute(sql).fetchall()}


def assert_counts_agree(conn: psycopg.Connection) -> None:
    assert as_dict(conn, KEPT_STATUSES) == as_dict(conn, TRUE_STATUSES)
    assert as_dict(conn, KEPT_JOBS) == as_dict(conn, TRUE_JOBS)
    assert as_dict(conn, KEPT_HISTOGRAM) == as_dict(conn, TRUE_HISTOGRAM)
    assert conn.execute(KEPT_SENT).fetchone() == conn.execute(TRUE_SENT).fetchone()


def test_counts_follow_the_pipeline(services, conn):
    sent = new_quotation(services)
    store_pdf(conn, sent.id, latest_job(conn, sent.id)["id"])
    finish_job(conn, latest_job(conn, sent.id)["id"])
    mark_sent_after(conn, sent.id, 4.2)
    failed = new_quotation(services)
    fail_last_attempt(conn, failed.id, latest_job(conn, failed.id)["id"], error="boom")
    waiting = new_quotation(services)
    record_conversion(conn, waiting.id, 0.7)
    record_conversion(conn, waiting.id, 3.0, reused=True)
    record_conversion(conn, waiting.id, 500.0)

    assert as_dict(conn, KEPT_STATUSES)[("queued",)] == 1
    assert as_dict(conn, KEPT_JOBS)[("documents", "generate_pdf", "failed")] == 1
    assert_counts_agree(conn)


def test_counts_follow_bulk_updates_and_deletes_from_several_sessions(services, database_url,
                                                                      conn):
    made = [new_quotation(services) for _ in range(5)]
    with psycopg.connect(database_url) as other, other.transaction():
        other.execute("UPDATE quotations SET status = 'failed' WHERE id = ANY(%s)",
                      ([q.id for q in made[:3]],))
        other.execute("UPDATE procrastinate_jobs SET status = 'cancelled' "
                      "WHERE lock = ANY(%s)", ([f"quotation-{q.id}" for q in made[:2]],))
    assert_counts_agree(conn)

    conn.execute("DELETE FROM procrastinate_jobs WHERE status = 'cancelled'")
    with conn.transaction():
        conn.execute("DELETE FROM quotation_events WHERE quotation_id = %s", (made[4].id,))
        conn.execute("DELETE FROM quotation_lines WHERE quotation_id = %s", (made[4].id,))
        conn.execute("DELETE FROM procrastinate_jobs WHERE lock = %s", (f"quotation-{made[4].id}",))
        conn.execute("DELETE FROM quotations WHERE id = %s", (made[4].id,))
    assert_counts_agree(conn)


def test_a_rolled_back_change_leaves_the_counts_alone(services, conn):
    made = new_quotation(services)
    before = as_dict(conn, KEPT_STATUSES), as_dict(conn, KEPT_JOBS)
    with pytest.raises(psycopg.errors.RaiseException), conn.transaction():
        conn.execute("UPDATE quotations SET status = 'sent' WHERE id = %s", (made.id,))
        conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE lock = %s",
                     (f"quotation-{made.id}",))
        conn.execute("DO $$ BEGIN RAISE EXCEPTION 'changed my mind'; END $$")
    assert (as_dict(conn, KEPT_STATUSES), as_dict(conn, KEPT_JOBS)) == before


def test_recount_rebuilds_the_same_numbers(services, conn):
    sent = new_quotation(services)
    mark_sent_after(conn, sent.id, 12.0)
    record_conversion(conn, sent.id, 1.5)
    new_quotation(services)
    kept = [as_dict(conn, sql) for sql in (KEPT_STATUSES, KEPT_JOBS, KEPT_HISTOGRAM)]
    conn.execute("UPDATE quotation_status_counts SET n = n + 100")  # counts gone wrong
    conn.execute("SELECT recount_counters()")
    assert [as_dict(conn, sql) for sql in (KEPT_STATUSES, KEPT_JOBS, KEPT_HISTOGRAM)] == kept
    assert_counts_agree(conn)


def test_the_histograms_bounds_are_those_metrics_expose(conn):
    bounds = dict(conn.execute("SELECT metric, bounds FROM histogram_bounds").fetchall())
    assert bounds == {
        "conversion_seconds": [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0],
        "submit_to_sent_seconds": [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                                   1800.0, 3600.0],
    }
