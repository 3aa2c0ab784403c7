"""The dashboard's workers page, and pausing and resuming queues from the dashboard.

Part of the dashboard's blueprint (its URLs are under /dashboard, viewers see, admins act);
in a module of its own because it is about who does the work, not the jobs.
"""

from __future__ import annotations

import datetime as dt

from flask import render_template, url_for

from quote_service import db, pauses, workers
from quote_service.app import services
from quote_service.web import auth
from quote_service.web.dashboard import ActionRefused, act, bp


@bp.get("/workers")
def list_workers():
    settings = services().settings
    with db.transaction(services().pool) as conn:
        found = workers.list_all(conn)
        runs = workers.maintenance_runs(conn)
        paused = pauses.list_all(conn)
    stalled_after = settings.stalled_worker_seconds
    live = workers.live_per_queue(found, stalled_after)
    return render_template("dashboard_workers.html", workers=found, runs=runs, paused=paused,
                           live_workers=live, unattended=[q for q, n in live.items() if not n],
                           stalled_after=stalled_after, now=dt.datetime.now(dt.UTC))


def _who() -> str:
    user = auth.current_user()
    return user.email if user else "?"


def _pause(conn, queue_name: str) -> str:
    try:
        changed = pauses.pause(conn, queue_name, by=_who())
    except pauses.UnknownQueue as exc:
        raise ActionRefused(str(exc)) from None
    if not changed:
        raise ActionRefused(f"the {queue_name} queue is paused already")
    return (f"Paused the {queue_name} queue: its running jobs finish, no worker starts another "
            "until it is resumed.")


def _resume(conn, queue_name: str) -> str:
    try:
        changed = pauses.resume(conn, queue_name)
    except pauses.UnknownQueue as exc:
        raise ActionRefused(str(exc)) from None
    if not changed:
        raise ActionRefused(f"the {queue_name} queue is not paused")
    return f"Resumed the {queue_name} queue."


@bp.post("/queues/<queue_name>/pause")
def pause_queue(queue_name: str):
    return act(lambda conn: _pause(conn, queue_name), url_for(".overview"))


@bp.post("/queues/<queue_name>/resume")
def resume_queue(queue_name: str):
    return act(lambda conn: _resume(conn, queue_name), url_for(".overview"))
