"""The JSON API under /api (SPEC 4)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request, url_for

from quote_service import db, pipeline, quotations
from quote_service.app import services
from quote_service.deliver.resend_limits import ResendLimited
from quote_service.domain import jsontext
from quote_service.domain.model import ANSWERS, STATUSES, Delivery, Line, Quotation
from quote_service.domain.money import plain_amount, plain_number
from quote_service.domain.validation import (
    Submission,
    ValidationFailed,
    is_one_line,
    parse_submission,
)
from quote_service.generate.document import available_templates
from quote_service.links import DeliveryLink
from quote_service.submit.service import (
    IdempotencyConflict,
    NotAuthenticated,
    RoleRefused,
    client_key,
    submit,
)
from quote_service.web import actions, auth
from quote_service.web.auth import current_scope
from quote_service.web.errors import json_error
from quote_service.web.openapi import OPENAPI
from quote_service.web.params import MAX_ID, whole_number
from quote_service.web.submit_route import accepted_body, quotation_links

bp = Blueprint("api", __name__, url_prefix="/api")

# The lists' `status` takes a status, or an answer: accepted, declined.
LIST_FILTERS = (*STATUSES, *ANSWERS)
SEARCH_RULE = (f"must be at most {quotations.MAX_SEARCH} characters, without control "
               "characters")


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def quotation_summary(q: Quotation) -> dict[str, Any]:
    return {
        "id": q.id,
        "number": q.number,
        "status": q.status,
        "customer": {"name": q.customer_name, "email": q.customer_email,
                     "company": q.customer_company},
        "currency": q.currency,
        "total": plain_amount(q.total, q.currency),
        "created_at": _iso(q.created_at),
        "links": quotation_links(q.id, request.script_root),
    }


def _line(line: Line, currency: str) -> dict[str, Any]:
    return {
        "position": line.position, "description": line.description,
        "quantity": plain_number(line.quantity), "unit_price": plain_number(line.unit_price),
        "tax_rate": plain_number(line.tax_rate), "discount_pct": plain_number(line.discount_pct),
        "net": plain_amount(line.net, currency), "tax": plain_amount(line.tax, currency),
        "total": plain_amount(line.total, currency),
    }


def _delivery(d: Delivery, link: DeliveryLink | None) -> dict[str, Any]:
    return {"id": d.id, "kind": d.kind, "recipient": d.recipient, "state": d.state,
            "provider": d.provider, "provider_message_id": d.provider_message_id,
            "attempts": d.attempts, "last_error": d.last_error,
            "accepted_at": _iso(d.accepted_at),
            # Never the token: it exists only in the email.
            "link": None if link is None else {
                "state": link.state, "expires_at": _iso(link.expires_at),
                "revoked_at": _iso(link.revoked_at), "revoked_by": link.revoked_by}}


def quotation_document(detail: quotations.QuotationDetail) -> dict[str, Any]:
    q = detail.quotation
    return {
        **quotation_summary(q),
        "customer": {"name": q.customer_name, "email": q.customer_email,
                     "company": q.customer_company, "address": q.customer_address},
        "valid_until": q.valid_until.isoformat(),
        "notes": q.notes,
        "template": q.template,
        "locale": q.locale,
        "submitted_by": detail.submitted_by,
        "subtotal": plain_amount(q.subtotal, q.currency),
        "discount_total": plain_amount(q.discount_total, q.currency),
        "tax_total": plain_amount(q.tax_total, q.currency),
        "lines": [_line(line, q.currency) for line in detail.lines],
        "last_error": q.last_error,
        "failed_step": q.failed_step,
        "attempts": q.attempts,
        "pdf_generated_at": _iso(q.pdf_generated_at),
        "sent_at": _iso(q.sent_at),
        "pdf": {"key": q.pdf_key, "sha256": q.pdf_sha256, "size": q.pdf_size}
        if q.pdf_key else None,
        "deliveries": [_delivery(d, detail.links.get(d.id)) for d in detail.deliveries],
        "needs_reconciliation": pipeline.awaiting_reconciliation(detail.deliveries) is not None,
        "events": [{"at": _iso(e.at), "kind": e.kind, "status": e.status, "job_id": e.job_id,
                    "detail": e.detail} for e in detail.events],
        "draft": q.draft,
        "version": q.version,
        "versions": [{"id": v.id, "version": v.version, "status": v.status,
                      "created_at": _iso(v.created_at), "sent_at": _iso(v.sent_at),
                      "response": v.response_kind,
                      "links": {"self": url_for("api.get_quotation", quotation_id=v.id)}}
                     for v in detail.versions],
        "response": None if q.response_kind is None else {
            "kind": q.response_kind, "name": q.response_name, "comment": q.response_comment,
            "at": _iso(q.responded_at), "delivery_id": q.response_delivery_id},
        "expired_at": _iso(q.expired_at),
        "customer_id": q.customer_id,
    }


def _json_body() -> Any:
    if not request.is_json:
        return None, json_error(415, "the body must be JSON (Content-Type: application/json)")
    try:
        return jsontext.load(request.get_data(cache=False)), None
    except jsontext.MalformedJson as exc:
        return None, json_error(400, f"malformed JSON: {exc}")


def _submission(*, new: bool = True) -> tuple[Submission | None, Any, Response | None]:
    """The request's body as a submission, its payload, or the response refusing it. A new
    quotation that names no locale gets the service's; a changed one keeps its own."""
    payload, error = _json_body()
    if error is not None:
        return None, None, error
    try:
        default_locale = services().settings.locale if new else None
        return (parse_submission(payload, templates=available_templates(),
                                 default_locale=default_locale), payload, None)
    except ValidationFailed as exc:
        return None, payload, (jsonify({"errors": [e.as_dict() for e in exc.errors]}), 422)


