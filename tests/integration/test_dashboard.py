"""The queue dashboard against a real database: what it shows and what its actions change."""

from __future__ import annotations

import re

import pytest

from quote_service import db, pipeline, queue
from quote_service.deliver.resend_limits import ResendLimits
from quote_service.deliver.step import fail_delivery
from quote_service.web import dashboard
from tests.support.queue_states import (
    CSRF,
    add_worker,
    fail_last_attempt,
    finish_job,
    job_status,
    latest_job,
    mark_sent_after,
    new_quotation,
    quotation_status,
    shift_job_events,
    start_job,
    store_pdf,
    with_csrf,
)
from tests.support.unknown_outcome import (
    LOST,
    parked_delivering,
    parked_failed,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def client(client_as):
    """An admin, with a known CSRF token for the dashboard's forms."""
    test_client = client_as("admin")
    with_csrf(test_client)
    return test_client


def post(client, path: str, **form):
    return client.post(path, data={"csrf_token": CSRF, **form})


def failed_quotation(services, conn, error: str = "ConversionError: LibreOffice crashed",
                     traceback: str = "Traceback (most recent call last):\n  boom"):
    quotation = new_quotation(services)
    job = latest_job(conn, quotation.id)
    fail_last_attempt(conn, quotation.id, job["id"], error=error, traceback=traceback)
    return quotation, job["id"]


def maintenance_job(conn, status: str = "failed") -> int:
    """A job that belongs to no quotation, run by a worker to `status`."""
    job_id = conn.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args) "
        "VALUES ('maintenance', 'retry_stalled_jobs', '{\"timestamp\": 0}') RETURNING id"
    ).fetchone()[0]
    if status != "todo":
        start_job(conn, job_id)
        finish_job(conn, job_id, status)
    return job_id


def flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


# --- counts -----------------------------------------------------------------------------------

def test_counts_per_queue_and_status_in_page_and_json(client, services, conn):
    new_quotation(services)
    failed_quotation(services, conn)
    maintenance_job(conn, "succeeded")

    page = client.get("/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for queue_name in ("documents", "delivery", "maintenance"):
        assert f'data-queue="{queue_name}"' in html
    assert re.search(r'data-queue="documents" data-status="todo">1<', html)
    assert re.search(r'data-queue="documents" data-status="failed">1<', html)

    body = client.get("/dashboard/counts.json").get_json()
    assert body["queues"]["documents"] == {"todo": 1, "doing": 0, "succeeded": 0, "failed": 1,
                                           "cancelled": 0, "aborted": 0}
    assert body["queues"]["maintenance"]["succeeded"] == 1
    assert body["queues"]["delivery"] == dict.fromkeys(queue.JOB_STATUSES, 0)
    assert body["totals"]["todo"] == 1 and body["totals"]["failed"] == 1


def test_overview_refreshes_with_or_without_javascript(client):
    html = client.get("/dashboard").get_data(as_text=True)
    assert '<noscript><meta http-equiv="refresh"' in html
    assert 'href="/dashboard">Refresh</a>' in html
    assert 'data-counts-url="/dashboard/counts.json"' in html
    script = client.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200 and b"counts" in script.data
    script.close()


# --- the jobs list ----------------------------------------------------------------------------

def test_jobs_list_is_newest_first_and_keyset_paginated(client, services, conn, monkeypatch):
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 2)
    ids = [latest_job(conn, new_quotation(services).id)["id"] for _ in range(5)]

    def shown(html: str) -> list[int]:
        return [int(n) for n in re.findall(r'href="/dashboard/jobs/(\d+)">#', html)]

    first = client.get("/dashboard/jobs?status=todo").get_data(as_text=True)
    assert shown(first) == [ids[4], ids[3]]
    assert f"before={ids[3]}" in first
    second = client.get(f"/dashboard/jobs?status=todo&before={ids[3]}").get_data(as_text=True)
    assert shown(second) == [ids[2], ids[1]]
    last = client.get(f"/dashboard/jobs?status=todo&before={ids[1]}").get_data(as_text=True)
    assert shown(last) == [ids[0]]
    assert 'rel="next"' not in last


