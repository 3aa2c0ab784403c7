"""Each request that once answered 500 (found by fuzzing the API and the pages), replayed: each
now gets a clear 4xx and writes nothing. And the fields that must stay on one line do."""

import json
import logging
import re

import pytest

from tests.conftest import TEST_PASSWORD
from tests.samples import sample_payload

pytestmark = pytest.mark.integration

TOO_BIG = "99999999999999999999"  # past a bigint
SUPERSCRIPT_TWO = "²"  # str.isdigit() says yes, int() says no


@pytest.fixture
def count(conn):
    def rows(table: str = "quotations") -> int:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    return rows


def post_json(client, text: str):
    return client.post("/api/quotations", data=text.encode("utf-8", "surrogatepass"),
                       content_type="application/json")


@pytest.mark.parametrize("query, message", [
    (f"before={TOO_BIG}", "before"),
    (f"before={SUPERSCRIPT_TWO}", "before"),
    ("before=0", "before"),
    ("before=-1", "before"),
    ("limit=201", "limit"),
    ("limit=0", "limit"),
])
def test_api_list_refuses_out_of_range_numbers_with_422(client, query, message):
    response = client.get(f"/api/quotations?{query}")
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [message]


def test_api_list_takes_the_largest_page_and_id(client):
    assert client.get("/api/quotations?limit=200&before=9223372036854775807").status_code == 200


@pytest.mark.parametrize("path", ["/quotations", "/dashboard/jobs"])
@pytest.mark.parametrize("before", [TOO_BIG, SUPERSCRIPT_TWO])
def test_pages_refuse_out_of_range_before_with_400(client, path, before):
    response = client.get(f"{path}?before={before}")
    assert response.status_code == 400 and "before" in response.text


@pytest.mark.parametrize("path", [f"/api/quotations/{TOO_BIG}", f"/quotations/{TOO_BIG}",
                                  f"/dashboard/jobs/{TOO_BIG}", "/quotations/0",
                                  f"/api/quotations/{SUPERSCRIPT_TWO}"])
def test_ids_past_a_bigint_are_not_found(client, path):
    assert client.get(path).status_code == 404


def test_api_actions_on_ids_past_a_bigint_are_not_found(client, count):
    for action in ("retry", "resend"):
        assert client.post(f"/api/quotations/{TOO_BIG}/{action}").status_code == 404
    assert count("deliveries") == 0


def test_removing_a_line_given_as_a_unicode_digit_keeps_the_form(client, count):
    page = client.get("/quotations/new").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/quotations/new", data={
        "csrf_token": csrf, "action": f"remove_line:{SUPERSCRIPT_TWO}",
        "customer_name": "Kept", "lines-0-description": "Widget"})
    assert response.status_code == 200 and 'value="Kept"' in response.text
    assert count() == 0


def test_deleting_finished_jobs_older_than_a_unicode_digit_is_refused(client):
    page = client.get("/dashboard").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/dashboard/delete-finished",
                           data={"csrf_token": csrf, "hours": SUPERSCRIPT_TWO},
                           follow_redirects=True)
    assert response.status_code == 200 and "whole hours" in response.text


@pytest.mark.parametrize("depth", [33, 983, 100_000])
def test_deeply_nested_json_is_a_400(client, count, depth):
    body = json.dumps(sample_payload())[:-1] + ', "notes": ' + "[" * depth + "]" * depth + "}"
    response = post_json(client, body)
    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.get_json()["error"]
    assert count() == 0


def test_a_lone_surrogate_is_a_422_for_its_field(client, count):
    body = json.dumps(sample_payload(notes="x")).replace('"notes": "x"', '"notes": "\\ud800"')
    response = post_json(client, body)
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{
        "field": "notes", "message": "must be valid Unicode text (it holds a lone surrogate)"}]
    assert count() == 0


def test_invalid_utf8_is_a_400(client, count):
    response = client.post("/api/quotations", data=b'{"notes": "\xff"}',
                           content_type="application/json")
    assert response.status_code == 400 and "UTF-8" in response.get_json()["error"]
    assert count() == 0


