"""Sign-in, sign-out and the access policy, through the real application and database."""

import dataclasses
import re

import psycopg
import pytest
from flask import Blueprint

from quote_service import links, pipeline, quotations
from quote_service.accounts import ratelimit, tokens, users
from quote_service.app import create_app
from quote_service.web import auth
from tests.conftest import TEST_PASSWORD
from tests.samples import sample_payload

pytestmark = pytest.mark.integration

PASSWORD = TEST_PASSWORD

# Stand-ins for routes the policy must cover whatever their views do: each answers 200, so a
# test sees exactly what the policy let through.
probe = Blueprint("policy_probe", __name__)


@probe.route("/dashboard/probe", methods=["GET", "POST"])
def dashboard_probe():
    return "dashboard"


@probe.post("/webhooks/probe")
def webhook_probe():
    return "webhook"


def build(settings, **config):
    app = create_app(settings, {"TESTING": True, **config})
    app.register_blueprint(probe)
    return app


@pytest.fixture
def web(settings):
    app = build(settings)
    yield app
    app.extensions["quote_service"].close()


@pytest.fixture
def anon(web):
    return web.test_client()


@pytest.fixture
def bearer(conn, make_user):
    """`bearer("viewer")`: Authorization headers carrying a token of a user with that role."""

    def headers(role: str) -> dict[str, str]:
        user = users.get_by_email(conn, f"{role}@example.com") or make_user(role)
        token, _ = tokens.create(conn, user, "tests")
        return {"Authorization": f"Bearer {token}"}

    return headers


def csrf(client, value: str = "test-csrf") -> str:
    with client.session_transaction() as session:
        session["csrf"] = value
    return value


def login(client, email: str, password: str = PASSWORD, **extra: str):
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf(client), **extra})


def signed_in_as(web, make_user, role: str, **options):
    client = web.test_client()
    user = make_user(role)
    with (client.session_transaction() as session,
          psycopg.connect(web.extensions["quote_service"].settings.database_url,
                          autocommit=True) as conn):
        auth.start_session(session, conn, user, **options)
    return client


def session_of(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


# --- sign-in and sign-out -----------------------------------------------------------------------

def test_the_login_page_carries_a_csrf_token_and_signs_in(anon, make_user):
    make_user("sales")
    page = anon.get("/login?next=/quotations")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert 'name="next" value="/quotations"' in page.text
    response = anon.post("/login", data={"email": "Sales@Example.com", "password": PASSWORD,
                                         "csrf_token": token, "next": "/quotations"})
    assert response.status_code == 303 and response.headers["Location"] == "/quotations"
    assert anon.get("/quotations").status_code == 200


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(anon, make_user):
    make_user("sales")
    wrong = login(anon, "sales@example.com", "not the password")
    unknown = login(anon, "nobody@example.com", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "Invalid email or password." in response.text
        assert "sid" not in session_of(anon)


def test_a_deactivated_user_cannot_sign_in(anon, conn, make_user):
    make_user("sales")
    users.set_active(conn, "sales@example.com", False)
    assert "Invalid email or password." in login(anon, "sales@example.com").text


def test_signing_in_starts_a_new_session(anon, make_user):
    """Nothing planted in the session before signing in survives it (session fixation)."""
    make_user("sales")
    with anon.session_transaction() as session:
        session["planted"] = "by someone else"
    assert login(anon, "sales@example.com").status_code == 303
    after = session_of(anon)
    assert "planted" not in after and "csrf" not in after
    assert set(after) == {"sid"}


def test_session_cookie_is_httponly_and_samesite(anon, make_user):
    make_user("sales")
    cookie = login(anon, "sales@example.com").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_under_https(settings, make_user):
    app = build(dataclasses.replace(settings, public_base_url="https://quotes.example.com"))
    make_user("sales")
    client = app.test_client()
    cookie = login(client, "sales@example.com").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    app.extensions["quote_service"].close()


def test_login_without_csrf_token_is_refused(anon, make_user):
    make_user("sales")
    csrf(anon)
    response = anon.post("/login", data={"email": "sales@example.com", "password": PASSWORD})
    assert response.status_code == 400 and "sid" not in session_of(anon)


def test_logout_needs_csrf_then_ends_the_session(web, make_user):
    client = signed_in_as(web, make_user, "sales")
    assert client.post("/logout").status_code == 400
    assert client.get("/quotations").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf(client)})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/quotations").status_code == 302
    assert client.get("/logout").status_code == 405


