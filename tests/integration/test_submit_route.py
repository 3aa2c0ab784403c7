"""The submission answered beneath Flask (web/submit_route.py) says exactly what the Flask
view says, and leaves every other case to the view."""

import dataclasses
import json

import pytest

from quote_service.app import create_app
from quote_service.web.submit_route import SubmitRoute
from tests.samples import sample_payload

pytestmark = pytest.mark.integration


def _route(app) -> SubmitRoute:
    route = app.wsgi_app
    assert isinstance(route, SubmitRoute)
    return route


def _headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in ("Date", "Server")}


def test_the_route_and_the_flask_view_answer_alike(app, client, conn, monkeypatch):
    """One key, three requests: the first two answered by the route (new, then replayed), the
    third by the Flask view (the route switched off): the replays alike in status, headers
    and bytes, and all three bodies the same."""
    def send():
        return client.post("/api/quotations", json=sample_payload(),
                           headers={"Idempotency-Key": "same"})

    first, by_route = send(), send()
    monkeypatch.setattr(app, "wsgi_app", _route(app)._app)
    by_view = send()
    assert first.status_code == by_route.status_code == by_view.status_code == 202
    assert first.get_data() == by_route.get_data() == by_view.get_data()
    assert _headers(by_route) == _headers(by_view)
    assert by_view.headers["Idempotent-Replayed"] == "true"
    assert _headers(first) == {k: v for k, v in _headers(by_view).items()
                               if k != "Idempotent-Replayed"}
    assert conn.execute("SELECT count(*) FROM quotations").fetchone()[0] == 1


def test_a_new_submission_carries_the_security_headers(client):
    response = client.post("/api/quotations", json=sample_payload())
    assert response.status_code == 202
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.get_data())["links"]["self"] == response.headers["Location"]


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({"Authorization": "Bearer not-a-token"}, None, 401),
    ({"Authorization": "Basic abc"}, None, 401),
    ({"Content-Type": "text/plain"}, b"{}", 415),
    ({}, b"{not json", 400),
    ({}, b'{"currency": "XXX"}', 422),
    ({"Idempotency-Key": "k" * 201}, None, 422),
])
def test_everything_else_is_the_flask_views_answer(client, conn, headers, body, status):
    data = json.dumps(sample_payload()).encode() if body is None else body
    response = client.post("/api/quotations", data=data,
                           headers={"Content-Type": "application/json", **headers})
    assert response.status_code == status
    assert "error" in response.get_json() or "errors" in response.get_json()
    assert conn.execute("SELECT count(*) FROM quotations").fetchone()[0] == 0


def test_a_refused_token_gets_the_views_401(client, conn):
    conn.execute("UPDATE api_tokens SET revoked_at = now()")
    response = client.post("/api/quotations", json=sample_payload())
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert conn.execute("SELECT count(*) FROM quotations").fetchone()[0] == 0


def test_a_viewer_gets_the_views_403(client_as, conn):
    response = client_as("viewer").post("/api/quotations", json=sample_payload())
    assert response.status_code == 403
    assert conn.execute("SELECT count(*) FROM quotations").fetchone()[0] == 0


def test_a_reused_key_with_another_body_is_the_views_409(client, conn):
    assert client.post("/api/quotations", json=sample_payload(),
                       headers={"Idempotency-Key": "k"}).status_code == 202
    response = client.post("/api/quotations", json=sample_payload(notes="other"),
                           headers={"Idempotency-Key": "k"})
    assert response.status_code == 409
    assert conn.execute("SELECT count(*) FROM quotations").fetchone()[0] == 1


def test_with_the_database_down_the_route_answers_503(settings):
    down = dataclasses.replace(settings, database_url="postgresql://127.0.0.1:9/none",
                               db_pool_timeout=0.5)
    app = create_app(down, {"TESTING": True})
    try:
        response = app.test_client().post(
            "/api/quotations", json=sample_payload(),
            headers={"Authorization": "Bearer qs_00000000_" + "0" * 40})
    finally:
        app.extensions["quote_service"].close()
    assert response.status_code == 503
    assert response.get_json() == {"error": "the database is unavailable; try again shortly"}
    assert response.headers["Retry-After"] == "5"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_under_a_prefix_the_links_carry_it(client):
    response = client.post("/api/quotations", json=sample_payload(),
                           base_url="http://localhost/sales/")
    assert response.status_code == 202
    assert response.headers["Location"].startswith("/sales/api/quotations/")