def test_jobs_list_filters_by_status_task_and_queue(client, services, conn):
    sending = new_quotation(services)
    generated_job = latest_job(conn, sending.id)["id"]
    store_pdf(conn, sending.id, generated_job)
    send_job = latest_job(conn, sending.id)["id"]
    waiting_job = latest_job(conn, new_quotation(services).id)["id"]
    _, failed_job = failed_quotation(services, conn)

    def shown(query: str) -> set[int]:
        html = client.get(f"/dashboard/jobs?{query}").get_data(as_text=True)
        return {int(n) for n in re.findall(r'href="/dashboard/jobs/(\d+)">#', html)}

    assert shown("task=send_quotation") == {send_job}
    assert shown("queue=delivery") == {send_job}
    assert shown("queue=documents&status=todo") == {waiting_job}
    assert shown("status=failed") == {failed_job}
    assert shown("task=generate_pdf&status=succeeded") == {generated_job}
    assert client.get("/dashboard/jobs?status=bogus").status_code == 400
    assert client.get("/dashboard/jobs?before=x").status_code == 400


def test_a_job_with_unexpected_args_is_listed_not_fatal(client, conn):
    job_id = conn.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args) "
        "VALUES ('documents', 'generate_pdf', '{\"quotation_id\": \"12x\"}') RETURNING id"
    ).fetchone()[0]
    assert f"/dashboard/jobs/{job_id}" in client.get("/dashboard/jobs").get_data(as_text=True)
    assert "does not belong to a quotation" in client.get(f"/dashboard/jobs/{job_id}").get_data(
        as_text=True)
    assert post(client, f"/dashboard/jobs/{job_id}/cancel").status_code == 303
    assert job_status(conn, job_id) == "cancelled"


# --- the job detail ---------------------------------------------------------------------------

def test_job_detail_shows_its_quotation_timeline_and_escaped_failures(client, services, conn):
    quotation, job_id = failed_quotation(
        services, conn, error="RenderError: <script>alert('error')</script>",
        traceback='Traceback (most recent call last):\n  File "x.py"\n<script>alert(1)</script>')

    html = client.get(f"/dashboard/jobs/{job_id}").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "RenderError: &lt;script&gt;alert(&#39;error&#39;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f'href="/quotations/{quotation.id}">{quotation.number}</a>' in html
    assert "generate_pdf" in html and "documents" in html and f"quotation-{quotation.id}" in html
    assert f"&#34;quotation_id&#34;: {quotation.id}" in html
    timeline = html[html.index('id="events-title"'):html.index('id="failures-title"')]
    assert [kind for kind in ("deferred", "started", "failed") if kind in timeline] == [
        "deferred", "started", "failed"]
    assert "Attempt 1" in html


def test_missing_job_is_404(client):
    assert client.get("/dashboard/jobs/999999").status_code == 404


# --- actions ----------------------------------------------------------------------------------

def test_retrying_a_failed_quotations_job_resumes_the_quotation(client, services, conn):
    quotation, job_id = failed_quotation(services, conn)

    response = post(client, f"/dashboard/jobs/{job_id}/retry")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/dashboard/jobs/{job_id}"
    assert quotation_status(conn, quotation.id) == "queued"
    new = latest_job(conn, quotation.id)
    assert (new["task_name"], new["status"]) == ("generate_pdf", "todo") and new["id"] > job_id
    assert job_status(conn, job_id) == "failed"  # kept as history, followed by the new job
    kinds = [r[0] for r in conn.execute(
        "SELECT kind FROM quotation_events WHERE quotation_id = %s ORDER BY id", (quotation.id,))]
    assert kinds[-1] == "retry_requested"
    old_page = client.get(f"/dashboard/jobs/{job_id}").get_data(as_text=True)
    assert f"job #{new['id']}</a>" in old_page and "/retry" not in old_page

    # The same failed job cannot start a second retry.
    post(client, f"/dashboard/jobs/{job_id}/retry")
    assert ("error", f"Not done: job {job_id} was already followed by job {new['id']}.") in (
        flashes(client))
    assert latest_job(conn, quotation.id)["id"] == new["id"]


