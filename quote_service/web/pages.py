"""Server-rendered pages (SPEC 4): the quotation form, the list, the detail page and the PDF.

Every page works without JavaScript: the form's "Add line" and "Remove" are submit buttons that
re-render the form, and a page whose quotation is still moving refreshes itself (not one whose
last email awaits reconciliation: only the provider's webhook or a person moves it on). Every
POST carries the session's CSRF token. The pages call the same domain functions as the JSON API.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from quote_service import db, pipeline, quotations
from quote_service.app import services
from quote_service.deliver.resend_limits import ResendLimited
from quote_service.domain import locales
from quote_service.domain.model import ANSWERS, STATUSES, Event, Quotation
from quote_service.domain.money import MINOR_UNITS, format_amount, plain_number
from quote_service.domain.validation import (
    DEFAULT_VALIDITY_DAYS,
    MAX_VALIDITY_DAYS,
    ValidationFailed,
    parse_submission,
)
from quote_service.generate.document import available_templates
from quote_service.links import pdf_path
from quote_service.submit import revisions
from quote_service.submit.service import (
    IdempotencyConflict,
    NotAuthenticated,
    RoleRefused,
    earlier_submission,
    form_key,
    submit,
)
from quote_service.web import actions, forms
from quote_service.web.api import search_ok
from quote_service.web.auth import current_scope
from quote_service.web.csrf import check_csrf
from quote_service.web.forms import QuotationForm
from quote_service.web.params import whole_number

logger = logging.getLogger("quote_service.web")

bp = Blueprint(
    "pages", __name__, template_folder="templates", static_folder="static",
    static_url_path="/assets",
)

PAGE_SIZE = 25
# While a quotation is in one of these states its page refreshes itself.
ACTIVE_STATUSES = ("draft", "queued", "generating", "delivering")
# The list's status filter: a status, or the customer's answer.
LIST_FILTERS = (*STATUSES, *ANSWERS)


# --- helpers shared by the templates ----------------------------------------------------------

@bp.app_template_filter("money")
def money_filter(amount: Decimal | None, currency: str) -> str:
    return "" if amount is None else format_amount(amount, currency)


@bp.app_template_filter("number")
def number_filter(value: Decimal | None) -> str:
    return "" if value is None else plain_number(value)


@bp.app_template_filter("price")
def price_filter(value: Decimal | None, currency: str) -> str:
    """A unit price as entered (up to 4 places) but never with fewer places than the
    currency's minor units: `99.5` EUR -> `99.50`, `0.1235` EUR -> `0.1235`."""
    if value is None:
        return ""
    places = max(MINOR_UNITS.get(currency, 2), -min(0, value.normalize().as_tuple().exponent))
    return f"{value:,.{places}f}"


@bp.app_template_filter("locale_name")
def locale_name_filter(tag: str) -> str:
    """`de-DE` as its speakers call it: `Deutsch (Deutschland) — de-DE`."""
    return locales.label(tag)


@bp.app_template_filter("when")
def when_filter(value: dt.datetime | None, seconds: bool = False) -> str:
    """Timestamps in UTC, so that every reader and every log line agree on the time."""
    if value is None:
        return ""
    pattern = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return value.astimezone(dt.UTC).strftime(pattern)




# --- the form -----------------------------------------------------------------------------------

@bp.get("/")
def index():
    return redirect(url_for("pages.list_quotations"))


@bp.get("/quotations/new")
def new_quotation():
    form = QuotationForm(
        valid_until=(dt.date.today() + dt.timedelta(days=DEFAULT_VALIDITY_DAYS)).isoformat())
    return render_form(form)


def edit_rows(form: QuotationForm, action: str, **render: Any) -> str | None:
    """Apply "Add line" or "Remove" and render the form again; None for any other action."""
    if action == "add_line":
        form.add_line()
        return render_form(form, focus=f"lines-{len(form.lines) - 1}-description", **render)
    if action.startswith("remove_line:"):
        index = whole_number(action.removeprefix("remove_line:"), minimum=0)
        form.remove_line(-1 if index is None else index)
        return render_form(form, **render)
    return None


def read_form(form: QuotationForm, draft: bool | None, **render: Any):
    """The submission of a posted form (a draft or not, or None: left to the action), or the
    form rendered again with each error next to its field (422)."""
    payload = form.to_payload(draft=draft)
    try:
        return parse_submission(payload, templates=available_templates(),
                                default_locale=services().settings.locale), payload, None
    except ValidationFailed as exc:
        errors = forms.errors_by_input(exc.errors, form.filled_rows())
        return None, payload, (render_form(form, errors, **render), 422)