def test_duplicate_keys_are_refused_wherever_they_are(client, count):
    body = json.dumps(sample_payload())
    body = body.replace('"name": "Smith & Sons <Ltd>"',
                        '"name": "Smith & Sons <Ltd>", "name": "Someone else"')
    body = body.replace('"quantity": "2"', '"quantity": "2", "quantity": "2000"')
    body = body[:-1] + ', "currency": "USD"}'
    response = post_json(client, body)
    assert response.status_code == 422
    assert {(e["field"], e["message"]) for e in response.get_json()["errors"]} == {
        ("customer.name", "is given more than once"),
        ("lines[0].quantity", "is given more than once"),
        ("currency", "is given more than once"),
    }
    assert count() == 0


@pytest.mark.parametrize("field, value", [
    ("name", "Smith\r\nBcc: someone@example.com"),
    ("name", "Smith\nSons"),
    ("name", "Smith\tSons"),
    ("name", "Smith\u2028Sons"),
    ("company", "Acme\rLtd"),
    ("company", "Acme\x1b[31m"),
    ("email", "buyer@example.com\nBcc: x@example.com"),
])
def test_single_line_fields_refuse_control_characters(client, count, field, value):
    customer = {**sample_payload()["customer"], field: value}
    response = client.post("/api/quotations", json=sample_payload(customer=customer))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert f"customer.{field}" in [e["field"] for e in errors]
    assert any("without line breaks" in e["message"] for e in errors)
    assert count() == 0


def test_address_notes_and_descriptions_keep_their_line_breaks(client, conn):
    payload = sample_payload(
        customer={**sample_payload()["customer"], "address": "1 Main St\r\nSpringfield\rUSA"},
        notes="First\n\tindented", lines=[{"description": "Widget\nblue", "quantity": "1",
                                           "unit_price": "1"}])
    response = client.post("/api/quotations", json=payload)
    assert response.status_code == 202, response.get_json()
    assert conn.execute("SELECT customer_address, notes FROM quotations").fetchone() == (
        "1 Main St\nSpringfield\nUSA", "First\n\tindented")
    bell = client.post("/api/quotations", json=sample_payload(notes="ring\x07"))
    assert bell.status_code == 422
    assert bell.get_json()["errors"][0]["message"] == "must not contain control characters"


def test_the_form_shows_a_line_break_in_a_name_next_to_the_field(client, count):
    page = client.get("/quotations/new").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/quotations/new", data={
        "csrf_token": csrf, "customer_name": "Smith\r\nSons", "customer_email": "b@example.com",
        "currency": "EUR", "lines-0-description": "x", "lines-0-quantity": "1",
        "lines-0-unit_price": "1"})
    assert response.status_code == 422
    assert "must be one line" in response.text and 'id="customer_name-error"' in response.text
    assert count() == 0


def test_a_wrong_method_says_which_ones_are_allowed(client):
    response = client.put("/api/quotations", json={})
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    page = client.delete("/quotations/new")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


def test_a_password_typed_as_the_email_is_not_logged(anonymous_client, make_user, caplog):
    make_user("sales")
    page = anonymous_client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    caplog.set_level(logging.INFO)
    secret = "Correct horse battery staple 42"
    response = anonymous_client.post("/login", data={"email": secret, "password": TEST_PASSWORD,
                                                     "csrf_token": csrf})
    assert response.status_code == 200 and "Invalid email or password." in response.text
    assert "sign-in failed" in caplog.text
    assert secret.lower() not in caplog.text.lower()


def test_an_email_with_control_characters_is_a_failed_sign_in(anonymous_client, count):
    page = anonymous_client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = anonymous_client.post("/login", data={"email": "a\x00b@example.com",
                                                     "password": "x", "csrf_token": csrf})
    assert response.status_code == 200 and "Invalid email or password." in response.text
    assert count("login_attempts") == 0
