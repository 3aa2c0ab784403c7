"""Security headers on every response: pages, the API, errors, static files and PDFs.

The pages run no inline script or style (everything is in /assets), so the Content Security
Policy allows scripts, styles, images and requests from this origin only: an injected
`<script>` or `onclick=` does not run even if some text ever escaped Jinja's autoescape.
`frame-ancestors 'none'` (and X-Frame-Options for older browsers) stops another site from
framing a page to trick a click on Retry or Resend. `nosniff` keeps a browser from reading a
PDF or JSON as HTML. `Referrer-Policy: same-origin` keeps URLs, such as a customer's
`/q/<token>`, from being sent to other sites.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
# Browsers that have seen it over https keep to https for a year.
HSTS = "max-age=31536000"


def response_headers(*, https: bool) -> dict[str, str]:
    """The headers every response carries (web/submit_route.py's too)."""
    return {**HEADERS, **({"Strict-Transport-Security": HSTS} if https else {})}


def install(app: Flask, *, https: bool) -> None:
    headers = response_headers(https=https)

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
