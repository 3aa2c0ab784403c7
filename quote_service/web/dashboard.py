"""The queue dashboard (SPEC 4, `/dashboard`): what Bull Board gives a BullMQ user, read from
procrastinate's tables, plus the quotation pipeline those jobs serve.

Server-rendered and usable without JavaScript (a small script only refreshes the counts).
Everything a job carries (args, errors, tracebacks) is shown through Jinja's autoescape.

Besides the queue, the overview lists the emails awaiting reconciliation (a request that left
without an answer, parked as `unknown`): no job will ever touch them again, so the queue alone
would not show them, and their quotations wait until someone checks the provider.

Actions change the queue through procrastinate's own SQL functions, on the request's
connection, in the same transaction as the checks made before them and as the quotation's
records, so a job and its quotation never disagree:

- Retrying a failed job of a `failed` quotation calls `pipeline.retry`, the same resume the
  quotation page, the API and the CLI use: it moves the quotation back to `queued` or
  `delivering` with an event and defers a fresh job. Retrying that failed job in place would
  not do: a failed `send_quotation` carries a delivery that its last attempt marked `failed` or
  `unknown`, which the step refuses to send again, and the job would have no attempt left.
  The failed job stays as history and links to the job that followed it.
- Other failed jobs (no quotation, or a quotation that is not failed) are retried in place with
  `procrastinate_retry_job_v2`.
- Cancelling the waiting job of a quotation in progress marks the quotation `failed` ("cancelled
  from the dashboard"), so it shows up as failed and can be retried instead of waiting forever.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from quote_service import db, pauses, pipeline, queue, quotations, retention, workers
from quote_service.app import services
from quote_service.deliver.step import fail_delivery
from quote_service.domain.model import STATUSES as QUOTATION_STATUSES
from quote_service.domain.model import Quotation
from quote_service.web import auth
from quote_service.web.csrf import check_csrf
from quote_service.web.params import whole_number

logger = logging.getLogger("quote_service.web.dashboard")

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates",
               static_folder="static", static_url_path="/static")

WAITING_QUOTATIONS = ("queued", "generating", "delivering")
STEP_OF_TASK = {queue.GENERATE_PDF.task_name: pipeline.GENERATE,
                queue.SEND_QUOTATION.task_name: pipeline.SEND}
PAGE_SIZE = 50
RECONCILIATION_ROWS = 20
ANSWER_ROWS = 10
# The overview counts retryable failed jobs up to this many ("100+" past it): counting them
# all would walk every failed job of the kept history at each refresh (at 20,000 failed jobs,
# 150 ms; the confirmation page, opened before acting, still counts them all).
RETRYABLE_COUNT_LIMIT = 100
REFRESH_SECONDS = 5
CANCEL_REASON = "cancelled from the dashboard"
MAX_RETENTION_HOURS = 24 * 365 * 10


class ActionRefused(Exception):
    """The action does not apply to the job in its current state; the message says why."""


# --- who may act --------------------------------------------------------------------------------

def can_act() -> bool:
    """Whether the visitor may change the queue (an admin); viewers only look. The access
    policy refuses their POSTs before any view runs; this decides which buttons are shown."""
    user = auth.current_user()
    return user is not None and auth.may(user.role, "POST", "/dashboard")


def _authorize_post() -> None:
    """Refuse an action from a viewer (403), then one whose form did not come from our page."""
    if not can_act():
        abort(403, description="Your account can view the dashboard but not act on jobs.")
    check_csrf()


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    return {"can_act": can_act(), "job_statuses": queue.JOB_STATUSES,
            "refresh_seconds": REFRESH_SECONDS}


@bp.app_template_filter("dashboard_duration")
def format_duration(value: float | dt.timedelta | None) -> str:
    """Durations people read at a glance: "4.2 s", "3 min 05 s", "2 h 10 min", "3 d 4 h"."""
    if value is None:
        return "–"
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


# --- reading --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Counts:
    queues: list[str]
    statuses: list[str]
    cells: dict[str, dict[str, int]]
    totals: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"queues": self.cells, "totals": self.totals, "statuses": self.statuses}


def read_counts(conn: psycopg.Connection) -> Counts:
    """Jobs per queue and status; the pipeline's queues and the six statuses always show, so a
    zero is visible as a zero."""
    rows = db.fetch_all(conn, "dashboard_counts")
    statuses = list(queue.JOB_STATUSES) + sorted({r["status"] for r in rows} - set(queue.JOB_STATUSES))
    queues = list(queue.QUEUES) + sorted({r["queue_name"] for r in rows} - set(queue.QUEUES))
    cells = {q: dict.fromkeys(statuses, 0) for q in queues}
    for row in rows:
        cells[row["queue_name"]][row["status"]] = row["jobs"]
    totals = {s: sum(cells[q][s] for q in queues) for s in statuses}
    return Counts(queues, statuses, cells, totals)


@dataclass(frozen=True)
class PipelineStats:
    by_status: dict[str, int]
    oldest_waiting: dict[str, Any] | None
    sent_last_hour: int
    median_seconds: float | None
    p95_seconds: float | None


def read_pipeline_stats(conn: psycopg.Connection) -> PipelineStats:
    by_status = dict.fromkeys(QUOTATION_STATUSES, 0)
    for row in db.fetch_all(conn, "dashboard_quotation_counts"):
        by_status[row["status"]] = row["n"]
    sent = db.fetch_one(conn, "dashboard_sent_times")
    return PipelineStats(by_status, db.fetch_one(conn, "dashboard_oldest_waiting"), sent["n"],
                         sent["median_seconds"], sent["p95_seconds"])


@dataclass(frozen=True)
class ChartColumn:
    minute: dt.datetime
    succeeded: int
    failed: int
    x: float
    succeeded_y: float
    succeeded_height: float
    failed_y: float
    failed_height: float


@dataclass(frozen=True)
class Chart:
    """A bar per minute, succeeded below failed, scaled to the busiest minute."""

    width: int
    height: int
    left: int
    top: int
    bottom: int
    bar_width: int
    peak: int
    columns: list[ChartColumn]
    ticks: list[tuple[float, str]]
    total_succeeded: int
    total_failed: int


def throughput_chart(rows: list[dict[str, Any]], *, slot: int = 10, plot_height: int = 100
                     ) -> Chart:
    left, top = 36, 8
    bottom = top + plot_height
    peak = max((r["succeeded"] + r["failed"] for r in rows), default=0)
    scale = plot_height / max(peak, 1)
    columns = []
    for i, row in enumerate(rows):
        ok_h = row["succeeded"] * scale
        failed_h = row["failed"] * scale
        columns.append(ChartColumn(
            minute=row["minute"], succeeded=row["succeeded"], failed=row["failed"],
            x=left + i * slot + 1, succeeded_y=bottom - ok_h, succeeded_height=ok_h,
            failed_y=bottom - ok_h - failed_h, failed_height=failed_h,
        ))
    ticks = [(c.x + (slot - 2) / 2, c.minute.astimezone(dt.UTC).strftime("%H:%M"))
             for i, c in enumerate(columns) if i % 15 == 0 or i == len(columns) - 1]
    return Chart(width=left + len(rows) * slot + 20, height=bottom + 24, left=left, top=top,
                 bottom=bottom, bar_width=slot - 2, peak=peak, columns=columns, ticks=ticks,
                 total_succeeded=sum(r["succeeded"] for r in rows),
                 total_failed=sum(r["failed"] for r in rows))


# --- pages ----------------------------------------------------------------------------------------

@bp.get("")
def overview():
    settings = services().settings
    with db.transaction(services().pool) as conn:
        counts = read_counts(conn)
        stats = read_pipeline_stats(conn)
        chart = throughput_chart(db.fetch_all(conn, "dashboard_throughput"))
        stalled = db.fetch_all(conn, "dashboard_stalled",
                               seconds=settings.stalled_worker_seconds)
        failed = db.fetch_all(conn, "dashboard_list_jobs", status="failed", task=None,
                              queue=None, before=None, limit=10)
        retryable = db.fetch_one(conn, "dashboard_retryable_failed_count",
                                 limit=RETRYABLE_COUNT_LIMIT + 1)["n"]
        parked = db.fetch_all(conn, "dashboard_awaiting_reconciliation",
                              limit=RECONCILIATION_ROWS)
        registered = workers.list_all(conn)
        paused = pauses.list_all(conn)
        answered = db.fetch_all(conn, "dashboard_answers", limit=ANSWER_ROWS)
    return render_template("dashboard.html", counts=counts, stats=stats, chart=chart,
                           paused=paused, queues=queue.QUEUES, answered=answered,
                           live_workers=sum(w.alive(settings.stalled_worker_seconds)
                                            for w in registered),
                           unattended=workers.unattended_queues(
                               registered, settings.stalled_worker_seconds),
                           stalled=stalled, failed=failed, parked=parked,
                           retryable=(f"{RETRYABLE_COUNT_LIMIT:,}+"
                                      if retryable > RETRYABLE_COUNT_LIMIT else retryable),
                           parked_total=parked[0]["total"] if parked else 0,
                           waiting_statuses=WAITING_QUOTATIONS, now=dt.datetime.now(dt.UTC),
                           stalled_after=settings.stalled_worker_seconds,
                           stalled_check=settings.stalled_check_seconds)


@bp.get("/counts.json")
def counts_json():
    with db.transaction(services().pool) as conn:
        counts = read_counts(conn)
        parked = db.fetch_one(conn, "dashboard_awaiting_reconciliation_count")["n"]
    response = jsonify({**counts.as_json(), "needs_reconciliation": parked,
                        "at": dt.datetime.now(dt.UTC).isoformat()})
    response.headers["Cache-Control"] = "no-store"
    return response


def _filter(name: str) -> str | None:
    value = (request.args.get(name) or "").strip()
    return value or None


@bp.get("/jobs")
def list_jobs():
    status, task, queue_name = _filter("status"), _filter("task"), _filter("queue")
    if status is not None and status not in (*queue.JOB_STATUSES, "aborting"):
        abort(400, description=f"Unknown status {status!r}: use one of "
                               f"{', '.join(queue.JOB_STATUSES)}.")
    raw_before = _filter("before")
    before = whole_number(raw_before)
    if raw_before is not None and before is None:
        abort(400, description="'before' must be a job id (a positive whole number).")
    with db.transaction(services().pool) as conn:
        # One row more than shown tells whether an older page exists.
        rows = db.fetch_all(conn, "dashboard_list_jobs", status=status, task=task,
                            queue=queue_name, before=before, limit=PAGE_SIZE + 1)
        tasks = [r["task_name"] for r in db.fetch_all(conn, "dashboard_task_names")]
        queues = [r["queue_name"] for r in db.fetch_all(conn, "dashboard_queue_names")]
    filters = {k: v for k, v in (("status", status), ("task", task), ("queue", queue_name)) if v}
    older = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        older = url_for("dashboard.list_jobs", before=rows[-1]["id"], **filters)
    return render_template("dashboard_jobs.html", jobs=rows, status=status, task=task,
                           queue=queue_name, tasks=tasks, queues=queues, before=before,
                           older=older, first=url_for("dashboard.list_jobs", **filters))


@bp.get("/jobs/<int:job_id>")
def job_detail(job_id: int):
    with db.transaction(services().pool) as conn:
        job = db.fetch_one(conn, "dashboard_job", id=job_id)
        if job is None:
            abort(404, description=f"Job {job_id} does not exist (finished jobs are removed "
                                   "after the retention period).")
        events = db.fetch_all(conn, "dashboard_job_events", id=job_id)
        failures = db.fetch_all(conn, "dashboard_job_failures", id=job_id)
    started = events[0]["at"] if events else None
    return render_template(
        "dashboard_job.html", job=job, events=events, failures=failures, started=started,
        args=json.dumps(job["args"], indent=2, sort_keys=True, ensure_ascii=False),
        scheduled_later=(job["status"] == "todo" and job["scheduled_at"] is not None
                         and job["scheduled_at"] > dt.datetime.now(dt.UTC)),
    )


# --- actions ----------------------------------------------------------------------------------

def _lock_job(conn: psycopg.Connection, job_id: int) -> dict[str, Any]:
    job = db.fetch_one(conn, "dashboard_lock_job", id=job_id)
    if job is None:
        raise LookupError(f"job {job_id} does not exist")
    return job


def _quotation_id(job: dict[str, Any]) -> int | None:
    value = job["args"].get("quotation_id") if isinstance(job["args"], dict) else None
    return value if isinstance(value, int) else None


def _wake_workers(conn: psycopg.Connection, job: dict[str, Any]) -> None:
    db.execute(conn, "dashboard_wake_workers", queue=job["queue_name"], id=job["id"])


def retry_job(conn: psycopg.Connection, job_id: int) -> str:
    """Run a failed job again (see the module docstring for why a failed quotation's job is
    retried through `pipeline.retry`); return what happened, for the operator."""
    job = _lock_job(conn, job_id)
    if job["status"] != "failed":
        raise ActionRefused(f"job {job_id} is {job['status']}, not failed")
    if job["followed_by"] is not None:
        raise ActionRefused(f"job {job_id} was already followed by job {job['followed_by']}")
    quotation_id = _quotation_id(job)
    quotation = quotations.get(conn, quotation_id) if quotation_id is not None else None
    if quotation is not None and quotation.status == "failed":
        try:
            resumed = pipeline.retry(conn, quotation.id)
        except pipeline.NotAllowed as exc:
            raise ActionRefused(str(exc)) from exc
        new_job = db.fetch_one(conn, "active_job_for_lock",
                               lock=queue.quotation_lock(quotation.id))
        return (f"Quotation {quotation.number} resumed ({resumed.status}) as job "
                f"{new_job['id'] if new_job else '?'}.")
    db.execute(conn, "dashboard_retry_job", id=job_id)
    _wake_workers(conn, job)
    return f"Job {job_id} will run again."


def retry_failed(conn: psycopg.Connection, *, task: str | None = None,
                 queue_name: str | None = None) -> tuple[list[str], list[str]]:
    """Retry every failed job not retried yet, each in its own savepoint so that one refusal
    does not undo the others; return (what was done, what was refused)."""
    done: list[str] = []
    refused: list[str] = []
    for row in db.fetch_all(conn, "dashboard_retryable_failed", task=task, queue=queue_name):
        try:
            with conn.transaction():
                done.append(retry_job(conn, row["id"]))
        except (ActionRefused, LookupError) as exc:
            refused.append(str(exc))
    return done, refused


def run_now(conn: psycopg.Connection, job_id: int) -> str:
    """Run a job scheduled for later (a deferred run or a retry's backoff) now."""
    job = _lock_job(conn, job_id)
    if job["status"] != "todo" or not job["scheduled_later"]:
        raise ActionRefused(f"job {job_id} is not waiting for a later time")
    db.execute(conn, "dashboard_run_now", id=job_id)
    _wake_workers(conn, job)
    return f"Job {job_id} will run now."


def cancel_job(conn: psycopg.Connection, job_id: int) -> str:
    """Cancel a waiting job; a quotation left without a job is marked failed, naming why."""
    job = _lock_job(conn, job_id)
    if job["status"] != "todo":
        raise ActionRefused(f"job {job_id} is {job['status']}: only a waiting job can be "
                            "cancelled")
    if db.fetch_one(conn, "dashboard_cancel_job", id=job_id)["id"] is None:
        raise ActionRefused(f"job {job_id} is no longer waiting")
    message = f"Job {job_id} cancelled."
    quotation_id = _quotation_id(job)
    step = STEP_OF_TASK.get(job["task_name"])
    if quotation_id is None or step is None:
        return message
    row = db.fetch_one(conn, "lock_quotation", id=quotation_id)
    if row is None:
        return message
    quotation = Quotation.from_row(row)
    still_queued = db.fetch_one(conn, "active_job_for_lock",
                                lock=queue.quotation_lock(quotation_id))
    if quotation.status in WAITING_QUOTATIONS and still_queued is None:
        delivery_id = job["args"].get("delivery_id")
        if step == pipeline.SEND and isinstance(delivery_id, int):
            fail_delivery(conn, delivery_id, CANCEL_REASON, job_id)
        pipeline.mark_failed(conn, quotation_id, step, CANCEL_REASON, job_id)
        message += f" Quotation {quotation.number} is now failed and can be retried."
    return message


def _back(default: str) -> str:
    """Where to return after an action: the page the form was on, if it is one of ours."""
    target = request.form.get("next", "")
    prefix = url_for("dashboard.overview")
    if (target.startswith(prefix) and target[len(prefix):len(prefix) + 1] in ("", "/", "?")
            and "\\" not in target):
        return target
    return default


def act(action: Callable[[psycopg.Connection], str], default: str):
    """Run an admin's action in one transaction, say what it did, and go back to the page."""
    _authorize_post()
    try:
        with db.transaction(services().pool) as conn:
            message = action(conn)
    except LookupError as exc:
        abort(404, description=f"{str(exc).capitalize()}.")
    except ActionRefused as exc:
        flash(f"Not done: {exc}.", "error")
    else:
        logger.info("dashboard: %s", message)
        flash(message, "success")
    return redirect(_back(default), 303)


@bp.post("/jobs/<int:job_id>/retry")
def retry_job_action(job_id: int):
    return act(lambda conn: retry_job(conn, job_id), url_for(".job_detail", job_id=job_id))


@bp.post("/jobs/<int:job_id>/run-now")
def run_now_action(job_id: int):
    return act(lambda conn: run_now(conn, job_id), url_for(".job_detail", job_id=job_id))


@bp.post("/jobs/<int:job_id>/cancel")
def cancel_job_action(job_id: int):
    return act(lambda conn: cancel_job(conn, job_id), url_for(".job_detail", job_id=job_id))


@bp.get("/retry-failed")
def confirm_retry_failed():
    task, queue_name = _filter("task"), _filter("queue")
    with db.transaction(services().pool) as conn:
        count = len(db.fetch_all(conn, "dashboard_retryable_failed", task=task,
                                 queue=queue_name))
    return render_template("dashboard_confirm.html", count=count, task=task, queue=queue_name)


@bp.post("/retry-failed")
def retry_failed_action():
    _authorize_post()
    task, queue_name = request.form.get("task") or None, request.form.get("queue") or None
    if request.form.get("confirm") != "yes":
        return redirect(url_for(".confirm_retry_failed",
                                **{k: v for k, v in (("task", task), ("queue", queue_name))
                                   if v}), 303)
    with db.transaction(services().pool) as conn:
        done, refused = retry_failed(conn, task=task, queue_name=queue_name)
    logger.info("dashboard: retried %d failed jobs, %d refused", len(done), len(refused))
    flash(f"Retried {len(done)} failed job{'s' if len(done) != 1 else ''}.", "success")
    if refused:
        flash(f"Not retried ({len(refused)}): " + "; ".join(refused[:5])
              + ("…" if len(refused) > 5 else ""), "error")
    return redirect(url_for(".list_jobs", status="failed"), 303)


@bp.post("/delete-finished")
def delete_finished_action():
    _authorize_post()
    hours = whole_number((request.form.get("hours") or "").strip(), maximum=MAX_RETENTION_HOURS)
    if hours is None:
        flash("Give the age in whole hours, at least 1.", "error")
        return redirect(url_for(".overview"), 303)
    deleted = retention.delete_finished_jobs(services().pool, hours).deleted
    logger.info("dashboard: deleted %d jobs finished more than %d hours ago", deleted, hours)
    flash(f"Deleted {deleted} job{'s' if deleted != 1 else ''} finished more than {hours} "
          f"hour{'s' if hours != 1 else ''} ago.", "success")
    return redirect(url_for(".overview"), 303)
