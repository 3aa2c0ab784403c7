"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: database reachable and
migrated). Liveness never touches the database, so an orchestrator does not restart a web
process because Postgres is down."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from quote_service import db, migrate
from quote_service.app import services

logger = logging.getLogger("quote_service.web")

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    try:
        with db.transaction(services().pool) as conn:
            pending = migrate.pending(conn)
    except db.DatabaseUnavailable as exc:
        # Anyone may ask: the cause (host, port, user) goes to the log, not to the caller.
        logger.error("readiness: database unavailable: %s", exc)
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    if pending:
        return jsonify({"status": "not migrated", "pending": pending}), 503
    return jsonify({"status": "ready"})