def test_retrying_a_failed_send_makes_a_new_delivery(client, services, conn):
    quotation = new_quotation(services)
    first_delivery = store_pdf(conn, quotation.id, latest_job(conn, quotation.id)["id"])
    send_job = latest_job(conn, quotation.id)["id"]
    fail_last_attempt(conn, quotation.id, send_job, error="MailRejected: bad address",
                      step=pipeline.SEND, task_name="send_quotation")
    fail_delivery(conn, first_delivery, "MailRejected: bad address", send_job)

    assert post(client, f"/dashboard/jobs/{send_job}/retry").status_code == 303
    assert quotation_status(conn, quotation.id) == "delivering"
    new = latest_job(conn, quotation.id)
    assert (new["task_name"], new["status"]) == ("send_quotation", "todo")
    assert new["args"]["delivery_id"] != first_delivery
    kind = conn.execute("SELECT kind FROM deliveries WHERE id = %s",
                        (new["args"]["delivery_id"],)).fetchone()[0]
    assert kind == "retry"


def test_a_failed_job_without_quotation_is_retried_in_place(client, conn):
    job_id = maintenance_job(conn, "failed")
    assert post(client, f"/dashboard/jobs/{job_id}/retry").status_code == 303
    row = conn.execute("SELECT status::text, attempts, scheduled_at <= now() "
                       "FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()
    assert row == ("todo", 2, True)
    events = [r[0] for r in conn.execute(
        "SELECT type::text FROM procrastinate_events WHERE job_id = %s ORDER BY id", (job_id,))]
    assert "retried" in events


def test_retry_refuses_a_job_that_did_not_fail(client, services, conn):
    job_id = latest_job(conn, new_quotation(services).id)["id"]
    post(client, f"/dashboard/jobs/{job_id}/retry")
    assert ("error", f"Not done: job {job_id} is todo, not failed.") in flashes(client)
    assert job_status(conn, job_id) == "todo"


def test_retry_all_failed_asks_first_then_retries_each(client, services, conn):
    failed = [failed_quotation(services, conn) for _ in range(3)]
    untouched = latest_job(conn, new_quotation(services).id)["id"]
    parked, _ = parked_failed(services, conn)  # its email may have gone out: not retryable

    page = client.get("/dashboard/retry-failed").get_data(as_text=True)
    assert "Retry 3 failed jobs?" in page
    assert 'name="confirm" value="yes"' in page

    not_confirmed = post(client, "/dashboard/retry-failed")
    assert not_confirmed.status_code == 303
    assert not_confirmed.headers["Location"].endswith("/dashboard/retry-failed")
    assert all(quotation_status(conn, q.id) == "failed" for q, _ in failed)

    done = post(client, "/dashboard/retry-failed", confirm="yes")
    assert done.status_code == 303
    for quotation, old_job in failed:
        assert quotation_status(conn, quotation.id) == "queued"
        assert latest_job(conn, quotation.id)["id"] != old_job
    assert job_status(conn, untouched) == "todo"
    assert ("success", "Retried 3 failed jobs.") in flashes(client)
    assert "No failed job to retry." in client.get("/dashboard/retry-failed").get_data(
        as_text=True)
    assert quotation_status(conn, parked.id) == "failed"


def test_run_now_brings_a_scheduled_job_forward(client, services, conn):
    job_id = latest_job(conn, new_quotation(services).id)["id"]
    post(client, f"/dashboard/jobs/{job_id}/run-now")
    assert ("error", f"Not done: job {job_id} is not waiting for a later time.") in (
        flashes(client))

    conn.execute("UPDATE procrastinate_jobs SET scheduled_at = now() + interval '1 hour' "
                 "WHERE id = %s", (job_id,))
    assert "Run now" in client.get(f"/dashboard/jobs/{job_id}").get_data(as_text=True)
    assert post(client, f"/dashboard/jobs/{job_id}/run-now").status_code == 303
    due = conn.execute("SELECT status::text, scheduled_at <= now() FROM procrastinate_jobs "
                       "WHERE id = %s", (job_id,)).fetchone()
    assert due == ("todo", True)


def test_cancelling_a_waiting_job_fails_its_quotation_visibly(client, services, conn):
    quotation = new_quotation(services)
    job_id = latest_job(conn, quotation.id)["id"]

    assert post(client, f"/dashboard/jobs/{job_id}/cancel").status_code == 303
    assert job_status(conn, job_id) == "cancelled"
    row = conn.execute("SELECT status, failed_step, last_error FROM quotations WHERE id = %s",
                       (quotation.id,)).fetchone()
    assert row == ("failed", "generate", "generate: cancelled from the dashboard")

    # Only waiting jobs are cancelled.
    post(client, f"/dashboard/jobs/{job_id}/cancel")
    assert ("error", f"Not done: job {job_id} is cancelled: only a waiting job can be "
                     "cancelled.") in flashes(client)


def test_deleting_finished_jobs_keeps_recent_ones_and_every_record(client, services, conn):
    old_quotation, old_failed = failed_quotation(services, conn)
    shift_job_events(conn, old_failed, seconds_ago=200 * 3600)
    old_ok = maintenance_job(conn, "succeeded")
    shift_job_events(conn, old_ok, seconds_ago=200 * 3600)
    recent_ok = maintenance_job(conn, "succeeded")
    waiting = latest_job(conn, new_quotation(services).id)["id"]
    conn.execute("UPDATE procrastinate_events SET at = now() - interval '300 hours' "
                 "WHERE job_id = %s", (waiting,))

    assert post(client, "/dashboard/delete-finished", hours="168").status_code == 303
    assert job_status(conn, old_failed) is None and job_status(conn, old_ok) is None
    assert job_status(conn, recent_ok) == "succeeded"
    assert job_status(conn, waiting) == "todo"
    assert ("success", "Deleted 2 jobs finished more than 168 hours ago.") in flashes(client)
    assert quotation_status(conn, old_quotation.id) == "failed"
    assert conn.execute("SELECT count(*) FROM job_failures WHERE job_id = %s",
                        (old_failed,)).fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM quotation_events WHERE quotation_id = %s",
                        (old_quotation.id,)).fetchone()[0] >= 2

    post(client, "/dashboard/delete-finished", hours="0")
    assert ("error", "Give the age in whole hours, at least 1.") in flashes(client)


