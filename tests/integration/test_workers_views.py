"""The workers as operators see them, from the `workers` view: `quote-service workers` (a
health check too), the dashboard's workers page, and /metrics."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from quote_service.cli import main
from tests.support.queue_states import (
    add_worker,
    describe_worker,
    latest_job,
    new_quotation,
    start_job,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet(conn, services):
    """Three workers: a live one on documents running a quotation's job, a live one on all
    queues, and one silent for two minutes on delivery,maintenance."""
    documents = add_worker(conn)
    describe_worker(conn, documents, host="pdf-1", pid=4101, queues=["documents"], concurrency=2)
    everything = add_worker(conn, heartbeat_seconds_ago=3)
    describe_worker(conn, everything, host="pdf-2", pid=4202)
    silent = add_worker(conn, heartbeat_seconds_ago=120)
    describe_worker(conn, silent, host="mail-1", pid=4303, queues=["delivery", "maintenance"],
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
    assert "delivery, maintenance" in by_host["mail-1"] and "silent" in by_host["mail-1"]
    assert 119 < int(re.search(r"(\d+) s ago", by_host["mail-1"]).group(1)) < 130


def test_the_cli_fails_when_a_queue_has_no_live_worker(conn, database_url, monkeypatch):
    documents = add_worker(conn)
    describe_worker(conn, documents, host="pdf-1", pid=1, queues=["documents"])
    silent = add_worker(conn, heartbeat_seconds_ago=120)
    describe_worker(conn, silent, host="mail-1", pid=2, queues=["delivery", "maintenance"])

    result = run_cli(database_url, monkeypatch)

    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "no live worker listens on: delivery, maintenance"


def test_no_worker_at_all_is_unhealthy(database_url, monkeypatch):
    result = run_cli(database_url, monkeypatch)
    assert result.exit_code == 1
    assert "no live worker listens on: documents, delivery, maintenance" in result.output


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

    assert "No live worker listens on documents, delivery, maintenance" in html
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
    assert live == {"documents": 2, "delivery": 1, "maintenance": 1}
