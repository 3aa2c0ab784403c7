"""The customer's page: `/q/<token>`, the link of one of the quotation's emails. No account,
no site navigation: the token is the credential (links.py).

The page shows the quotation's essentials and its PDF (`/q/<token>/pdf`), and lets the
customer accept or decline it once, giving a name and maybe a comment (CSRF-protected forms;
answers.py records them). Instead of the forms it says what stands in the way: the answer
already given (a second one is 409), a newer version (superseded, 409), the validity that
ran out (410). A link that expired or was withdrawn, or a token that never existed, gets the
page that says how to ask for a new one (410, 404).
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from quote_service import answers, db, links, quotations
from quote_service.app import services
from quote_service.domain.model import Line
from quote_service.domain.validation import ValidationFailed, parse_answer
from quote_service.web.csrf import csrf_valid
from quote_service.web.customer_page import customer_page, link_unavailable
from quote_service.web.pdf import send_pdf

bp = Blueprint("customer", __name__, template_folder="templates")

# The page's status for each state: the quotation still shows, but some states are answers.
STATUS_OF_STATE = {answers.OPEN: 200, answers.ANSWERED: 200, answers.SUPERSEDED: 200,
                   answers.NOT_SENT: 200, answers.EXPIRED: 410}
ANSWER_OF_VERB = {"accept": "accepted", "decline": "declined"}
REFUSAL_STATUS = {answers.ANSWERED: 409, answers.SUPERSEDED: 409, answers.EXPIRED: 410,
                  answers.NOT_SENT: 409}


def _open(token: str):
    """The link and its quotation, or the response that stands for them."""
    with db.transaction(services().pool) as conn:
        link = links.find(conn, token)
        quotation = quotations.get(conn, link.quotation_id) if link else None
    if link is None or quotation is None:
        return None, None, link_unavailable("unknown", 404)
    if link.state != "active":
        return None, None, link_unavailable(link.state, locale=quotation.locale)
    return link, quotation, None


def _page(token: str, view: answers.CustomerView, *, status: int, errors=None,
          form=None, posted: str | None = None) -> Response:
    """The page; after a refused form, `posted` names that form, which keeps what was typed
    and shows the errors (each field's is the key of its sentence in the page's words)."""
    with db.transaction(services().pool) as conn:
        lines = [Line.from_row(r) for r in db.fetch_all(conn, "get_lines",
                                                        quotation_id=view.quotation.id)]
    return customer_page("customer_quotation.html", status, view.quotation.locale,
                         view=view, q=view.quotation,
                         lines=lines, token=token, errors=errors or {}, form=form or {},
                         posted=posted)


@bp.get("/q/<token>")
def quotation_page(token: str):
    _, quotation, unavailable = _open(token)
    if unavailable is not None:
        return unavailable
    with db.transaction(services().pool) as conn:
        view = answers.view(conn, quotation, services().settings.today())
    return _page(token, view, status=STATUS_OF_STATE[view.state])


@bp.get("/q/<token>/pdf")
def quotation_pdf(token: str):
    _, quotation, unavailable = _open(token)
    return unavailable if unavailable is not None else send_pdf(quotation)


@bp.post("/q/<token>/<any(accept, decline):verb>")
def answer(token: str, verb: str):
    link, quotation, unavailable = _open(token)
    if unavailable is not None:
        return unavailable
    settings = services().settings
    with db.transaction(services().pool) as conn:
        view = answers.view(conn, quotation, settings.today())
    if not csrf_valid():
        return _page(token, view, status=400, form=request.form, posted=verb,
                     errors={"form": "form_expired"})
    try:
        given = parse_answer(request.form)
    except ValidationFailed as exc:  # the page says it in the customer's words: `name_error`
        return _page(token, view, status=422, form=request.form, posted=verb,
                     errors={e.field: f"{e.field}_error" for e in exc.errors})
    try:
        with db.transaction(services().pool) as conn:
            answers.record(conn, link, ANSWER_OF_VERB[verb], given.name, given.comment,
                           settings.today())
    except answers.AnswerRefused as refused:
        return _page(token, refused.view, status=REFUSAL_STATUS[refused.view.state])
    return redirect(url_for("customer.quotation_page", token=token), 303)
