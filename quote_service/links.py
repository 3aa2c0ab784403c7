"""Links to a quotation's PDF that work for its customer without an account.

The token is an HMAC of the quotation id and its PDF checksum under SECRET_KEY: it cannot be
guessed, and it stops working if the PDF is ever replaced. The route that accepts it streams
the file or redirects to a fresh short-lived signed URL, so an emailed link does not expire
with a cloud URL's 7-day limit.
"""

from __future__ import annotations

import hashlib
import hmac

from quote_service.config import Settings
from quote_service.domain.model import Quotation


def pdf_token(settings: Settings, quotation: Quotation) -> str:
    message = f"{quotation.id}:{quotation.pdf_sha256}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def check_pdf_token(settings: Settings, quotation: Quotation, token: str | None) -> bool:
    if not token:
        return False
    return hmac.compare_digest(pdf_token(settings, quotation).encode(), token.encode("utf-8"))


def pdf_path(quotation_id: int) -> str:
    return f"/quotations/{quotation_id}/pdf"


def public_pdf_url(settings: Settings, quotation: Quotation) -> str:
    token = pdf_token(settings, quotation)
    return f"{settings.public_base_url}{pdf_path(quotation.id)}?token={token}"