def copy_of(client, web):
    """Another browser holding the same cookie: what someone who copied it has."""
    thief = web.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_copied_cookie_is_refused_after_logout(web, make_user, conn):
    client = signed_in_as(web, make_user, "sales")
    thief = copy_of(client, web)
    assert thief.get("/quotations").status_code == 200
    form = thief.get("/quotations/new").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post("/logout", data={"csrf_token": csrf(client)}).status_code == 303
    assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    # The replay of the attack: reading, then submitting a quotation with the copied cookie.
    assert thief.get("/quotations").status_code == 302
    submitted = thief.post("/quotations/new", data={
        "csrf_token": token, "customer_name": "Replay", "customer_email": "r@example.com",
        "currency": "EUR", "lines-0-description": "x", "lines-0-quantity": "1",
        "lines-0-unit_price": "1"})
    assert submitted.status_code == 302 and submitted.headers["Location"] == "/login"
    assert conn.execute("SELECT count(*) FROM quotations").fetchone() == (0,)
    assert thief.get("/api/quotations").status_code == 401


def test_signing_out_ends_that_session_only(web, make_user):
    laptop = signed_in_as(web, make_user, "sales")
    phone = signed_in_as(web, make_user, "sales")
    laptop.post("/logout", data={"csrf_token": csrf(laptop)})
    assert laptop.get("/quotations").status_code == 302
    assert phone.get("/quotations").status_code == 200


def test_a_deactivated_user_loses_the_session_at_once(web, conn, make_user):
    client = signed_in_as(web, make_user, "sales")
    thief = copy_of(client, web)
    assert client.get("/quotations").status_code == 200
    users.set_active(conn, "sales@example.com", False)
    assert client.get("/quotations").status_code == 302
    users.set_active(conn, "sales@example.com", True)
    assert client.get("/quotations").status_code == 302  # signs in again
    assert thief.get("/quotations").status_code == 302
    assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)


def test_a_new_password_or_end_sessions_signs_the_user_out(web, conn, make_user):
    client = signed_in_as(web, make_user, "sales")
    thief = copy_of(client, web)
    other = signed_in_as(web, make_user, "viewer")
    users.set_password(conn, "sales@example.com", "a brand new passphrase")
    assert client.get("/quotations").status_code == 302
    assert thief.get("/quotations").status_code == 302
    client = signed_in_as(web, make_user, "sales")
    thief = copy_of(client, web)
    users.end_sessions(conn, "sales@example.com")
    assert client.get("/quotations").status_code == 302
    assert thief.get("/quotations").status_code == 302
    assert other.get("/quotations").status_code == 200  # another user's session stays


def test_a_session_expires_after_its_lifetime(web, make_user, conn):
    client = signed_in_as(web, make_user, "sales", lifetime=60)
    assert client.get("/quotations").status_code == 200
    conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert client.get("/quotations").status_code == 302


def test_the_lifetime_setting_applies_to_signing_in(settings, make_user, conn):
    app = build(settings, AUTH_SESSION_LIFETIME=60)
    make_user("sales")
    login(app.test_client(), "sales@example.com")
    lifetime = conn.execute("SELECT expires_at - created_at FROM sessions").fetchone()[0]
    assert lifetime.total_seconds() == 60
    app.extensions["quote_service"].close()