# --- who may act ------------------------------------------------------------------------------

def test_a_viewer_sees_but_does_not_act(client_as, services, conn):
    viewer = client_as("viewer")
    with_csrf(viewer)
    quotation, failed_job = failed_quotation(services, conn)
    waiting = latest_job(conn, new_quotation(services).id)["id"]

    html = viewer.get("/dashboard").get_data(as_text=True)
    assert "Read-only" in html
    assert "/retry\"" not in html and "Retry all failed" not in html
    assert "/dashboard/delete-finished" not in html
    detail = viewer.get(f"/dashboard/jobs/{failed_job}").get_data(as_text=True)
    assert f"/dashboard/jobs/{failed_job}/retry" not in detail

    for path, form in ((f"/dashboard/jobs/{failed_job}/retry", {}),
                       (f"/dashboard/jobs/{waiting}/run-now", {}),
                       (f"/dashboard/jobs/{waiting}/cancel", {}),
                       ("/dashboard/retry-failed", {"confirm": "yes"}),
                       ("/dashboard/delete-finished", {"hours": "1"})):
        assert post(viewer, path, **form).status_code == 403, path
    assert quotation_status(conn, quotation.id) == "failed"
    assert job_status(conn, waiting) == "todo"


def test_an_admin_acts(client, services, conn):
    quotation, failed_job = failed_quotation(services, conn)
    assert "Retry all failed (1)" in client.get("/dashboard").get_data(as_text=True)
    assert post(client, f"/dashboard/jobs/{failed_job}/retry").status_code == 303
    assert quotation_status(conn, quotation.id) == "queued"


