"""Security headers on every kind of response the app gives, errors included."""

import dataclasses

import pytest

from quote_service.app import create_app
from quote_service.web.headers import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.integration

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def check(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.path, name)
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/login"), ("GET", "/quotations"), ("GET", "/quotations/new"),
    ("GET", "/dashboard"), ("GET", "/dashboard/resends"), ("GET", "/api/quotations"),
    ("GET", "/api/openapi.json"), ("GET", "/api/quotations/12345"), ("GET", "/no-such-page"),
    ("GET", "/assets/app.js"), ("GET", "/healthz"), ("GET", "/metrics"),
    ("GET", "/q/not-a-link"), ("PUT", "/api/quotations"), ("POST", "/quotations/new"),
])
def test_every_response_carries_the_security_headers(client, method, path):
    response = client.open(path, method=method)
    response.close()
    check(response)


def test_anonymous_redirects_and_unexpected_errors_carry_them_too(app, client_as):
    @app.get("/boom")
    def boom():
        raise RuntimeError("unexpected")

    app.testing = False  # let the 500 handler answer instead of raising into the test
    check(app.test_client().get("/quotations"))
    response = client_as("viewer").get("/boom")
    assert response.status_code == 500
    check(response)


def test_hsts_only_when_the_service_is_served_over_https(settings):
    assert "Strict-Transport-Security" not in create_app(settings, {"TESTING": True}
                                                          ).test_client().get("/healthz").headers
    app = create_app(dataclasses.replace(settings, public_base_url="https://q.example.com",
                                         secret_key="k" * 40), {"TESTING": True})
    assert app.test_client().get("/healthz").headers["Strict-Transport-Security"] == (
        "max-age=31536000")
