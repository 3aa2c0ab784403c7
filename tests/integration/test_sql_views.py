"""Every ```sql block of docs/sql.md and README.md runs against a migrated database holding a
bit of everything, so the queries operators copy never rot. They run in a READ ONLY
transaction: an example that writes fails here before it reaches production."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from quote_service import pipeline
from quote_service.config import PROJECT_ROOT
from quote_service.deliver.resend_limits import ResendLimits
from tests.support.queue_states import (
    add_worker,
    fail_last_attempt,
    latest_job,
    mark_sent_after,
    new_quotation,
    record_conversion,
    start_job,
    store_pdf,
)
from tests.support.unknown_outcome import parked_delivering, parked_failed

pytestmark = pytest.mark.integration

DOCUMENTS = ("docs/sql.md", "README.md")
_BLOCK = re.compile(r"^```sql[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def sql_blocks() -> list[pytest.param]:
    blocks = []
    for name in DOCUMENTS:
        path = PROJECT_ROOT / name
        if not path.exists():
            continue
        text = path.read_text()
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append(pytest.param(match.group(1), id=f"{name}:{line}"))
    return blocks


BLOCKS = sql_blocks()


def populate(services, conn: psycopg.Connection) -> None:
    """A sent quotation, a failed one with its traceback, one waiting, one whose worker died,
    and a conversion in the audit trail."""
    sent = new_quotation(services)
    delivery_id = store_pdf(conn, sent.id, latest_job(conn, sent.id)["id"])
    send_job = latest_job(conn, sent.id)["id"]
    start_job(conn, send_job)
    delivery = pipeline.lock_delivery(conn, delivery_id)
    pipeline.begin_sending(conn, delivery, "outbox", send_job)
    pipeline.record_sent(conn, delivery, "<msg-1@example>", send_job)
    conn.execute("SELECT procrastinate_finish_job_v1(%s, 'succeeded', false)", (send_job,))
    mark_sent_after(conn, sent.id, 12)
    record_conversion(conn, sent.id, 1.5)

    failed = new_quotation(services)
    fail_last_attempt(conn, failed.id, latest_job(conn, failed.id)["id"],
                      error="ConversionError: timed out after 60 s",
                      traceback="Traceback (most recent call last):\n  ...")
    new_quotation(services)
    stalled = new_quotation(services)
    start_job(conn, latest_job(conn, stalled.id)["id"], add_worker(conn, 120))


def test_the_documentation_has_its_examples():
    documented = [p for p in BLOCKS if p.id.startswith("docs/sql.md")]
    assert len(documented) >= 15
    text = (Path(PROJECT_ROOT) / "docs/sql.md").read_text()
    for view in ("quotation_pipeline", "queue_summary", "recent_failures", "running_jobs",
                 "stalled_jobs", "job_runs", "job_throughput", "pdf_conversions",
                 "deliveries_awaiting_reconciliation"):
        assert f"`{view}`" in text, view


@pytest.mark.parametrize("sql", BLOCKS)
def test_documented_query_runs(services, conn, sql):
    populate(services, conn)
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        cursor = conn.execute(sql)
        assert cursor.description is not None, "an example should show something"
        cursor.fetchall()


def test_the_views_describe_the_data(services, conn):
    populate(services, conn)
    assert len(conn.execute("SELECT * FROM job_throughput").fetchall()) == 60
    succeeded, failed = conn.execute(
        "SELECT sum(succeeded), sum(failed) FROM job_throughput").fetchone()
    assert (succeeded, failed) == (2, 1)
    assert conn.execute("SELECT count(*) FROM stalled_jobs").fetchone()[0] == 1
    # store_pdf's own generation (instant) and the one recorded as taking 1.5 s
    assert conn.execute("SELECT count(*), max(seconds) FROM pdf_conversions").fetchone() == (
        2, pytest.approx(1.5))
    outcomes = conn.execute("SELECT task_name, outcome FROM job_runs ORDER BY job_id").fetchall()
    assert outcomes == [("generate_pdf", "succeeded"), ("send_quotation", "succeeded"),
                        ("generate_pdf", "failed")]


def test_deliveries_awaiting_reconciliation_are_each_quotations_latest_unknown_one(services,
                                                                                   conn):
    delivering, first = parked_delivering(services, conn)
    failed, second = parked_failed(services, conn)
    resent, _ = parked_delivering(services, conn)
    pipeline.resend(conn, resent.id, limits=ResendLimits())
    _, settled_delivery = parked_delivering(services, conn)
    pipeline.apply_provider_event(conn, settled_delivery, "delivered", "msg-1", None)

    rows = conn.execute(
        "SELECT quotation_id, number, quotation_status, delivery_id, recipient, provider, "
        "unknown_since IS NOT NULL FROM deliveries_awaiting_reconciliation "
        "ORDER BY delivery_id").fetchall()
    assert rows == [
        (delivering.id, delivering.number, "delivering", first, "buyer@example.com",
         "sendgrid", True),
        (failed.id, failed.number, "failed", second, "buyer@example.com", "sendgrid", True)]
    # quotation_pipeline's delivery_state is the latest delivery's: the same quotations.
    assert {r[0] for r in conn.execute(
        "SELECT number FROM quotation_pipeline WHERE delivery_state = 'unknown'")} == {
        delivering.number, failed.number}
    # The few parked ones are found through their partial index, not by reading every email.
    conn.execute("SET enable_seqscan = off")
    plan = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN SELECT count(*) FROM deliveries_awaiting_reconciliation"))
    assert "deliveries_unknown" in plan