@bp.post("/quotations/new")
def create_quotation():
    check_csrf()
    form = QuotationForm.from_form(request.form)
    action = request.form.get("action", "submit")
    if (rendered := edit_rows(form, action)) is not None:
        return rendered
    submission, payload, refused = read_form(form, True if action == "draft" else None)
    if refused is not None:
        return refused

    # The id was put in the page when it was rendered: a double click or a browser resend
    # of the same page answers the first quotation instead of creating a second one.
    key = form_key(form.submission_id)
    try:
        result = submit(services().pool, submission, user_id=g.user.id,
                        idempotency_key=key, payload=payload)
    except (NotAuthenticated, RoleRefused):
        # Deactivated, or the role changed, since this request's session was read.
        abort(403, description="Your account may not submit quotations any more.")
    except IdempotencyConflict:
        with db.transaction(services().pool) as conn:
            earlier = earlier_submission(conn, g.user.id, key)
        form.submission_id = forms.new_submission_id()
        return render_form(form, earlier=earlier), 409
    quotation = result.quotation
    if result.replayed:
        flash(f"This form was already submitted: here is quotation {quotation.number}.", "info")
    elif quotation.draft:
        flash(f"Draft {quotation.number} saved. Its PDF is being prepared; nothing is sent "
              "until you send it.", "success")
    else:
        flash(f"Quotation {quotation.number} created. Its PDF is being prepared and will be "
              f"emailed to {quotation.customer_email}.", "success")
    return redirect(url_for("pages.quotation_detail", quotation_id=quotation.id), 303)


def render_form(form: QuotationForm, errors: dict[str, list[str]] | None = None, *,
                focus: str | None = None, earlier: Quotation | None = None, mode: str = "new",
                quotation: Quotation | None = None) -> str:
    """The form of a new quotation, of a draft's new body (`edit`) or of a next version
    (`revise`) of `quotation`."""
    errors = errors or {}
    summary = [(forms.label_for(name), message, name)
               for name, messages in errors.items() for message in messages]
    today = dt.date.today()
    if mode == "edit":
        action = url_for("pages.edit_quotation", quotation_id=quotation.id)
        heading, buttons = f"Edit draft {quotation.label}", [("submit", "Save the draft")]
    elif mode == "revise":
        action = url_for("pages.revise_quotation", quotation_id=quotation.id)
        n = quotation.version + 1
        heading = f"Revise {quotation.label}"
        buttons = [("draft", f"Create version {n} as a draft"),
                   ("submit", f"Create version {n} and send it")]
    else:
        action = url_for("pages.create_quotation")
        heading = "New quotation"
        buttons = [("draft", "Save as draft"), ("submit", "Create and send")]
    return render_template(
        "quotation_form.html",
        form=form,
        errors=errors,
        summary=summary,
        focus=focus,
        earlier=earlier,
        mode=mode,
        quotation=quotation,
        form_action=action,
        heading=heading,
        buttons=buttons,
        currencies=sorted(MINOR_UNITS),
        templates=sorted(available_templates()),
        locales=[(tag, locales.label(tag)) for tag in locales.SUPPORTED_LOCALES],
        chosen_locale=form.locale or services().settings.locale,
        min_date=today.isoformat(),
        max_date=(today + dt.timedelta(days=MAX_VALIDITY_DAYS)).isoformat(),
    )


# --- list and detail ----------------------------------------------------------------------------

@bp.get("/quotations")
def list_quotations():
    status = request.args.get("status") or None
    if status is not None and status not in LIST_FILTERS:
        abort(400, description=f"Unknown status {status!r}: use one of "
                               f"{', '.join(LIST_FILTERS)}.")
    search = (request.args.get("q") or "").strip() or None
    if search is not None and not search_ok(search):
        abort(400, description=f"Search for at most {quotations.MAX_SEARCH} characters, "
                               "without control characters.")
    raw_before = request.args.get("before") or None
    before = whole_number(raw_before)
    if raw_before is not None and before is None:
        abort(400, description="'before' must be a quotation id (a positive whole number).")
    with db.transaction(services().pool) as conn:
        page = quotations.list_page(conn, filter=quotations.Filter(status=status, search=search),
                                    before=before, limit=PAGE_SIZE, scope=current_scope())
    kept = {k: v for k, v in (("status", status), ("q", search)) if v}
    older = (url_for("pages.list_quotations", before=page.items[-1].id, **kept)
             if page.more else None)
    return render_template("quotation_list.html", items=page.items, status=status,
                           search=search or "", statuses=LIST_FILTERS, before=before,
                           older=older, kept=kept)


@dataclass(frozen=True)
class Step:
    label: str
    state: str  # done | current | failed | attention | waiting | pending
    at: dt.datetime | None


