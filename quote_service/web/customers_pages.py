"""The customers' pages for signed-in users: a searchable list and each customer's history of
quotations. Part of the pages' blueprint; customers are per team (quote_service.customers)."""

from __future__ import annotations

from flask import abort, g, render_template, request

from quote_service import customers, db, quotations
from quote_service.app import services
from quote_service.web.api import search_ok
from quote_service.web.auth import current_scope
from quote_service.web.pages import bp

HISTORY = 100


@bp.get("/customers")
def list_customers():
    search = (request.args.get("q") or "").strip() or None
    if search is not None and not search_ok(search):
        abort(400, description=f"Search for at most {quotations.MAX_SEARCH} characters, "
                               "without control characters.")
    with db.transaction(services().pool) as conn:
        found = customers.search(conn, search, customers.Reader.of(g.user))
    return render_template("customer_list.html", customers=found, search=search or "",
                           limit=customers.MAX_RESULTS)


@bp.get("/customers/<int:customer_id>")
def customer_detail(customer_id: int):
    with db.transaction(services().pool) as conn:
        customer = customers.get(conn, customer_id, customers.Reader.of(g.user))
        if customer is None:
            abort(404, description=f"Customer {customer_id} does not exist.")
        page = quotations.list_page(conn, filter=quotations.Filter(customer_id=customer_id),
                                    before=None, limit=HISTORY, scope=current_scope())
    return render_template("customer_detail.html", customer=customer, items=page.items,
                           more=page.more)
