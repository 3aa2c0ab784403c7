"""Pages that change a quotation after it was submitted: a draft's new body, its sending, and a
revision. Part of the pages' blueprint; the same domain functions as the API's PUT, send and
revise (web/actions.py), so both keep to one set of rules."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from quote_service import db, pipeline, quotations
from quote_service.app import services
from quote_service.domain.model import Line, Quotation
from quote_service.submit import revisions
from quote_service.web import actions
from quote_service.web.auth import current_scope
from quote_service.web.csrf import check_csrf
from quote_service.web.forms import QuotationForm
from quote_service.web.pages import bp, edit_rows, read_form, render_form


def _stored(quotation_id: int) -> tuple[Quotation, list[Line]]:
    with db.transaction(services().pool) as conn:
        quotation = quotations.get(conn, quotation_id, current_scope())
        if quotation is None:
            abort(404, description=f"Quotation {quotation_id} does not exist.")
        lines = [Line.from_row(r) for r in db.fetch_all(conn, "get_lines",
                                                        quotation_id=quotation_id)]
    return quotation, lines


def _change(quotation_id: int, mode: str, allowed: tuple[str, ...], make_action):
    """GET: the form, filled with the quotation's body. POST: apply it (or the form again,
    with its errors)."""
    quotation, lines = _stored(quotation_id)
    if quotation.status not in allowed:
        flash(f"{quotation.label} is {quotation.status}: it cannot be "
              f"{'edited' if mode == 'edit' else 'revised'} now.", "error")
        return redirect(url_for("pages.quotation_detail", quotation_id=quotation_id), 303)
    if request.method == "GET":
        return render_form(QuotationForm.from_quotation(quotation, lines), mode=mode,
                           quotation=quotation)
    check_csrf()
    form = QuotationForm.from_form(request.form)
    action = request.form.get("action", "submit")
    render = {"mode": mode, "quotation": quotation}
    if (rendered := edit_rows(form, action, **render)) is not None:
        return rendered
    # A revision is a draft unless it is sent right away; an edit stays a draft.
    draft = (action == "draft") if mode == "revise" else None
    submission, _, refused = read_form(form, draft, **render)
    if refused is not None:
        return refused
    try:
        result = actions.run(quotation_id, make_action(submission))
    except LookupError:
        abort(404, description=f"Quotation {quotation_id} does not exist.")
    except pipeline.NotAllowed as exc:
        flash(f"Not possible: {exc}.", "error")
        return redirect(url_for("pages.quotation_detail", quotation_id=quotation_id), 303)
    return result


@bp.route("/quotations/<int:quotation_id>/edit", methods=["GET", "POST"])
def edit_quotation(quotation_id: int):
    outcome = _change(quotation_id, "edit", revisions.EDITABLE, actions.edit)
    if not isinstance(outcome, Quotation):
        return outcome
    flash(f"Draft {outcome.label} saved: its PDF is being made again.", "success")
    return redirect(url_for("pages.quotation_detail", quotation_id=outcome.id), 303)


@bp.route("/quotations/<int:quotation_id>/revise", methods=["GET", "POST"])
def revise_quotation(quotation_id: int):
    outcome = _change(quotation_id, "revise", revisions.REVISABLE, actions.revise)
    if not isinstance(outcome, Quotation):
        return outcome
    flash(f"Version {outcome.version} of {outcome.number} created "
          f"{'as a draft' if outcome.draft else 'and on its way to the customer'}.", "success")
    return redirect(url_for("pages.quotation_detail", quotation_id=outcome.id), 303)


@bp.post("/quotations/<int:quotation_id>/send")
def send_quotation(quotation_id: int):
    check_csrf()
    try:
        actions.run(quotation_id, actions.send)
    except LookupError:
        abort(404, description=f"Quotation {quotation_id} does not exist.")
    except pipeline.NotAllowed as exc:
        flash(f"Sending is not possible: {exc}.", "error")
    else:
        flash("Sending: the stored PDF is on its way to the customer.", "success")
    return redirect(url_for("pages.quotation_detail", quotation_id=quotation_id), 303)