def progress(q: Quotation, events: list[Event], *, outcome_unknown: bool = False) -> list[Step]:
    """The pipeline as four steps, with the time each one was reached when it is known: a
    step is reached when the previous one is done (delivering starts as the PDF is stored).
    With `outcome_unknown` (the last email is awaiting reconciliation) the Delivering step
    needs attention: it is neither in progress nor failed."""
    labels = ("Draft" if q.draft else "Queued", "Generating PDF",
              "Ready to send" if q.status == "ready" else "Delivering", "Sent")
    generating = next((e.at for e in events if e.kind == "generating"), None)
    times = (q.created_at, generating, q.pdf_generated_at, q.sent_at)
    if q.status in ("expired", "superseded"):  # after its life: as far as it went
        status = "sent" if q.sent_at else "ready" if q.pdf_key else "draft"
    else:
        status = q.status
    if status == "failed":
        if q.failed_step == pipeline.GENERATE:
            failed = 1
        elif q.failed_step == pipeline.SEND:
            failed = 2
        else:
            failed = 2 if q.pdf_key else 1
        states = ["done" if i < failed else "failed" if i == failed else "pending"
                  for i in range(4)]
    else:
        reached = {"draft": 0, "queued": 0, "generating": 1, "ready": 2, "delivering": 2,
                   "sent": 3}[status]
        states = ["done" if i < reached or status == "sent" else
                  "current" if i == reached else "pending" for i in range(4)]
        if status == "ready":  # waits for someone to send it, not for the pipeline
            states[2] = "waiting"
    if outcome_unknown and states[2] in ("current", "failed"):
        states[2] = "attention"
    # A step's time is shown once it is reached; a resend's earlier `sent_at` is not "sent".
    return [Step(label, state, at if state in ("done", "failed") or i == 0 else None)
            for i, (label, state, at) in enumerate(zip(labels, states, times, strict=True))]


@bp.get("/quotations/<int:quotation_id>")
def quotation_detail(quotation_id: int):
    with db.transaction(services().pool) as conn:
        detail = quotations.get_detail(conn, quotation_id, current_scope())
    if detail is None:
        abort(404, description=f"Quotation {quotation_id} does not exist.")
    q = detail.quotation
    # Parked: no job will change it, so the page stops following it, and a retry would be
    # refused (only a deliberate resend, after checking the provider, emails it again).
    parked = pipeline.awaiting_reconciliation(detail.deliveries)
    newer = next((v for v in detail.versions if v.version > q.version), None)
    return render_template(
        "quotation_detail.html",
        q=q,
        versions=detail.versions,
        newer=newer,
        can_send=q.status == "ready",
        can_edit=q.status in revisions.EDITABLE,
        can_revise=q.status in revisions.REVISABLE and q.response_kind is None,
        lines=detail.lines,
        submitted_by=detail.submitted_by,
        deliveries=detail.deliveries,
        links=detail.links,
        events=list(reversed(detail.events)),
        steps=progress(q, detail.events, outcome_unknown=parked is not None),
        parked=parked,
        active=q.status in ACTIVE_STATUSES and parked is None,
        pdf_url=pdf_path(q.id) if q.pdf_key else None,
        can_retry=q.status == "failed" and parked is None,
        can_resend=q.pdf_key is not None and q.status not in ("draft", "ready"),
    )


def _operator_action(quotation_id: int, action: actions.Action, done: str, verb: str):
    check_csrf()
    try:
        actions.run(quotation_id, action)
    except LookupError:
        abort(404, description=f"Quotation {quotation_id} does not exist.")
    except pipeline.NotAllowed as exc:
        flash(f"{verb} is not possible: {exc}.", "error")
    except ResendLimited as exc:
        minutes = math.ceil(exc.retry_after / 60)
        flash(f"{verb} refused: {exc}. Try again in {minutes} minute"
              f"{'s' if minutes != 1 else ''}.", "error")
    else:
        flash(done, "success")
    return redirect(url_for("pages.quotation_detail", quotation_id=quotation_id), 303)


@bp.post("/quotations/<int:quotation_id>/retry")
def retry_quotation(quotation_id: int):
    return _operator_action(quotation_id, actions.retry,
                            "Retry queued: the quotation resumes from the step that failed.",
                            "Retry")


@bp.post("/quotations/<int:quotation_id>/resend")
def resend_quotation(quotation_id: int):
    return _operator_action(quotation_id, actions.resend,
                            "Resend queued: the stored PDF will be emailed again.", "Resend")


@bp.post("/quotations/<int:quotation_id>/links/revoke")
def revoke_links(quotation_id: int):
    """One email's customer link (`delivery_id` in the form), or all of the quotation's."""
    raw = request.form.get("delivery_id") or None
    delivery_id = whole_number(raw)
    if raw is not None and delivery_id is None:
        abort(400, description="'delivery_id' must be a delivery id.")
    which = "This email's link was" if delivery_id else "The links of every email were"
    return _operator_action(quotation_id, actions.revoke_links(delivery_id),
                            f"{which} withdrawn: opening them now says how to ask for a new "
                            "one.", "Withdrawing the link")