@bp.post("/quotations")
def create_quotation():
    """The submission path, kept to one round trip to the database: a bearer token is checked
    by the submitting statement itself (auth.SELF_CHECKED), unless the request is refused
    before it (then the token is checked first, so that a stranger learns nothing)."""
    token = g.pop("api_token", None)
    submission, payload, refused = _submission()
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if refused is None and key is not None and len(key) > 200:
        refused = jsonify({"errors": [{"field": "Idempotency-Key",
                                       "message": "must be at most 200 characters"}]}), 422
    if refused is not None:
        return (auth.authenticate_token(token) if token is not None else None) or refused
    try:
        # Each user's keys are their own.
        result = submit(services().pool, submission, token=token,
                        user_id=None if token is not None else g.user.id,
                        idempotency_key=client_key(key) if key else None, payload=payload)
    except NotAuthenticated:
        return auth.token_refused()
    except RoleRefused as exc:
        return auth.role_refused(exc.args[0])
    except IdempotencyConflict:
        return json_error(409, "this Idempotency-Key was already used with a different body")
    body = accepted_body(result.quotation, request.script_root)
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = body["links"]["self"]
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/quotations/<int:quotation_id>")
def get_quotation(quotation_id: int):
    with db.transaction(services().pool) as conn:
        detail = quotations.get_detail(conn, quotation_id, current_scope())
    if detail is None:
        return json_error(404, f"quotation {quotation_id} not found")
    return jsonify(quotation_document(detail))


@bp.get("/quotations")
def list_quotations():
    status = request.args.get("status") or None
    search = request.args.get("q") or None
    errors = []
    if status is not None and status not in LIST_FILTERS:
        errors.append({"field": "status",
                       "message": f"must be one of {', '.join(LIST_FILTERS)}"})
    if search is not None and not search_ok(search):
        errors.append({"field": "q", "message": SEARCH_RULE})
    limit = _int_arg("limit", 50, errors, maximum=quotations.MAX_PAGE)
    before = _int_arg("before", None, errors)
    customer_id = _int_arg("customer", None, errors)
    if errors:
        return jsonify({"errors": errors}), 422
    chosen = quotations.Filter(status=status, search=search, customer_id=customer_id)
    with db.transaction(services().pool) as conn:
        page = quotations.list_page(conn, filter=chosen, before=before, limit=limit,
                                    scope=current_scope())
    body: dict[str, Any] = {"items": [quotation_summary(q) for q in page.items], "next": None}
    if page.more:
        args = {"before": page.items[-1].id, "limit": limit,
                **{k: v for k, v in (("status", status), ("q", search),
                                     ("customer", customer_id)) if v}}
        body["next"] = url_for("api.list_quotations", **args)
    return jsonify(body)


def search_ok(text: str) -> bool:
    """A search is one line of text, at most MAX_SEARCH long (an empty one is no search)."""
    return len(text) <= quotations.MAX_SEARCH and is_one_line(text)


def _int_arg(name: str, default: int | None, errors: list, *, maximum: int = MAX_ID
             ) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    value = whole_number(raw, maximum=maximum)
    if value is None:
        errors.append({"field": name, "message": f"must be a whole number from 1 to {maximum}"})
    return value


def _action(quotation_id: int, action: actions.Action, *, status: int = 202):
    """Run the action; answer with the quotation's document (the new version's, after a
    revision, with its Location)."""
    try:
        result = actions.run(quotation_id, action)
    except LookupError as exc:
        return json_error(404, str(exc))
    except pipeline.NotAllowed as exc:
        return json_error(409, str(exc))
    except ResendLimited as exc:
        response = json_error(429, f"resend limit reached: {exc}", retry_after=exc.retry_after)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    shown = result.id if isinstance(result, Quotation) else quotation_id
    with db.transaction(services().pool) as conn:
        detail = quotations.get_detail(conn, shown)
    response = jsonify(quotation_document(detail))
    response.status_code = status
    if shown != quotation_id:
        response.headers["Location"] = url_for("api.get_quotation", quotation_id=shown)
    return response


@bp.put("/quotations/<int:quotation_id>")
def replace_quotation(quotation_id: int):
    """A draft's (or ready quotation's) new body: same number, its PDF made again."""
    submission, _, refused = _submission(new=False)
    if refused is not None:
        return refused
    return _action(quotation_id, actions.edit(submission))


@bp.post("/quotations/<int:quotation_id>/send")
def send_quotation(quotation_id: int):
    """Email a ready quotation's stored PDF."""
    return _action(quotation_id, actions.send)


@bp.post("/quotations/<int:quotation_id>/revise")
def revise_quotation(quotation_id: int):
    """The next version of a sent, ready or expired quotation (a draft unless draft=false)."""
    submission, _, refused = _submission(new=False)
    if refused is not None:
        return refused
    return _action(quotation_id, actions.revise(submission), status=201)


@bp.post("/quotations/<int:quotation_id>/retry")
def retry_quotation(quotation_id: int):
    return _action(quotation_id, actions.retry)


@bp.post("/quotations/<int:quotation_id>/resend")
def resend_quotation(quotation_id: int):
    return _action(quotation_id, actions.resend)


@bp.post("/quotations/<int:quotation_id>/revoke-links")
def revoke_links(quotation_id: int):
    """Every customer link of the quotation's emails stops working (410)."""
    return _action(quotation_id, actions.revoke_links(), status=200)


@bp.post("/quotations/<int:quotation_id>/deliveries/<int:delivery_id>/revoke-link")
def revoke_delivery_link(quotation_id: int, delivery_id: int):
    """The customer link of one email stops working (410)."""
    return _action(quotation_id, actions.revoke_links(delivery_id), status=200)


@bp.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)
