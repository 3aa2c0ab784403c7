"""JSON errors under /api (and for health checks), HTML pages elsewhere; never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from quote_service.db import DatabaseUnavailable

logger = logging.getLogger("quote_service.web")

UNAVAILABLE = "the database is unavailable; try again shortly"


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/readyz", "/healthz", "/webhooks/"))


def json_error(status: int, message: str, **extra):
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            response = json_error(exc.code or 500, exc.description or exc.name)
        else:
            response = app.make_response((render_template(
                "error.html", code=exc.code, message=exc.description), exc.code))
        # What the exception says beyond its body: `Allow` on a 405, `Retry-After` on a 429.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(DatabaseUnavailable)
    def database_down(exc: DatabaseUnavailable):
        logger.error("database unavailable: %s", exc)
        if wants_json():
            response = json_error(503, UNAVAILABLE)
        else:
            response = app.make_response((render_template("error.html", code=503,
                                                          message=UNAVAILABLE), 503))
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return json_error(500, "internal error")
        return render_template("error.html", code=500, message="Internal error"), 500
