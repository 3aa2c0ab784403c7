"""Sample request bodies and emails shared by the tests, and the account they are submitted as."""

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


def sample_email(**changes):
    """The email of quotation Q-2026-0017's delivery 17, as the send step builds it."""
    from quote_service.deliver.mail.base import Attachment, OutgoingEmail

    fields = dict(
        reference="delivery-17",
        sender="Northwind Quotes <quotes@northwind.example>",
        to="buyer@example.com",
        subject="Quotation Q-2026-0017",
        text="Dear customer",
        html="<p>Dear customer</p>",
        attachments=(Attachment("Q-2026-0017.pdf", "application/pdf", b"%PDF-1.7 data"),),
        custom_args={"delivery_id": "17", "quotation_number": "Q-2026-0017"},
    )
    fields.update(changes)
    return OutgoingEmail(**fields)


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
