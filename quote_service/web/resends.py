"""`/dashboard/resends`: who resent which quotation to whom, from the audit trail.

Resends are the one action that emails a customer at a user's request, so they are limited
(deliver/resend_limits.py) and shown here: the latest ones with the account that asked, and
the count per account over the limits' window. Viewers and admins see it, like the rest of
the dashboard (the access policy goes by the path, web/auth.py; the blueprint's name puts it
under the dashboard's tab in the page header).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from quote_service import db
from quote_service.app import services

bp = Blueprint("dashboard_resends", __name__, url_prefix="/dashboard/resends",
               template_folder="templates")

ROWS = 100


@bp.get("")
def list_resends():
    by = (request.args.get("by") or "").strip() or None
    settings = services().settings
    with db.transaction(services().pool) as conn:
        rows = db.fetch_all(conn, "recent_resends", by=by, limit=ROWS)
        accounts = db.fetch_all(conn, "resends_by_account",
                                window_seconds=settings.resend_window_seconds)
    return render_template("dashboard_resends.html", rows=rows, accounts=accounts, by=by,
                           limit_per_quotation=settings.resend_limit_per_quotation,
                           limit_per_recipient=settings.resend_limit_per_recipient,
                           window_minutes=settings.resend_window_seconds // 60)
