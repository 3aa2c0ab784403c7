"""`POST /api/quotations` with a bearer token, answered beneath Flask.

The busiest request of the service is one statement in the database (submit.sql) and a few
lines of Python around it, yet through Flask it cost twice the CPU of the statement itself:
the request context, the session interface, the before- and after-request hooks, the URL
adapter and the response object. This WSGI layer, in front of the Flask app, answers the
common case on its own: a JSON body within the size limit, a well-formed bearer token, a valid
submission. It validates, prices and submits with the same functions as the Flask view
(api.create_quotation) and answers the same 202, or 503 when the database is down.

Everything else goes on to Flask untouched, with the body it sent: a missing or malformed
token, another content type, a chunked or oversized body, malformed JSON, a body that does not
validate, an overlong Idempotency-Key, and also a token or role the statement refused or a
reused Idempotency-Key with another body (nothing was written for those). The Flask view then
gives exactly the answer it always gave, so that every refusal has one implementation.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from quote_service import db
from quote_service.accounts import tokens
from quote_service.domain import jsontext
from quote_service.domain.model import Quotation
from quote_service.domain.money import plain_amount
from quote_service.domain.validation import ValidationFailed, parse_submission
from quote_service.generate.document import available_templates
from quote_service.links import pdf_path
from quote_service.services import Services
from quote_service.submit.service import (
    IdempotencyConflict,
    NotAuthenticated,
    RoleRefused,
    client_key,
    submit,
)
from quote_service.web.errors import UNAVAILABLE

logger = logging.getLogger("quote_service.web")

PATH = "/api/quotations"
MAX_KEY_LENGTH = 200  # an Idempotency-Key's, as the view checks it

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def quotation_links(quotation_id: int, script_root: str = "") -> dict[str, str]:
    """A quotation's `links` in the API's documents (`script_root`: the app's URL prefix)."""
    return {"self": f"{script_root}{PATH}/{quotation_id}", "pdf": pdf_path(quotation_id),
            "page": f"/quotations/{quotation_id}"}


def accepted_body(q: Quotation, script_root: str = "") -> dict[str, Any]:
    """What a 202 says of the quotation submitted (SPEC 4), here and in the Flask view."""
    return {"id": q.id, "number": q.number, "status": q.status,
            "total": plain_amount(q.total, q.currency),
            "links": quotation_links(q.id, script_root)}


def _json(body: Any) -> bytes:
    # As Flask's jsonify writes it, so that both paths answer byte for byte alike.
    return (json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n").encode()


class SubmitRoute:
    """WSGI middleware: the common submission answered here, every other request by `app`."""

    def __init__(self, app: WSGIApp, services: Services, *, headers: dict[str, str],
                 max_body: int):
        self._app = app
        self._services = services
        self._headers = list(headers.items())
        self._max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self._app(environ, start_response)
        token = tokens.bearer(environ.get("HTTP_AUTHORIZATION", ""))
        length = _length(environ.get("CONTENT_LENGTH"))
        if (token is None or not tokens.well_formed(token) or length is None or length > self._max_body
                or _mimetype(environ.get("CONTENT_TYPE", "")) != "application/json"):
            return self._app(environ, start_response)
        body = environ["wsgi.input"].read(length)
        try:
            answered = self._submit(environ, token, body)
        except Exception:
            logger.exception("unhandled error on POST %s", PATH)
            answered = ("500 INTERNAL SERVER ERROR", {"error": "internal error"}, [])
        if answered is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return self._app(environ, start_response)
        status, document, extra = answered
        content = _json(document)
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(content))), *extra,
                                *self._headers])
        return [content]

    def _submit(self, environ: dict[str, Any], token: str, body: bytes
                ) -> tuple[str, dict[str, Any], list[tuple[str, str]]] | None:
        """(status, JSON document, headers) of the answer, or None: Flask answers."""
        key = environ.get("HTTP_IDEMPOTENCY_KEY", "").strip() or None
        if key is not None and len(key) > MAX_KEY_LENGTH:
            return None
        try:
            payload = jsontext.load(body)
            submission = parse_submission(payload, templates=available_templates(),
                                          default_locale=self._services.settings.locale)
        except (jsontext.MalformedJson, ValidationFailed):
            return None
        try:
            result = submit(self._services.pool, submission, token=token,
                            idempotency_key=client_key(key) if key else None, payload=payload)
        except (NotAuthenticated, RoleRefused, IdempotencyConflict):
            return None
        except db.DatabaseUnavailable as exc:
            logger.error("database unavailable: %s", exc)
            return "503 SERVICE UNAVAILABLE", {"error": UNAVAILABLE}, [("Retry-After", "5")]
        document = accepted_body(result.quotation, environ.get("SCRIPT_NAME", "").rstrip("/"))
        extra = [("Location", document["links"]["self"])]
        if result.replayed:
            extra.append(("Idempotent-Replayed", "true"))
        return "202 ACCEPTED", document, extra


def _length(value: str | None) -> int | None:
    if not value or not value.isdigit():
        return None
    return int(value)


def _mimetype(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()
