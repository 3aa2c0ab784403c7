"""/metrics: Prometheus' text format, parsed back, with values that match the database."""

from __future__ import annotations

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from quote_service import pipeline
from quote_service.app import create_app
from quote_service.deliver.resend_limits import ResendLimits
from tests.support.queue_states import (
    add_worker,
    fail_last_attempt,
    latest_job,
    mark_sent_after,
    new_quotation,
    record_conversion,
    shift_job_events,
    start_job,
    store_pdf,
)
from tests.support.unknown_outcome import parked_delivering, parked_failed

pytestmark = pytest.mark.integration


@pytest.fixture
def client(anonymous_client):
    """/metrics is open when METRICS_TOKEN is not set."""
    return anonymous_client


def scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}
    return families


def values(family, name: str | None = None) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples
            if name is None or s.name == name}


def test_metrics_match_the_database(client, services, conn):
    sent = [new_quotation(services) for _ in range(2)]
    for quotation, seconds in zip(sent, (8, 90), strict=True):
        store_pdf(conn, quotation.id, latest_job(conn, quotation.id)["id"])
        mark_sent_after(conn, quotation.id, seconds)
    failing = new_quotation(services)
    failed_job = latest_job(conn, failing.id)["id"]
    fail_last_attempt(conn, failing.id, failed_job, error="boom")
    waiting = new_quotation(services)
    conn.execute("UPDATE quotations SET created_at = now() - interval '10 minutes' "
                 "WHERE id = %s", (waiting.id,))
    stalled = latest_job(conn, new_quotation(services).id)["id"]
    start_job(conn, stalled, add_worker(conn, heartbeat_seconds_ago=300))

    families = scrape(client)

    assert values(families["quote_service_database_up"]) == {(): 1.0}
    assert values(families["quote_service_submissions"], "quote_service_submissions_total") == {
        (): 5.0}
    assert values(families["quote_service_quotations"]) == {
        (("status", "draft"),): 0.0, (("status", "ready"),): 0.0,
        (("status", "expired"),): 0.0, (("status", "superseded"),): 0.0,
        (("status", "queued"),): 2.0, (("status", "generating"),): 0.0,
        (("status", "delivering"),): 0.0, (("status", "sent"),): 2.0,
        (("status", "failed"),): 1.0}

    depth = values(families["quote_service_queue_jobs"])
    expected = {(r[0], r[1]): r[2] for r in conn.execute(
        "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs GROUP BY 1, 2")}
    assert {(dict(k)["queue"], dict(k)["status"]): v for k, v in depth.items() if v} == expected
    assert depth[(("queue", "documents"), ("status", "todo"))] == 1.0
    assert depth[(("queue", "delivery"), ("status", "todo"))] == 2.0
    assert depth[(("queue", "delivery"), ("status", "aborted"))] == 0.0  # every status, even 0

    by_task = values(families["quote_service_jobs"])
    assert by_task[(("status", "succeeded"), ("task", "generate_pdf"))] == 2.0
    assert by_task[(("status", "failed"), ("task", "generate_pdf"))] == 1.0
    assert by_task[(("status", "doing"), ("task", "generate_pdf"))] == 1.0

    failures = values(families["quote_service_job_attempt_failures"],
                      "quote_service_job_attempt_failures_total")
    assert failures == {(("task", "generate_pdf"),): 1.0}
    assert values(families["quote_service_stalled_jobs"]) == {(): 1.0}
    oldest = values(families["quote_service_oldest_waiting_quotation_seconds"])[()]
    assert 600 <= oldest < 660

    to_sent = families["quote_service_submit_to_sent_seconds"]
    assert values(to_sent, "quote_service_submit_to_sent_seconds_count") == {(): 2.0}
    assert values(to_sent, "quote_service_submit_to_sent_seconds_sum")[()] == pytest.approx(98)
    buckets = {dict(k)["le"]: v for k, v in
               values(to_sent, "quote_service_submit_to_sent_seconds_bucket").items()}
    assert (buckets["5.0"], buckets["10.0"], buckets["60.0"], buckets["120.0"],
            buckets["+Inf"]) == (0.0, 1.0, 1.0, 2.0, 2.0)


