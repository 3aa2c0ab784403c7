"""The customers under /api: a search (the form's autocomplete uses it) and each customer with
its quotations. Part of the API's blueprint; customers are per team (quote_service.customers)
and a customer's quotations are those the user may see."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request, url_for

from quote_service import customers, db, quotations
from quote_service.app import services
from quote_service.customers import Customer
from quote_service.web.api import SEARCH_RULE, bp, quotation_summary, search_ok
from quote_service.web.auth import current_scope
from quote_service.web.errors import json_error

HISTORY = 50


def customer_summary(c: Customer) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "email": c.email, "company": c.company,
            "address": c.address, "locale": c.locale,
            "links": {"self": url_for("api.get_customer", customer_id=c.id),
                      "page": f"/customers/{c.id}"}}


@bp.get("/customers")
def list_customers():
    search = request.args.get("q") or None
    if search is not None and not search_ok(search):
        return jsonify({"errors": [{"field": "q", "message": SEARCH_RULE}]}), 422
    with db.transaction(services().pool) as conn:
        found = customers.search(conn, search, customers.Reader.of(g.user))
    return jsonify({"items": [customer_summary(c) for c in found]})


@bp.get("/customers/<int:customer_id>")
def get_customer(customer_id: int):
    with db.transaction(services().pool) as conn:
        customer = customers.get(conn, customer_id, customers.Reader.of(g.user))
        page = None if customer is None else quotations.list_page(
            conn, filter=quotations.Filter(customer_id=customer_id), before=None,
            limit=HISTORY, scope=current_scope())
    if customer is None:
        return json_error(404, f"customer {customer_id} not found")
    return jsonify({**customer_summary(customer),
                    "created_at": customer.created_at.isoformat(),
                    "quotations": [quotation_summary(q) for q in page.items],
                    "more_quotations": url_for("api.list_quotations", customer=customer_id,
                                               before=page.items[-1].id) if page.more else None})
