"""CSRF protection of the web forms: one random token per session, sent back by every form.

Another site can make a signed-in browser POST here, but cannot read our pages to learn the
token; the session cookie's SameSite=Lax is the second line.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session


def csrf_token() -> str:
    """This session's token, made on first use; every form carries it in a hidden field."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_valid() -> bool:
    """Whether the POSTed form carries this session's token: another site cannot make a
    signed-in browser submit a form here."""
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def check_csrf() -> None:
    """Refuse (400) a form POST that fails `csrf_valid`."""
    if not csrf_valid():
        abort(400, description="This form has expired or did not come from this site. "
                               "Go back, reload the page and try again.")

