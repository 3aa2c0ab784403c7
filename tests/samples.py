"""Sample request bodies shared by the tests, and the account they are submitted as."""

from __future__ import annotations


def sample_payload(**overrides) -> dict:
    payload = {
        "customer": {"name": "Smith & Sons <Ltd>", "email": "buyer@example.com",
                     "company": "Acme", "address": "1 Main St\nSpringfield"},
        "currency": "EUR",
        "notes": "Thanks",
        "lines": [{"description": "Widget", "quantity": "2", "unit_price": "99.50",
                   "tax_rate": "20", "discount_pct": "0"}],
    }
    payload.update(overrides)
    return payload


SUBMITTER = "submitter@example.com"


def submitter_id(pool) -> int:
    """The account that tests submit quotations as (every quotation names its submitter),
    created on first use. It cannot sign in: its password hash is no argon2 hash."""
    from quote_service import db
    from quote_service.accounts import users

    with db.transaction(pool) as conn:
        user = users.get_by_email(conn, SUBMITTER) or users.insert(
            conn, SUBMITTER, role="sales", password_hash="!")
    return user.id
