"""The JSON API against a real database."""

import dataclasses
import json
import re

import pytest

from quote_service.app import create_app
from quote_service.domain.model import ANSWERS, STATUSES
from tests.samples import sample_payload
from tests.support.unknown_outcome import parked_delivering

pytestmark = pytest.mark.integration


def post(client, body, **headers):
    return client.post("/api/quotations", json=body, headers=headers)


def count(conn, table):
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_submit_answers_202_with_location(client, conn):
    response = post(client, sample_payload())
    assert response.status_code == 202
    body = response.get_json()
    assert body["number"].startswith("Q-") and body["status"] == "queued"
    assert body["total"] == "238.80"
    assert response.headers["Location"] == f"/api/quotations/{body['id']}"
    assert body["links"] == {"self": f"/api/quotations/{body['id']}",
                             "pdf": f"/quotations/{body['id']}/pdf",
                             "page": f"/quotations/{body['id']}"}


def test_get_returns_lines_totals_and_steps(client):
    created = post(client, sample_payload()).get_json()
    body = client.get(created["links"]["self"]).get_json()
    assert body["customer"]["name"] == "Smith & Sons <Ltd>"
    assert body["lines"][0]["total"] == "238.80"
    assert (body["subtotal"], body["tax_total"], body["total"]) == ("199.00", "39.80", "238.80")
    assert body["pdf_generated_at"] is None and body["sent_at"] is None
    assert body["last_error"] is None and body["attempts"] == 0
    assert [e["kind"] for e in body["events"]] == ["submitted"]
    assert body["submitted_by"] == "admin@example.com"  # the token's user


def test_json_numbers_are_read_as_decimals(client):
    body = sample_payload(lines=[{"description": "a", "quantity": 3, "unit_price": 0.335}])
    response = client.post("/api/quotations", data=json.dumps(body),
                           content_type="application/json")
    assert response.get_json()["total"] == "1.01"


def test_invalid_input_lists_every_problem_and_writes_nothing(client, conn):
    body = sample_payload(currency="XXX", lines=[{"description": "", "quantity": "-1",
                                                  "unit_price": "x"}])
    response = post(client, body)
    assert response.status_code == 422
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert fields == {"currency", "lines[0].description", "lines[0].quantity",
                      "lines[0].unit_price"}
    assert count(conn, "quotations") == 0 and count(conn, "procrastinate_jobs") == 0


def test_malformed_json_is_400(client, conn):
    response = client.post("/api/quotations", data="{nope", content_type="application/json")
    assert response.status_code == 400 and "malformed JSON" in response.get_json()["error"]
    assert count(conn, "quotations") == 0


def test_wrong_content_type_is_415(client):
    response = client.post("/api/quotations", data="a=b",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and "error" in response.get_json()


def test_body_over_one_mib_is_413(client, conn):
    body = sample_payload(notes="x" * (1024 * 1024))
    response = client.post("/api/quotations", data=json.dumps(body),
                           content_type="application/json")
    assert response.status_code == 413 and "error" in response.get_json()
    assert count(conn, "quotations") == 0


def test_unknown_quotation_is_404_json(client):
    response = client.get("/api/quotations/999999")
    assert response.status_code == 404 and "not found" in response.get_json()["error"]
    assert client.get("/api/nothing-here").get_json()["error"]


def test_idempotency_key_replays_then_conflicts(client, conn):
    first = post(client, sample_payload(), **{"Idempotency-Key": "abc"})
    again = post(client, sample_payload(), **{"Idempotency-Key": "abc"})
    assert again.status_code == 202 and again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = post(client, sample_payload(notes="changed"), **{"Idempotency-Key": "abc"})
    assert other.status_code == 409
    assert count(conn, "quotations") == 1 and count(conn, "procrastinate_jobs") == 1


def test_idempotency_keys_are_each_users_own(client_as, conn):
    sales, admin = client_as("sales"), client_as("admin")
    first = post(sales, sample_payload(), **{"Idempotency-Key": "order-1"})
    # The same key and body from another user is that user's own, new quotation.
    other = post(admin, sample_payload(), **{"Idempotency-Key": "order-1"})
    assert other.status_code == 202 and "Idempotent-Replayed" not in other.headers
    assert other.get_json()["id"] != first.get_json()["id"]
    changed = post(admin, sample_payload(notes="changed"), **{"Idempotency-Key": "order-2"})
    assert post(sales, sample_payload(), **{"Idempotency-Key": "order-2"}).status_code == 202
    again = post(sales, sample_payload(), **{"Idempotency-Key": "order-1"})
    assert again.get_json()["id"] == first.get_json()["id"]
    assert changed.status_code == 202 and count(conn, "quotations") == 4
    assert conn.execute("SELECT u.role FROM quotations q JOIN users u ON u.id = q.user_id "
                        "ORDER BY q.id").fetchall() == [("sales",), ("admin",), ("admin",),
                                                        ("sales",)]


def test_list_is_newest_first_and_keyset_paginated(client):
    ids = [post(client, sample_payload()).get_json()["id"] for _ in range(5)]
    page = client.get("/api/quotations?limit=2").get_json()
    assert [q["id"] for q in page["items"]] == ids[::-1][:2]
    second = client.get(page["next"]).get_json()
    assert [q["id"] for q in second["items"]] == ids[::-1][2:4]
    third = client.get(second["next"]).get_json()
    assert [q["id"] for q in third["items"]] == ids[:1] and third["next"] is None
    assert client.get("/api/quotations?status=failed").get_json()["items"] == []
    # A last page that is exactly full links to nothing, not to an empty page.
    exact = client.get(f"/api/quotations?limit=2&before={ids[2]}").get_json()
    assert [q["id"] for q in exact["items"]] == ids[1::-1] and exact["next"] is None
    assert client.get("/api/quotations?status=queued&limit=1").get_json()["items"][0]["id"] \
        == ids[-1]


def test_list_rejects_bad_parameters(client):
    response = client.get("/api/quotations?status=lost&limit=0&before=x")
    assert response.status_code == 422
    assert {e["field"] for e in response.get_json()["errors"]} == {"status", "limit", "before"}


def test_retry_needs_a_failed_quotation(client, conn):
    created = post(client, sample_payload()).get_json()
    response = client.post(f"/api/quotations/{created['id']}/retry")
    assert response.status_code == 409
    conn.execute("DELETE FROM procrastinate_jobs")
    conn.execute("UPDATE quotations SET status = 'failed', failed_step = 'generate', "
                 "last_error = 'generate: boom'")
    response = client.post(f"/api/quotations/{created['id']}/retry")
    assert response.status_code == 202 and response.get_json()["status"] == "queued"
    assert count(conn, "procrastinate_jobs") == 1
    assert client.post("/api/quotations/999999/retry").status_code == 404


def test_resend_needs_a_pdf(client):
    created = post(client, sample_payload()).get_json()
    response = client.post(f"/api/quotations/{created['id']}/resend")
    assert response.status_code == 409 and "no PDF" in response.get_json()["error"]


def test_a_quotation_whose_email_outcome_is_unknown_says_so(client, services, conn):
    created = post(client, sample_payload()).get_json()
    assert client.get(created["links"]["self"]).get_json()["needs_reconciliation"] is False
    q, delivery_id = parked_delivering(services, conn)

    body = client.get(f"/api/quotations/{q.id}").get_json()

    assert body["status"] == "delivering" and body["needs_reconciliation"] is True
    assert [(d["id"], d["state"]) for d in body["deliveries"]] == [(delivery_id, "unknown")]
    # Checked with the provider: resent on purpose, the new email is on its way.
    resent = client.post(f"/api/quotations/{q.id}/resend")
    assert resent.status_code == 202 and resent.get_json()["needs_reconciliation"] is False


def test_openapi_describes_deliveries_and_reconciliation(client, conn):
    quotation = client.get("/api/openapi.json").get_json()["components"]["schemas"]["Quotation"]
    assert quotation["properties"]["needs_reconciliation"]["type"] == "boolean"
    states = quotation["properties"]["deliveries"]["items"]["properties"]["state"]["enum"]
    check = conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                         "WHERE conname = 'deliveries_state_check'").fetchone()[0]
    assert set(states) == set(re.findall(r"'(\w+)'", check))


