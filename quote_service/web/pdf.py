"""A quotation's PDF: for signed-in users at `/quotations/<id>/pdf` (within their scope), and
for its customer at `/q/<token>/pdf`, under the link of one delivery (web/customer.py).

Both stream the file from local storage or redirect to a short-lived signed URL (GCS), so a
link does not die with a cloud URL's 7-day limit. A customer's link that expired or was
revoked, and the older links that named the quotation, answer 410 with a page that says how
to get a new one; a token that never existed is a 404, which tells nothing about any other.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, g, redirect

from quote_service import db, quotations
from quote_service.app import services
from quote_service.deliver.storage.base import StorageError
from quote_service.domain.model import Quotation
from quote_service.web.auth import current_scope
from quote_service.web.customer_page import link_unavailable

logger = logging.getLogger("quote_service.web")

bp = Blueprint("pdf", __name__, template_folder="templates")


def send_pdf(q: Quotation) -> Response:
    if q.pdf_key is None:
        abort(404, description=f"The PDF of {q.number} is not ready yet.")
    storage = services().storage
    try:
        url = storage.signed_url(q.pdf_key, filename=q.pdf_filename)
        if url is not None:
            response = redirect(url, 302)
            response.headers["Cache-Control"] = "no-store"  # the signed URL expires
            return response
        data = storage.get(q.pdf_key)
    except FileNotFoundError:
        logger.error("quotation %s: PDF %s is recorded but missing from storage",
                     q.id, q.pdf_key)
        abort(404, description=f"The PDF of {q.number} is missing from storage.")
    except StorageError as exc:
        logger.error("quotation %s: could not read PDF %s: %s", q.id, q.pdf_key, exc)
        abort(503, description="The PDF cannot be read right now; try again shortly.")
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{q.pdf_filename}"'
    response.headers["Cache-Control"] = "private, max-age=300"
    # Our own pages show it inline (a draft's preview); other sites still cannot frame it.
    response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/quotations/<int:quotation_id>/pdf")
def quotation_pdf(quotation_id: int):
    """Signed-in users, within their scope. Anonymous requests reach this view only with a
    `token` (web/auth.py): the link of an email sent before each delivery had its own."""
    if g.user is None:
        return link_unavailable("old")
    with db.transaction(services().pool) as conn:
        q = quotations.get(conn, quotation_id, current_scope())
    if q is None:
        abort(404, description=f"Quotation {quotation_id} does not exist.")
    return send_pdf(q)