@pytest.mark.parametrize("forged", [
    {"user_id": 1, "user_version": 1, "signed_in_at": 0},
    {"sid": "a guessed session id"},
    {"sid": ["not", "a", "string"]},
    {"sid": "x" * 10_000},
])
def test_a_forged_session_is_refused(web, make_user, forged):
    """Even with the signing key: a cookie is only as good as the row its id names."""
    make_user("admin")
    client = web.test_client()
    with client.session_transaction() as session:
        session.update(forged)
    assert client.get("/quotations").status_code == 302


def test_the_signed_in_login_page_goes_on_to_next(web, make_user):
    client = signed_in_as(web, make_user, "viewer")
    response = client.get("/login?next=/quotations%3Fstatus%3Dsent")
    assert response.status_code == 303 and response.headers["Location"] == "/quotations?status=sent"


@pytest.mark.parametrize("target, expected", [
    ("/quotations/7?tab=events", "/quotations/7?tab=events"),
    ("//evil.example/x", "/"),
    ("/\\evil.example", "/"),
    ("https://evil.example/", "/"),
    ("javascript:alert(1)", "/"),
    ("quotations", "/"),
    ("/\t/evil.example", "/"),
    ("/login", "/"),
    ("", "/"),
    (None, "/"),
])
def test_next_only_goes_to_a_path_of_this_site(target, expected):
    assert auth.safe_next(target) == expected


def test_next_from_the_form_is_checked_too(anon, make_user):
    make_user("sales")
    response = login(anon, "sales@example.com", next="https://evil.example/")
    assert response.headers["Location"] == "/"


# --- rate limiting ------------------------------------------------------------------------------

def test_five_failures_lock_the_email_even_for_the_right_password(anon, make_user, monkeypatch):
    make_user("sales")
    for _ in range(5):
        assert login(anon, "sales@example.com", "wrong password").status_code == 200
    checked = []
    monkeypatch.setattr("quote_service.accounts.passwords.verify",
                        lambda *args: checked.append(args))
    response = login(anon, "sales@example.com")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.text
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert checked == [] and "sid" not in session_of(anon)


def test_failures_from_one_address_are_limited_across_emails(settings, make_user):
    app = build(settings, LOGIN_LIMITS=ratelimit.LoginLimits(per_email=5, per_ip=3))
    client = app.test_client()
    make_user("sales")
    for n in range(3):
        assert login(client, f"guess{n}@example.com", "wrong password").status_code == 200
    assert login(client, "sales@example.com").status_code == 429
    other_place = app.test_client()
    other_place.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert login(other_place, "sales@example.com").status_code == 303
    app.extensions["quote_service"].close()


def test_behind_a_trusted_proxy_the_limit_is_per_client_not_per_proxy(settings, make_user):
    behind_proxy = dataclasses.replace(settings, trusted_proxies=1)
    app = build(behind_proxy, LOGIN_LIMITS=ratelimit.LoginLimits(per_email=5, per_ip=3))
    make_user("sales")
    proxy = app.test_client()  # every request comes from the proxy's own address

    def via_proxy(client_address: str, email: str, password: str = PASSWORD):
        proxy.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.99, {client_address}"
        return login(proxy, email, password)

    for n in range(3):
        assert via_proxy("198.51.100.1", f"guess{n}@example.com", "wrong").status_code == 200
    assert via_proxy("198.51.100.1", "sales@example.com").status_code == 429
    # Another client behind the same proxy is not locked out; only the last hop is trusted,
    # so a client cannot pick its address by sending its own X-Forwarded-For.
    assert via_proxy("198.51.100.2", "sales@example.com").status_code == 303
    app.extensions["quote_service"].close()


# --- pages and dashboard ------------------------------------------------------------------------

def test_pages_redirect_to_login_with_next(anon):
    response = anon.get("/quotations?status=failed")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/quotations?status%3Dfailed"
    assert anon.get("/").headers["Location"] == "/login?next=/"
    assert anon.post("/quotations/new").headers["Location"] == "/login"


def test_unknown_paths_are_private_by_default(anon, web, make_user):
    assert anon.get("/no-such-page").status_code == 302
    assert signed_in_as(web, make_user, "viewer").get("/no-such-page").status_code == 404