def test_openapi_document(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/quotations", "/api/quotations/{id}", "/api/quotations/{id}/retry",
            "/api/quotations/{id}/resend"} <= set(doc["paths"])


def _refs(node):
    if isinstance(node, dict):
        yield from ([node["$ref"]] if "$ref" in node else [])
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_openapi_declares_the_bearer_token_and_the_statuses(app):
    doc = app.test_client().get("/api/openapi.json").get_json()  # public: no token needed
    scheme = doc["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert doc["security"] == [{"bearer": []}]
    listing = doc["paths"]["/api/quotations"]["get"]
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == [*STATUSES, *ANSWERS]  # a status, or an answer
    assert doc["components"]["schemas"]["Quotation"]["properties"]["status"]["enum"] == list(STATUSES)
    for ref in _refs(doc):  # each one resolves, or this raises KeyError
        node = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


def test_openapi_lists_the_401_and_403_the_api_answers(app, client_as):
    doc = app.test_client().get("/api/openapi.json").get_json()
    anonymous, viewer = app.test_client(), client_as("viewer")
    for path, operations in doc["paths"].items():
        url = path.replace("{id}", "1")
        for method, operation in operations.items():
            assert anonymous.open(url, method=method.upper()).status_code == 401, (method, path)
            assert "401" in operation["responses"], (method, path)
            refused = viewer.open(url, method=method.upper(), json={}).status_code == 403
            assert ("403" in operation["responses"]) is refused, (method, path)


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_database_down_gives_503_json_and_healthz_still_answers(settings):
    down = dataclasses.replace(settings, database_url="postgresql://127.0.0.1:9/none",
                               db_pool_timeout=0.5)
    app = create_app(down, {"TESTING": True})
    client = app.test_client()
    # A well-formed token makes the access check ask the database, which is down: 503.
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer qs_00000000_" + "0" * 40
    try:
        assert client.get("/healthz").status_code == 200
        response = post(client, sample_payload())
        assert response.status_code == 503
        assert "database" in response.get_json()["error"]
        assert response.headers["Retry-After"]
        assert client.get("/api/quotations/1").status_code == 503
        assert client.get("/readyz").status_code == 503
    finally:
        app.extensions["quote_service"].close()


def test_readiness_keeps_the_database_error_for_the_log(settings, caplog):
    down = dataclasses.replace(settings, database_url="postgresql://reader@127.0.0.1:9/none",
                               db_pool_timeout=0.5)
    app = create_app(down, {"TESTING": True})
    try:
        response = app.test_client().get("/readyz")
    finally:
        app.extensions["quote_service"].close()
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert "127.0.0.1" in caplog.text and "reader" not in response.get_data(as_text=True)