def test_actions_need_the_forms_csrf_token(client, services, conn):
    _, failed_job = failed_quotation(services, conn)
    response = client.post(f"/dashboard/jobs/{failed_job}/retry",
                           data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert job_status(conn, failed_job) == "failed"


def test_after_an_action_only_a_dashboard_page_is_a_destination(client, conn):
    job_id = maintenance_job(conn, "failed")
    response = post(client, f"/dashboard/jobs/{job_id}/retry", next="//evil.example/x")
    assert response.headers["Location"] == f"/dashboard/jobs/{job_id}"
    job_id = maintenance_job(conn, "failed")
    response = post(client, f"/dashboard/jobs/{job_id}/retry", next="/dashboard/jobs?status=x")
    assert response.headers["Location"] == "/dashboard/jobs?status=x"


# --- stalled jobs, pipeline, chart ------------------------------------------------------------

def test_stalled_jobs_are_those_of_silent_or_gone_workers(client, services, conn):
    silent, alive = add_worker(conn, heartbeat_seconds_ago=120), add_worker(conn)
    stalled_job = latest_job(conn, new_quotation(services).id)["id"]
    healthy_job = latest_job(conn, new_quotation(services).id)["id"]
    orphan_job = latest_job(conn, new_quotation(services).id)["id"]
    start_job(conn, stalled_job, silent)
    start_job(conn, healthy_job, alive)
    start_job(conn, orphan_job, add_worker(conn, heartbeat_seconds_ago=500))
    conn.execute("SELECT procrastinate_prune_stalled_workers_v1(400)")  # the orphan's worker

    html = client.get("/dashboard").get_data(as_text=True)
    section = html[html.index('id="stalled-title"'):html.index('id="failed-title"')]
    assert f"/dashboard/jobs/{stalled_job}" in section and f"worker #{silent}" in section
    assert f"/dashboard/jobs/{orphan_job}" in section and "gone" in section
    assert f"/dashboard/jobs/{healthy_job}\"" not in section
    assert {r[0] for r in conn.execute("SELECT job_id FROM stalled_jobs")} == {
        stalled_job, orphan_job}


def test_pipeline_at_a_glance(client, services, conn):
    for seconds in (10, 20, 30, 40):
        mark_sent_after(conn, new_quotation(services).id, seconds)
    mark_sent_after(conn, new_quotation(services).id, 5, ago=2 * 3600)  # not in the last hour
    failed_quotation(services, conn)
    waiting = new_quotation(services)
    conn.execute("UPDATE quotations SET created_at = now() - interval '2 hours 5 minutes' "
                 "WHERE id = %s", (waiting.id,))
    new_quotation(services)
    parked, _ = parked_delivering(services, conn)  # waits for a person, not the queue
    conn.execute("UPDATE quotations SET created_at = now() - interval '3 hours' WHERE id = %s",
                 (parked.id,))

    with db.connect(services.settings.database_url) as tx:
        stats = dashboard.read_pipeline_stats(tx)
    assert stats.by_status == {"draft": 0, "queued": 2, "generating": 0, "ready": 0,
                               "delivering": 1, "sent": 5, "failed": 1, "expired": 0,
                               "superseded": 0}
    assert stats.oldest_waiting["id"] == waiting.id
    assert stats.sent_last_hour == 4
    assert stats.median_seconds == pytest.approx(25, abs=0.01)
    assert stats.p95_seconds == pytest.approx(38.5, abs=0.01)

    html = client.get("/dashboard").get_data(as_text=True)
    assert f'href="/quotations/{waiting.id}">{waiting.number}</a>' in html
    assert "2 h 05 min" in html
    assert "median <strong>25 s</strong>" in html and "<strong>38 s</strong>" in html


def reconcile_section(html: str) -> str:
    return html[html.index('id="reconcile"'):html.index('id="pipeline-title"')]


def test_emails_awaiting_reconciliation_are_listed_with_their_count(client, services, conn):
    html = client.get("/dashboard").get_data(as_text=True)
    assert "No email awaits reconciliation." in reconcile_section(html)
    assert client.get("/dashboard/counts.json").get_json()["needs_reconciliation"] == 0

    delivering, first = parked_delivering(services, conn)
    failed, second = parked_failed(services, conn, error="WorkerLost: <worker 3> is gone",
                                   customer={"name": "Ana", "email": "ana@example.com"})
    conn.execute("UPDATE deliveries SET updated_at = now() - interval '3 hours' WHERE id = %s",
                 (second,))
    # Settled: by the provider's webhook, or by a deliberate resend after checking.
    settled, settled_delivery = parked_delivering(services, conn)
    pipeline.apply_provider_event(conn, settled_delivery, "delivered", "msg-1", None)
    resent, _ = parked_delivering(services, conn)
    pipeline.resend(conn, resent.id, limits=ResendLimits())

    section = reconcile_section(client.get("/dashboard").get_data(as_text=True))
    assert re.search(r'data-reconcile-count data-shown="2">2<', section)
    rows = re.findall(r'href="/quotations/(\d+)"', section)
    assert rows == [str(failed.id), str(delivering.id)]  # longest parked first
    assert 'class="badge badge-failed"' in section and 'class="badge badge-delivering"' in section
    assert "ana@example.com" in section and "buyer@example.com" in section
    assert f"#{first} · sendgrid" in section and f"#{second} · sendgrid" in section
    assert "3 h 00 min ago" in section
    assert LOST in section
    assert "WorkerLost: &lt;worker 3&gt; is gone" in section
    assert "No email awaits" not in section
    assert client.get("/dashboard/counts.json").get_json()["needs_reconciliation"] == 2


def test_the_reconciliation_list_is_bounded(client, services, conn, monkeypatch):
    monkeypatch.setattr(dashboard, "RECONCILIATION_ROWS", 2)
    for _ in range(3):
        parked_delivering(services, conn)
    section = reconcile_section(client.get("/dashboard").get_data(as_text=True))
    assert re.search(r"data-reconcile-count[^>]*>3<", section)
    assert len(re.findall(r'href="/quotations/\d+"', section)) == 2
    assert "The 2 parked longest of 3" in section


def test_throughput_chart_is_inline_svg_of_the_last_hour(client, services, conn):
    recent = [maintenance_job(conn, "succeeded") for _ in range(3)]
    recent.append(failed_quotation(services, conn)[1])
    old = maintenance_job(conn, "succeeded")
    shift_job_events(conn, old, seconds_ago=2 * 3600)
    # All in one minute, ten minutes ago, whatever second the test runs at.
    conn.execute("UPDATE procrastinate_events "
                 "SET at = date_trunc('minute', now()) - interval '10 minutes 30 seconds' "
                 "WHERE job_id = ANY(%s)", (recent,))

    html = client.get("/dashboard").get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<title>") == 60
    assert svg.count('class="dash-bar-ok"') == 1 and svg.count('class="dash-bar-failed"') == 1
    assert "3 jobs succeeded and 1 failed in the last 60 minutes" in svg
    assert ": 3 succeeded, 1 failed</title>" in svg


def test_chart_scales_bars_to_the_busiest_minute():
    import datetime as dt

    start = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
    rows = [{"minute": start + dt.timedelta(minutes=i), "succeeded": s, "failed": f}
            for i, (s, f) in enumerate([(0, 0), (4, 1), (2, 0)])]
    chart = dashboard.throughput_chart(rows, plot_height=100)
    assert chart.peak == 5
    busiest = chart.columns[1]
    assert busiest.succeeded_height == pytest.approx(80)
    assert busiest.failed_height == pytest.approx(20)
    assert busiest.failed_y == pytest.approx(chart.top)
    assert chart.columns[0].succeeded_height == 0
    assert [label for _, label in chart.ticks] == ["10:00", "10:02"]


def test_every_dashboard_page_has_the_dashboard_styles(client, conn):
    job_id = maintenance_job(conn, "failed")
    for path in ("/dashboard", "/dashboard/jobs", f"/dashboard/jobs/{job_id}",
                 "/dashboard/retry-failed"):
        html = client.get(path).get_data(as_text=True)
        assert "/dashboard/static/dashboard.css" in html, path