def test_every_role_reads_pages_only_sales_and_admin_act(web, make_user):
    for role, may_act in (("viewer", False), ("sales", True), ("admin", True)):
        client = signed_in_as(web, make_user, role)
        assert client.get("/quotations").status_code == 200
        response = client.post("/quotations/new", data={"csrf_token": csrf(client)})
        assert (response.status_code != 403) is may_act, role


def test_public_paths_need_nobody(anon):
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/readyz").status_code == 200
    assert anon.get("/api/openapi.json").status_code == 200
    assert anon.get("/login").status_code == 200
    assert anon.post("/webhooks/probe").status_code == 200
    static = anon.get("/assets/app.css")
    static.close()
    assert static.status_code not in (302, 401, 403)


def test_dashboard_is_for_viewers_and_admins_and_only_admins_act(anon, web, make_user):
    assert anon.get("/dashboard/probe").status_code == 302
    sales = signed_in_as(web, make_user, "sales")
    assert sales.get("/dashboard/probe").status_code == 403
    assert sales.get("/dashboard").status_code == 403
    viewer = signed_in_as(web, make_user, "viewer")
    assert viewer.get("/dashboard/probe").status_code == 200
    assert viewer.post("/dashboard/probe").status_code == 403
    admin = signed_in_as(web, make_user, "admin")
    assert admin.get("/dashboard/probe").status_code == 200
    assert admin.post("/dashboard/probe").status_code == 200


def test_g_user_is_set_for_the_views(web, make_user):
    seen = {}

    @web.get("/whoami")
    def whoami():
        from flask import g

        seen["user"] = g.get("user")
        return "ok"

    signed_in_as(web, make_user, "viewer").get("/whoami")
    assert (seen["user"].email, seen["user"].role) == ("viewer@example.com", "viewer")


def test_may_tells_templates_what_will_work():
    assert auth.may("viewer", "GET", "/quotations/1")
    assert not auth.may("viewer", "POST", "/quotations/1/retry")
    assert auth.may("sales", "POST", "/api/quotations")
    assert not auth.may("sales", "GET", "/dashboard")
    assert auth.may("admin", "POST", "/dashboard/jobs/1/retry")
    assert not auth.may(None, "GET", "/quotations")
    assert auth.may(None, "GET", "/healthz")


# --- the API ------------------------------------------------------------------------------------

def test_api_without_a_token_is_401_with_a_bearer_challenge(anon):
    response = anon.get("/api/quotations")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in response.get_json()["error"]
    assert anon.post("/api/quotations", json=sample_payload()).status_code == 401


@pytest.mark.parametrize("header", [
    "Bearer qs_deadbeef_" + "x" * 40,
    "Bearer not-even-a-token",
    "Basic dXNlcjpwYXNz",
    "Bearer ",
])
def test_api_with_a_bad_token_is_401(anon, header):
    response = anon.get("/api/quotations", headers={"Authorization": header})
    assert response.status_code == 401
    assert "error=" in response.headers["WWW-Authenticate"]


def test_api_with_a_revoked_token_or_a_deactivated_user_is_401(anon, conn, bearer):
    headers = bearer("sales")
    assert anon.get("/api/quotations", headers=headers).status_code == 200
    users.set_active(conn, "sales@example.com", False)
    assert anon.get("/api/quotations", headers=headers).status_code == 401
    users.set_active(conn, "sales@example.com", True)
    token_id = conn.execute("SELECT id FROM api_tokens").fetchone()[0]
    tokens.revoke(conn, token_id)
    response = anon.get("/api/quotations", headers=headers)
    assert response.status_code == 401 and 'error="invalid_token"' in (
        response.headers["WWW-Authenticate"])


def test_viewers_read_the_api_but_cannot_submit(anon, bearer):
    headers = bearer("viewer")
    assert anon.get("/api/quotations", headers=headers).status_code == 200
    response = anon.post("/api/quotations", json=sample_payload(), headers=headers)
    assert response.status_code == 403 and "viewer" in response.get_json()["error"]
    assert anon.post("/api/quotations/1/retry", headers=headers).status_code == 403


