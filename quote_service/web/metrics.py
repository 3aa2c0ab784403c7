"""`GET /metrics` in Prometheus' text format.

The web app and the workers are separate processes, and a web deployment has several: counters
kept in one process's memory would each tell a part of the story. So every value here is read
from PostgreSQL when Prometheus scrapes, by a custom collector, and any web process answers
with the whole truth. Counters come from tables that are never pruned (quotations, their
events, job_failures) and only grow; gauges describe procrastinate's queue, whose finished
jobs are removed after JOB_RETENTION_HOURS.

A scrape must stay fast however long the history (Prometheus gives up after 10 s by default):
what covers the whole history (quotations per status, jobs per status, the conversion and
submit-to-sent histograms) is read from counts that triggers keep in the writers' own
transactions (migrations/0030_read_counters.sql); the rest reads bounded sets through indexes
(waiting and running jobs, the last hour's runs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import psycopg
from flask import Blueprint, Response, current_app, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.utils import floatToGoString

from quote_service import db, queue, workers
from quote_service.app import services
from quote_service.domain.model import STATUSES as QUOTATION_STATUSES
from quote_service.services import Services

logger = logging.getLogger("quote_service.web.metrics")

bp = Blueprint("metrics", __name__)

PREFIX = "quote_service"
JOB_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def _buckets(rows: Iterable[dict[str, Any]], labels: Sequence[str]
             ) -> dict[tuple[str, ...], tuple[list[tuple[str, float]], float]]:
    """Rows of a `metrics_*_seconds` query -> per label values, ([(le, cumulative)...], sum)."""
    by_labels: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(str(row[name]) for name in labels)
        entry = by_labels.setdefault(key, {"buckets": [], "count": 0, "sum": 0.0})
        if row["le"] is None:
            entry["count"], entry["sum"] = row["n"], float(row["total"] or 0.0)
        else:
            entry["buckets"].append((float(row["le"]), row["n"]))
    result = {}
    for key, entry in by_labels.items():
        buckets = [(floatToGoString(le), float(n)) for le, n in sorted(entry["buckets"])]
        result[key] = ([*buckets, ("+Inf", float(entry["count"]))], entry["sum"])
    return result


class DatabaseCollector:
    """Reads every metric in one transaction at scrape time; a database that cannot be reached
    is reported as `quote_service_database_up 0` instead of failing the whole scrape."""

    def __init__(self, services: Callable[[], Services]):
        self._services = services

    def collect(self) -> Iterator[Metric]:
        try:
            with db.transaction(self._services().pool) as conn:
                families = list(self._read(conn))
        except db.DatabaseUnavailable as exc:
            logger.warning("metrics: database unavailable: %s", exc)
            families = []
        up = GaugeMetricFamily(f"{PREFIX}_database_up",
                               "1 when the metrics below could be read from PostgreSQL.")
        up.add_metric([], 1.0 if families else 0.0)
        yield up
        yield from families

    def _read(self, conn: psycopg.Connection) -> Iterator[Metric]:
        submissions = CounterMetricFamily(
            f"{PREFIX}_submissions", "Quotations submitted (every quotation row ever written).")
        submissions.add_metric([], db.fetch_one(conn, "metrics_submissions")["n"])
        yield submissions

        by_status = dict.fromkeys(QUOTATION_STATUSES, 0)
        for row in db.fetch_all(conn, "dashboard_quotation_counts"):
            by_status[row["status"]] = row["n"]
        quotations = GaugeMetricFamily(f"{PREFIX}_quotations", "Quotations per status.",
                                       labels=["status"])
        for status, n in by_status.items():
            quotations.add_metric([status], n)
        yield quotations

        yield from self._jobs(conn)

        failures = CounterMetricFamily(
            f"{PREFIX}_job_attempt_failures",
            "Failed job attempts, retried or not, per task (from job_failures).", labels=["task"])
        for row in db.fetch_all(conn, "metrics_attempt_failures"):
            failures.add_metric([row["task_name"]], row["n"])
        yield failures

        waiting = GaugeMetricFamily(
            f"{PREFIX}_queue_oldest_waiting_seconds",
            "Per queue, how long the oldest job that could run now has waited (0: none waits).",
            labels=["queue"])
        ages = {row["queue_name"]: row["seconds"] for row in db.fetch_all(conn, "metrics_waiting")}
        for name in sorted(set(queue.QUEUES) | set(ages)):
            waiting.add_metric([name], max(0.0, ages.get(name) or 0.0))
        yield waiting

        stalled = GaugeMetricFamily(
            f"{PREFIX}_stalled_jobs",
            "Running jobs whose worker sent no heartbeat for STALLED_WORKER_SECONDS or is gone.")
        seconds = self._services().settings.stalled_worker_seconds
        stalled.add_metric([], db.fetch_one(conn, "metrics_stalled", seconds=seconds)["n"])
        yield stalled

        yield from self._workers(conn, seconds)

        parked = GaugeMetricFamily(
            f"{PREFIX}_deliveries_awaiting_reconciliation",
            "Quotations whose latest email is in state unknown (the request left, no answer "
            "came back): never re-sent automatically; check the provider, then resend.")
        parked.add_metric([], db.fetch_one(conn, "metrics_awaiting_reconciliation")["n"])
        yield parked

        oldest = GaugeMetricFamily(
            f"{PREFIX}_oldest_waiting_quotation_seconds",
            "Age of the oldest quotation still queued, generating or delivering (0: none).")
        oldest.add_metric([], db.fetch_one(conn, "metrics_oldest_waiting_quotation")["seconds"])
        yield oldest

        duration = GaugeHistogramMetricFamily(
            f"{PREFIX}_job_duration_seconds",
            "Run time of the job runs that ended in the last hour, from procrastinate's "
            "started event to the run's end; outcome is succeeded, failed or retried. A gauge "
            "histogram over a window: use histogram_quantile on it without rate().",
            labels=["task", "outcome"])
        rows = db.fetch_all(conn, "metrics_job_duration_seconds",
                            buckets=list(JOB_DURATION_BUCKETS))
        for (task, outcome), (buckets, total) in sorted(
                _buckets(rows, ("task_name", "outcome")).items()):
            duration.add_metric([task, outcome], buckets, total)
        yield duration

        yield self._histogram(
            conn, "conversion_seconds",
            "Time from the start of a PDF's generation to the stored PDF (render, convert, "
            "upload), from the audit trail.")
        yield self._histogram(
            conn, "submit_to_sent_seconds",
            "Time from a quotation's submission to its email's acceptance by the provider.")

    def _jobs(self, conn: psycopg.Connection) -> Iterator[Metric]:
        """The queue, twice: per queue and status (its depth is status="todo"), and per task
        and status (how each task's jobs ended, as far back as jobs are kept)."""
        rows = db.fetch_all(conn, "metrics_jobs")
        per_queue = {(q, s): 0 for q in queue.QUEUES for s in queue.JOB_STATUSES}
        per_task: dict[tuple[str, str], int] = {}
        for row in rows:
            key = (row["queue_name"], row["status"])
            per_queue[key] = per_queue.get(key, 0) + row["n"]
            task_key = (row["task_name"], row["status"])
            per_task[task_key] = per_task.get(task_key, 0) + row["n"]
        queue_jobs = GaugeMetricFamily(
            f"{PREFIX}_queue_jobs", "Jobs in procrastinate_jobs per queue and status.",
            labels=["queue", "status"])
        for (name, status), n in sorted(per_queue.items()):
            queue_jobs.add_metric([name, status], n)
        yield queue_jobs
        task_jobs = GaugeMetricFamily(
            f"{PREFIX}_jobs", "Jobs in procrastinate_jobs per task and status (finished jobs "
            "are kept for JOB_RETENTION_HOURS).", labels=["task", "status"])
        for (task, status), n in sorted(per_task.items()):
            task_jobs.add_metric([task, status], n)
        yield task_jobs

    def _workers(self, conn: psycopg.Connection, stalled_after: float) -> Iterator[Metric]:
        """Each registered worker, and per queue how many live workers listen on it: alert on
        `quote_service_queue_live_workers == 0`."""
        found = workers.list_all(conn)
        labels = ["worker_id", "host", "pid", "queues"]
        silence = GaugeMetricFamily(
            f"{PREFIX}_worker_silence_seconds",
            "Seconds since each registered worker's last heartbeat (counted from the database "
            "server's start at the earliest); past STALLED_WORKER_SECONDS it is taken for dead.",
            labels=labels)
        running = GaugeMetricFamily(
            f"{PREFIX}_worker_jobs_running", "Jobs each registered worker is running.",
            labels=labels)
        for w in found:
            key = [str(w.worker_id), w.host or "", str(w.pid or ""),
                   ",".join(w.queues) if w.queues else "all"]
            silence.add_metric(key, w.silent_for.total_seconds())
            running.add_metric(key, len(w.jobs))
        yield silence
        yield running
        live = GaugeMetricFamily(
            f"{PREFIX}_queue_live_workers",
            "Per queue, the workers listening on it that are alive (0: its jobs wait).",
            labels=["queue"])
        for name, n in workers.live_per_queue(found, stalled_after).items():
            live.add_metric([name], n)
        yield live

    def _histogram(self, conn: psycopg.Connection, metric: str, documentation: str) -> Metric:
        """A histogram of the whole history: the buckets (and their bounds) that triggers keep
        in the writers' transactions (migrations/0030), so a scrape does not aggregate it."""
        family = HistogramMetricFamily(f"{PREFIX}_{metric}", documentation)
        rows = db.fetch_all(conn, "metrics_histogram", metric=metric)
        for buckets, total in _buckets(rows, ()).values():
            family.add_metric([], buckets, total)
        return family


def registry() -> CollectorRegistry:
    """One registry per app (not prometheus_client's global one): each app built by the
    factory, the tests' included, reads its own database."""
    found = current_app.extensions.get("quote_service_metrics")
    if found is None:
        found = CollectorRegistry()
        found.register(DatabaseCollector(services))
        ProcessCollector(registry=found)
        current_app.extensions["quote_service_metrics"] = found
    return found


@bp.get("/metrics")
def metrics() -> Response:
    """Text format 0.0.4 by default; OpenMetrics when the scraper asks for it (Prometheus does),
    which carries the gauge histogram natively."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = Response(encoder(registry()), content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
