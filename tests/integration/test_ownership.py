"""Ownership, route by route: a sales user sees and acts on their own quotations (and their
team's only with SALES_SEE_TEAM); viewers and admins see all. Someone else's quotation is a
404, exactly like one that does not exist, and nothing is written."""

import dataclasses
import re

import psycopg
import pytest

from quote_service.accounts import tokens, users
from quote_service.app import create_app
from quote_service.web.auth import start_session
from tests.samples import sample_payload
from tests.support.queue_states import finish_job, latest_job, start_job

pytestmark = pytest.mark.integration


@pytest.fixture
def office(settings, conn, make_user):
    """Ann and Bob sell in team north, Cem in team south; each submitted one quotation,
    whose PDF is stored and whose email failed (so each can be retried and resent). Returns a
    function that builds a client for an email."""
    apps = []

    def client_for(email: str, *, see_team: bool = False):
        app = create_app(dataclasses.replace(settings, sales_see_team=see_team),
                         {"TESTING": True})
        apps.append(app)
        user = users.get_by_email(conn, email)
        client = app.test_client()
        with client.session_transaction() as store:
            start_session(store, conn, user)
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens.create(conn, user, 't')[0]}"
        return client

    ids = {}
    for email, team in (("ann@example.com", "north"), ("bob@example.com", "north"),
                        ("cem@example.com", "south")):
        make_user("sales", email)
        users.set_team(conn, email, team)
        response = client_for(email).post("/api/quotations", json=sample_payload())
        ids[email.split("@")[0]] = response.get_json()["id"]
    make_user("viewer")
    make_user("admin")
    storage = apps[0].extensions["quote_service"].storage
    for quotation_id in ids.values():
        stored = storage.put(f"quotations/{quotation_id}.pdf", b"%PDF-1.4 test",
                             content_type="application/pdf", filename="q.pdf")
        conn.execute("UPDATE quotations SET pdf_key = %s, pdf_sha256 = %s, pdf_size = 13, "
                     "status = 'failed', failed_step = 'send' WHERE id = %s",
                     (stored.key, stored.sha256, quotation_id))
        job_id = latest_job(conn, quotation_id)["id"]
        start_job(conn, job_id)
        finish_job(conn, job_id, "failed")
    yield client_for, ids
    for app in apps:
        app.extensions["quote_service"].close()


def csrf_of(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


READS = ["/api/quotations/{id}", "/quotations/{id}", "/quotations/{id}/pdf"]
ACTIONS = ["/api/quotations/{id}/retry", "/api/quotations/{id}/resend",
           "/quotations/{id}/retry", "/quotations/{id}/resend"]


def written(conn) -> tuple[int, int]:
    return conn.execute("SELECT (SELECT count(*) FROM deliveries), "
                        "(SELECT count(*) FROM quotation_events)").fetchone()


def act(client, route: str, quotation_id: int):
    path = route.format(id=quotation_id)
    data = None if path.startswith("/api/") else {"csrf_token": csrf_of(client, "/quotations")}
    return client.post(path, data=data)


@pytest.mark.parametrize("route", READS)
def test_sales_read_their_own_and_not_found_for_others(office, route):
    client_for, ids = office
    ann = client_for("ann@example.com")
    assert ann.get(route.format(id=ids["ann"])).status_code == 200
    for other in (ids["bob"], ids["cem"]):
        assert ann.get(route.format(id=other)).status_code == 404
    # The same answer as for an id that does not exist: nothing is confirmed.
    assert ann.get(route.format(id=ids["cem"] + 1000)).status_code == 404


@pytest.mark.parametrize("route", ACTIONS)
def test_sales_act_on_their_own_only(office, route, conn):
    client_for, ids = office
    ann = client_for("ann@example.com")
    before = written(conn)
    for other in (ids["bob"], ids["cem"]):
        assert act(ann, route, other).status_code == 404
    assert written(conn) == before
    assert act(ann, route, ids["ann"]).status_code in (202, 303)
    assert written(conn) != before


def test_the_lists_show_only_their_own(office):
    client_for, ids = office
    ann = client_for("ann@example.com")
    assert [q["id"] for q in ann.get("/api/quotations").get_json()["items"]] == [ids["ann"]]
    page = ann.get("/quotations").text
    assert re.findall(r'data-quotation="(\d+)"', page) == [str(ids["ann"])]


def test_with_sales_see_team_a_team_shares_its_quotations(office, conn):
    client_for, ids = office
    bob = client_for("bob@example.com", see_team=True)
    listed = {q["id"] for q in bob.get("/api/quotations").get_json()["items"]}
    assert listed == {ids["ann"], ids["bob"]}
    for route in READS:
        assert bob.get(route.format(id=ids["ann"])).status_code == 200
        assert bob.get(route.format(id=ids["cem"])).status_code == 404
    assert act(bob, "/api/quotations/{id}/resend", ids["ann"]).status_code == 202
    assert act(bob, "/api/quotations/{id}/resend", ids["cem"]).status_code == 404
    # Without a team, a sales user sees their own only, whatever the setting.
    users.set_team(conn, "bob@example.com", "")
    alone = client_for("bob@example.com", see_team=True)
    assert [q["id"] for q in alone.get("/api/quotations").get_json()["items"]] == [ids["bob"]]


@pytest.mark.parametrize("email", ["viewer@example.com", "admin@example.com"])
def test_viewers_and_admins_see_every_quotation(office, email):
    client_for, ids = office
    client = client_for(email)
    assert {q["id"] for q in client.get("/api/quotations").get_json()["items"]} == set(
        ids.values())
    for route in READS:
        for quotation_id in ids.values():
            assert client.get(route.format(id=quotation_id)).status_code == 200


def test_admins_act_on_every_quotation_and_viewers_on_none(office):
    client_for, ids = office
    viewer, admin = client_for("viewer@example.com"), client_for("admin@example.com")
    assert act(viewer, "/api/quotations/{id}/resend", ids["cem"]).status_code == 403
    assert act(admin, "/api/quotations/{id}/resend", ids["cem"]).status_code == 202


def test_a_quotation_from_before_submitters_were_recorded_is_nobodys(office, conn):
    client_for, ids = office
    conn.execute("ALTER TABLE quotations DISABLE TRIGGER quotations_require_submitter")
    conn.execute("UPDATE quotations SET user_id = NULL WHERE id = %s", (ids["ann"],))
    assert client_for("ann@example.com").get(f"/quotations/{ids['ann']}").status_code == 404
    assert client_for("viewer@example.com").get(f"/quotations/{ids['ann']}").status_code == 200


def test_team_names_are_one_line(conn, make_user):
    make_user("sales", "dee@example.com")
    with pytest.raises(ValueError):
        users.set_team(conn, "dee@example.com", "north\nsouth")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE users SET team = '' WHERE email = 'dee@example.com'")
