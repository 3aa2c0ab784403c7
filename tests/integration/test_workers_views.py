"""The workers as operators see them, from the `workers` view: `quote-service workers` (a
health check too), the dashboard's workers page, and /metrics."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from quote_service.cli import main
from tests.support.queue_states import (
    CSRF,
    add_worker,
    describe_worker,
    latest_job,
    new_quotation,
    start_job,
    with_csrf,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet(conn, services):
    """Three workers: a live one on documents running a quotation's job, a live one on all
    queues, and one silent for two minutes on delivery."""
    documents = add_worker(conn)
    describe_worker(conn, documents, host="pdf-1", pid=4101, queues=["documents"], concurrency=2)
    everything = add_worker(conn, heartbeat_seconds_ago=3)
    describe_worker(conn, everything, host="pdf-2", pid=4202)
    silent = add_worker(conn, heartbeat_seconds_ago=120)
    describe_worker(conn, silent, host="mail-1", pid=4303, queues=["delivery"],
                    concurrency=4)
    quotation = new_quotation(services)
    job = latest_job(conn, quotation.id)["id"]
    start_job(conn, job, documents)
    return {"documents": documents, "everything": everything, "silent": silent, "job": job,
            "number": quotation.number}


def run_cli(database_url: str, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    return CliRunner().invoke(main, ["workers"])


def test_the_cli_lists_each_worker_and_what_it_runs(fleet, database_url, monkeypatch):
    result = run_cli(database_url, monkeypatch)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["WORKER", "HOST", "PID", "QUEUES", "CONCURRENCY", "STARTED",
                                "(UTC)", "HEARTBEAT", "STATE", "RUNNING"]
    by_host = {line.split()[1]: line for line in lines[1:]}
    assert by_host["pdf-1"].split()[2:5] == ["4101", "documents", "2"]
    assert f"generate_pdf {fleet['number']} (attempt 1)" in by_host["pdf-1"]
    assert "all queues" in by_host["pdf-2"] and "alive" in by_host["pdf-2"]
    assert "delivery" in by_host["mail-1"] and "silent" in by_host["mail-1"]
    assert 119 < int(re.search(r"(\d+) s ago", by_host["mail-1"]).group(1)) < 130


def test_the_cli_fails_when_a_queue_has_no_live_worker(conn, database_url, monkeypatch):
    documents = add_worker(conn)
    describe_worker(conn, documents, host="pdf-1", pid=1, queues=["documents"])
    silent = add_worker(conn, heartbeat_seconds_ago=120)
    describe_worker(conn, silent, host="mail-1", pid=2, queues=["delivery"])

    result = run_cli(database_url, monkeypatch)

    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "no live worker listens on: delivery"


def test_no_worker_at_all_is_unhealthy(database_url, monkeypatch):
    result = run_cli(database_url, monkeypatch)
    assert result.exit_code == 1
    assert "no live worker listens on: documents, delivery" in result.output


def test_the_dashboard_lists_the_workers(fleet, client_as):
    html = client_as("viewer").get("/dashboard/workers").get_data(as_text=True)

    assert "3 registered workers" in html
    for host, pid in (("pdf-1", 4101), ("pdf-2", 4202), ("mail-1", 4303)):
        assert f"<td>{host}</td>" in html and f">{pid}</td>" in html
    assert f"/dashboard/jobs/{fleet['job']}" in html and fleet["number"] in html
    assert html.count("badge-succeeded\">alive") == 2 and html.count("badge-failed\">silent") == 1
    assert "No live worker listens on" not in html  # pdf-2 takes every queue


def test_the_overview_warns_of_a_queue_without_live_worker(conn, client_as):
    silent = add_worker(conn, heartbeat_seconds_ago=120)
    describe_worker(conn, silent, host="mail-1", pid=1, queues=["delivery"])

    html = client_as("viewer").get("/dashboard").get_data(as_text=True)

    assert "No live worker listens on documents, delivery" in html
    assert "Workers (0 alive)" in html


def test_metrics_per_worker_and_per_queue(fleet, anonymous_client):
    text = anonymous_client.get("/metrics").get_data(as_text=True)
    families = {f.name: f for f in text_string_to_metric_families(text)}

    running = {s.labels["host"]: s.value
               for s in families["quote_service_worker_jobs_running"].samples}
    assert running == {"pdf-1": 1, "pdf-2": 0, "mail-1": 0}
    silence = {s.labels["host"]: s.value
               for s in families["quote_service_worker_silence_seconds"].samples}
    assert silence["pdf-1"] < 5 and 119 < silence["mail-1"] < 130
    [pdf_1] = [s.labels for s in families["quote_service_worker_silence_seconds"].samples
               if s.labels["host"] == "pdf-1"]
    assert pdf_1 == {"worker_id": str(fleet["documents"]), "host": "pdf-1", "pid": "4101",
                     "queues": "documents"}
    live = {s.labels["queue"]: s.value
            for s in families["quote_service_queue_live_workers"].samples}
    assert live == {"documents": 2, "delivery": 1}


def post(client, path: str):
    with_csrf(client)
    return client.post(path, data={"csrf_token": CSRF})


def test_an_admin_pauses_and_resumes_a_queue_from_the_dashboard(client_as, conn):
    admin = client_as("admin")

    assert post(admin, "/dashboard/queues/documents/pause").status_code == 303
    assert conn.execute("SELECT queue_name, paused_by FROM queue_pauses").fetchall() == [
        ("documents", "admin@example.com")]
    overview = admin.get("/dashboard").get_data(as_text=True)
    assert ">paused</span>" in overview and "/dashboard/queues/documents/resume" in overview
    page = admin.get("/dashboard/workers").get_data(as_text=True)
    assert "by admin@example.com" in page

    post(admin, "/dashboard/queues/documents/pause")  # twice: said, changes nothing
    with admin.session_transaction() as session:
        assert ("error", "Not done: the documents queue is paused already.") in session[
            "_flashes"]
    assert post(admin, "/dashboard/queues/documents/resume").status_code == 303
    assert conn.execute("SELECT count(*) FROM queue_pauses").fetchone()[0] == 0


def test_only_admins_pause_and_only_real_queues(client_as, conn):
    viewer = client_as("viewer")
    assert "/pause" not in viewer.get("/dashboard").get_data(as_text=True)
    assert post(viewer, "/dashboard/queues/documents/pause").status_code == 403
    admin = client_as("admin")
    post(admin, "/dashboard/queues/nowhere/pause")
    with admin.session_transaction() as session:
        [(_, message)] = session["_flashes"]
    assert message.startswith("Not done: no queue 'nowhere'")
    assert conn.execute("SELECT count(*) FROM queue_pauses").fetchone()[0] == 0


def test_the_cli_pauses_lists_and_resumes(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    assert runner.invoke(main, ["queues", "pause", "delivery"]).output == "queue delivery: paused\n"
    assert runner.invoke(main, ["queues", "pause", "delivery"]).output == (
        "queue delivery was paused already\n")
    listing = runner.invoke(main, ["queues"]).output.splitlines()
    assert listing[0].split() == ["QUEUE", "STATE", "WAITING", "RUNNING", "LIVE", "WORKERS"]
    assert listing[1].split()[:2] == ["documents", "running"]
    assert listing[2].split()[:3] == ["delivery", "paused", "by"]
    refused = runner.invoke(main, ["queues", "resume", "mail"])
    assert refused.exit_code == 1 and "no queue 'mail'" in refused.output
    assert runner.invoke(main, ["queues", "resume", "delivery"]).output == (
        "queue delivery: resumed\n")


def test_the_workers_page_shows_the_maintenance_routines_last_runs(conn, client_as):
    conn.execute("INSERT INTO maintenance_runs (task, due_at, started_at, finished_at, "
                 "worker_id, outcome) VALUES ('recover_stalled_jobs', now() + interval '10 s', "
                 "now() - interval '5 s', now() - interval '5 s', 7, '0 stalled job(s) settled')")

    page = client_as("viewer").get("/dashboard/workers").get_data(as_text=True)

    assert "<code>recover_stalled_jobs</code>" in page and "worker #7" in page
    assert "0 stalled job(s) settled" in page
