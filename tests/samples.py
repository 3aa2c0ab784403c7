"""Sample request bodies shared by the tests."""

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
