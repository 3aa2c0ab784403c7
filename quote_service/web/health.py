"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: database reachable and
migrated). Liveness never touches the database, so an orchestrator does not restart a web
process because Postgres is down."""

from __future__ import annotations

from flask import Blueprint, jsonify

from quote_service import db, migrate
from quote_service.app import services

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
        return jsonify({"status": "unavailable", "database": str(exc)}), 503
    if pending:
        return jsonify({"status": "not migrated", "pending": pending}), 503
    return jsonify({"status": "ready"})