def test_emails_awaiting_reconciliation_are_a_gauge(client, services, conn):
    family = "quote_service_deliveries_awaiting_reconciliation"
    assert values(scrape(client)[family]) == {(): 0.0}
    parked_delivering(services, conn)
    parked_failed(services, conn)
    resent, _ = parked_delivering(services, conn)
    # Settled by a deliberate resend: its new email is pending.
    pipeline.resend(conn, resent.id, limits=ResendLimits())
    _, delivery_id = parked_delivering(services, conn)
    pipeline.apply_provider_event(conn, delivery_id, "processed", "msg-1", None)

    assert values(scrape(client)[family]) == {(): 2.0}
    # Waiting for a person, not for the queue: not the oldest waiting quotation.
    conn.execute("UPDATE quotations SET created_at = now() - interval '3 hours' "
                 "WHERE id IN (SELECT quotation_id FROM deliveries_awaiting_reconciliation)")
    waiting = values(scrape(client)["quote_service_oldest_waiting_quotation_seconds"])[()]
    assert waiting < 3600


def test_job_duration_is_a_histogram_of_the_last_hours_runs(client, services, conn):
    quick, slow, old = (new_quotation(services) for _ in range(3))
    for quotation, run_seconds, ago in ((quick, 0.3, 60), (slow, 42, 120), (old, 5, 7200)):
        job = latest_job(conn, quotation.id)["id"]
        store_pdf(conn, quotation.id, job)
        shift_job_events(conn, job, seconds_ago=ago, run_seconds=run_seconds)
    failing = new_quotation(services)
    failed_job = latest_job(conn, failing.id)["id"]
    fail_last_attempt(conn, failing.id, failed_job, error="boom")
    shift_job_events(conn, failed_job, seconds_ago=30, run_seconds=2)

    families = scrape(client)
    family = families["quote_service_job_duration_seconds"]
    ok = (("outcome", "succeeded"), ("task", "generate_pdf"))
    buckets = {dict(k)["le"]: v for k, v in values(family, family.name + "_bucket").items()
               if dict(k)["outcome"] == "succeeded"}
    assert (buckets["0.25"], buckets["0.5"], buckets["30.0"], buckets["60.0"],
            buckets["+Inf"]) == (0.0, 1.0, 1.0, 2.0, 2.0)
    # In the text format a gauge histogram's count and sum are gauges of their own.
    assert values(families[family.name + "_gsum"])[ok] == pytest.approx(42.3)
    failed = (("outcome", "failed"), ("task", "generate_pdf"))
    assert values(families[family.name + "_gcount"])[failed] == 1.0


def test_conversion_time_comes_from_the_audit_trail(client, services, conn):
    for seconds in (0.8, 3.5):
        record_conversion(conn, new_quotation(services).id, seconds)
    record_conversion(conn, new_quotation(services).id, 0.01, reused=True)  # not converted

    family = scrape(client)["quote_service_conversion_seconds"]
    assert values(family, family.name + "_count") == {(): 2.0}
    assert values(family, family.name + "_sum")[()] == pytest.approx(4.3)
    buckets = {dict(k)["le"]: v for k, v in values(family, family.name + "_bucket").items()}
    assert (buckets["0.5"], buckets["1.0"], buckets["5.0"]) == (0.0, 1.0, 2.0)


def test_openmetrics_when_asked(client, services):
    new_quotation(services)
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.content_type.startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(response.get_data(as_text=True))}
    assert families["quote_service_job_duration_seconds"].type == "gaugehistogram"
    assert families["quote_service_submissions"].samples[0].value == 1.0


def test_a_database_that_is_down_is_reported_not_raised(settings):
    import dataclasses

    down = dataclasses.replace(settings, database_url="postgresql://127.0.0.1:1/none",
                               db_pool_timeout=0.5)
    flask_app = create_app(down, {"TESTING": True})
    try:
        families = scrape(flask_app.test_client())
        assert values(families["quote_service_database_up"]) == {(): 0.0}
        assert "quote_service_quotations" not in families
    finally:
        flask_app.extensions["quote_service"].close()