def test_sales_submit_with_a_token(anon, bearer, conn):
    response = anon.post("/api/quotations", json=sample_payload(), headers=bearer("sales"))
    assert response.status_code == 202
    assert conn.execute("SELECT last_used_at IS NOT NULL FROM api_tokens").fetchone() == (True,)


def test_a_signed_in_browser_reads_the_api_but_never_writes_with_its_cookie(web, make_user):
    client = signed_in_as(web, make_user, "admin")
    assert client.get("/api/quotations").status_code == 200
    response = client.post("/api/quotations", json=sample_payload())
    assert response.status_code == 401


# --- the PDF link -------------------------------------------------------------------------------

@pytest.fixture
def quotation_with_pdf(anon, bearer, conn, web):
    created = anon.post("/api/quotations", json=sample_payload(), headers=bearer("sales"))
    quotation_id = created.get_json()["id"]
    storage = web.extensions["quote_service"].storage
    stored = storage.put(f"quotations/{quotation_id}.pdf", b"%PDF-1.4 test",
                         content_type="application/pdf", filename="q.pdf")
    conn.execute("UPDATE quotations SET pdf_key = %s, pdf_sha256 = %s, pdf_size = 13 "
                 "WHERE id = %s", (stored.key, stored.sha256, quotation_id))
    return quotations.get(conn, quotation_id)


def test_the_customer_link_opens_the_pdf_without_an_account(anon, quotation_with_pdf, conn):
    q = quotation_with_pdf
    delivery_id = conn.execute("INSERT INTO deliveries (quotation_id, recipient) VALUES "
                               "(%s, 'b@x.example') RETURNING id", (q.id,)).fetchone()[0]
    delivery = pipeline.lock_delivery(conn, delivery_id)
    token = links.issue(conn, delivery, days=90)
    response = anon.get(f"/q/{token}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    page = anon.get(f"/q/{token}")
    assert page.status_code == 200 and page.mimetype == "text/html"


def test_an_old_or_wrong_link_opens_nothing_and_no_token_asks_to_sign_in(anon, quotation_with_pdf):
    q = quotation_with_pdf
    assert anon.get(f"/quotations/{q.id}/pdf?token={'0' * 32}").status_code == 410
    assert anon.get(f"/quotations/{q.id + 1000}/pdf?token={'0' * 32}").status_code == 410
    assert anon.get(f"/q/{'0' * 43}").status_code == 404
    response = anon.get(f"/quotations/{q.id}/pdf")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_signed_in_users_open_the_pdf_without_a_token(web, make_user, quotation_with_pdf):
    client = signed_in_as(web, make_user, "viewer")
    assert client.get(f"/quotations/{quotation_with_pdf.id}/pdf").status_code == 200


# --- metrics ------------------------------------------------------------------------------------

def test_metrics_are_open_without_metrics_token(anon):
    assert anon.get("/metrics").status_code == 200


def test_metrics_need_the_metrics_token_when_it_is_set(settings):
    app = build(dataclasses.replace(settings, metrics_token="scrape-secret"))
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert ok.status_code == 200
    app.extensions["quote_service"].close()


# --- the database down --------------------------------------------------------------------------

def test_with_the_database_down_checks_answer_503_not_500(settings):
    down = dataclasses.replace(settings, database_url="postgresql://127.0.0.1:9/none",
                               db_pool_timeout=0.5)
    app = build(down)
    try:
        client = app.test_client()
        token = {"Authorization": "Bearer qs_00000000_" + "0" * 40}
        response = client.get("/api/quotations", headers=token)
        assert response.status_code == 503 and "database" in response.get_json()["error"]
        with client.session_transaction() as session:
            session["sid"] = "a session id"
        assert client.get("/quotations").status_code == 503
        anonymous = app.test_client()
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/login").status_code == 200
        assert anonymous.get("/quotations").status_code == 302
    finally:
        app.extensions["quote_service"].close()


