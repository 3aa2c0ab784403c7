"""Sign-in, sign-out, and the access policy: who may reach which URL, decided in one place.

`install(app)` registers the sign-in pages and ONE `before_request` hook that runs before every
view, so the pages, the API and the dashboard carry no decorators, and a route added later is
protected by default: a path that is not listed as public needs a signed-in user.

| path                                   | anonymous               | viewer | sales | admin |
|----------------------------------------|-------------------------|--------|-------|-------|
| /healthz /readyz /login /logout        | yes                     | yes    | yes   | yes   |
| /api/openapi.json, /webhooks/*, static | yes                     | yes    | yes   | yes   |
| /metrics                               | yes, or Bearer METRICS_TOKEN when it is set          |
| /q/<token> (a delivery's link)         | yes (the customer link) | yes    | yes   | yes   |
| /, /quotations*, any other path: GET   | 302 to /login?next=     | yes    | yes   | yes   |
|                                  POST  | 302 to /login           | 403    | yes   | yes   |
| /api/* GET                             | 401                     | yes    | yes   | yes   |
| /api/* POST                            | 401                     | 403    | yes   | yes   |
| /dashboard* GET                        | 302 to /login?next=     | yes    | 403   | yes   |
| /dashboard* POST                       | 302 to /login           | 403    | 403   | yes   |

Within /quotations* and /api/*, which quotations a user finds is their scope
(accounts/ownership.py, `current_scope`): sales their own (and their team's if configured).

The API authenticates with `Authorization: Bearer <token>` (SPEC 4); `POST /api/quotations`,
the busiest request, has its token checked by the statement that submits (SELF_CHECKED), with
the same rules and answers, so that each submission is one round trip. A signed-in browser
session is also accepted for reads under /api, because the quotation page's script polls
`GET /api/quotations/<id>`; it is never accepted for writes, so the API has no CSRF surface (a
browser never attaches a bearer token by itself).

Sessions are rows in the database (accounts/sessions.py); the cookie (signed, HttpOnly,
SameSite=Lax, Secure under https, see app.py) carries only the row's random id. Every request
loads the session's user in one query, so signing out, a deactivation, a new password or
`users end-sessions` ends a session at once (a copied cookie is refused), a role change applies
at once, and a session ends AUTH_SESSION_LIFETIME seconds after signing in.
"""

from __future__ import annotations

import hmac
import math
import re
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from quote_service import db
from quote_service.accounts import ownership, sessions, tokens
from quote_service.accounts.ratelimit import LoginLimited, LoginLimits
from quote_service.accounts.signin import sign_in
from quote_service.accounts.users import ROLES, User
from quote_service.app import services
from quote_service.web.csrf import csrf_valid
from quote_service.web.errors import json_error

bp = Blueprint("auth", __name__, template_folder="templates")

SESSION_KEY = "sid"
DEFAULT_SESSION_LIFETIME = 12 * 3600  # a working day; then sign in again

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANY_ROLE = frozenset(ROLES)
EDITORS = frozenset({"sales", "admin"})
# area -> (roles that may read, roles that may change something)
RULES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "pages": (ANY_ROLE, EDITORS),
    "api": (ANY_ROLE, EDITORS),
    "dashboard": (frozenset({"viewer", "admin"}), frozenset({"admin"})),
}

# Webhooks prove their origin with their own signature (deliver.mail.webhook), not a user.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/login", "/logout", "/api/openapi.json"})
# Customers' links (`/q/<token>`) carry their own credential, the token (links.py).
PUBLIC_PREFIXES = ("/static/", "/webhooks/", "/q/")
# The one request whose bearer token its view checks itself, in the statement that submits
# (api.create_quotation): the same rules (unrevoked token, active user, a role in EDITORS),
# the same answers (401, 403), but no round trip of its own.
SELF_CHECKED = ("POST", "/api/quotations")
_PDF_PATH = re.compile(r"/quotations/([0-9]{1,19})/pdf")


# --- the policy -----------------------------------------------------------------------------------

def area_of(path: str, endpoint: str | None = None) -> str:
    """public | metrics | api | dashboard | pdf | pages (the default: everything else)."""
    if (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
            or endpoint == "static" or (endpoint or "").endswith(".static")):
        return "public"
    if path == "/metrics":
        return "metrics"
    if path == "/api" or path.startswith("/api/"):
        return "api"
    if path == "/dashboard" or path.startswith("/dashboard/"):
        return "dashboard"
    if _PDF_PATH.fullmatch(path):
        return "pdf"
    return "pages"


def may(role: str | None, method: str, path: str) -> bool:
    """Whether a user with `role` (None: not signed in) may send `method` to `path`; the
    templates use it (as `may(method, path)`) to show only the buttons that will work."""
    area = area_of(path)
    if area in ("public", "metrics"):
        return True
    if role is None:
        return False
    readers, writers = RULES["pages" if area == "pdf" else area]
    return role in (readers if method.upper() in SAFE_METHODS else writers)


def enforce() -> ResponseReturnValue | None:
    """The before_request hook: None lets the request through, anything else answers it."""
    g.user = None
    area = area_of(request.path, request.endpoint)
    if area == "public":
        return None
    if area == "metrics":
        return _metrics_gate()
    if area == "api":
        return _api_gate()
    user = current_user()
    if user is None:
        if area == "pdf":
            return _old_pdf_link()
        return _to_login()
    if not may(user.role, request.method, request.path):
        abort(403, description=_refusal(user))
    return None


def current_user() -> User | None:
    """The signed-in user of this request's session (loaded once per request), or None."""
    if not g.get("session_checked"):
        g.session_checked = True
        g.user = _session_user()
    return g.user


def current_scope() -> ownership.Scope:
    """The quotations this request's user sees and acts on (accounts/ownership.py)."""
    return ownership.scope_of(g.user, sales_see_team=services().settings.sales_see_team)


def _session_user() -> User | None:
    session_id = session.get(SESSION_KEY)
    if session_id is None:
        return None
    with db.transaction(services().pool) as conn:
        user = sessions.user_of(conn, session_id)
    if user is None:
        session.clear()
    return user


def _api_gate() -> ResponseReturnValue | None:
    header = request.headers.get("Authorization", "")
    if header:
        # A token that is sent is the identity, even when a session cookie comes along.
        token = tokens.bearer(header)
        if token is None:
            return _unauthorized("the Authorization header must be 'Bearer <token>'",
                                 "invalid_request")
        rule = request.url_rule.rule if request.url_rule is not None else None
        if (request.method, rule) == SELF_CHECKED and tokens.well_formed(token):
            # Its view checks the token in the statement that submits (submit.sql), with the
            # same rules, so a submission is one round trip to the database.
            g.api_token = token
            return None
        refused = authenticate_token(token)
        if refused is not None:
            return refused
    elif request.method not in SAFE_METHODS or current_user() is None:
        return _unauthorized("authentication required: send 'Authorization: Bearer <token>' "
                             "(tokens come from `quote-service tokens create`)")
    if not may(g.user.role, request.method, request.path):
        return json_error(403, _refusal(g.user))
    return None


def authenticate_token(token: str) -> Response | None:
    """Set g.user to the active user of `token` (and g.api_token_id), or answer 401, or 403
    when that user's role may not make this request."""
    with db.transaction(services().pool) as conn:
        found = tokens.authenticate(conn, token)
    if found is None:
        return token_refused()
    g.user, g.api_token_id = found
    if not may(g.user.role, request.method, request.path):
        return role_refused(g.user.role)
    return None


def token_refused() -> Response:
    return _unauthorized("this API token is not valid: unknown, revoked, or its user is "
                         "deactivated", "invalid_token")


def role_refused(role: str) -> Response:
    return json_error(403, _role_refusal(role))


def _unauthorized(message: str, error: str | None = None) -> Response:
    response = json_error(401, message)
    challenge = 'Bearer realm="quote-service"'
    if error:
        challenge += f', error="{error}"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def _refusal(user: User) -> str:
    return _role_refusal(user.role)


def _role_refusal(role: str) -> str:
    return f"Your role ({role}) does not allow this."


def _old_pdf_link() -> ResponseReturnValue | None:
    """`/quotations/<id>/pdf?token=...` is the link of emails sent before each delivery had its
    own (links.py): the view answers it with the page that says how to get a new one; without
    a token, sign in."""
    return None if request.args.get("token") else _to_login()


def _metrics_gate() -> ResponseReturnValue | None:
    """/metrics tells how busy the service is and which steps fail: serve it on a network only
    Prometheus reaches (or let the proxy refuse it), or set METRICS_TOKEN and give Prometheus
    `authorization: {credentials: <it>}`."""
    expected = services().settings.metrics_token
    if not expected:
        return None
    sent = request.headers.get("Authorization", "")
    if hmac.compare_digest(sent.encode(), f"Bearer {expected}".encode()):
        return None
    return Response("metrics need 'Authorization: Bearer <METRICS_TOKEN>'\n", 401,
                    {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")


def _to_login() -> Response:
    """Back to the page after signing in; a form's POST is not replayed, so it goes home."""
    if request.method in SAFE_METHODS:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target), 302)
    return redirect(url_for("auth.login"), 302)


# --- the pages --------------------------------------------------------------------------------

def safe_next(target: str | None) -> str:
    """Only a path on this site: `next` must not send a user who just signed in to another
    site (`//evil.example`, `/\\evil.example` and `https://...` all go home instead)."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return "/"
    if target.startswith("//") or "\\" in target or any(ord(ch) < 32 or ord(ch) == 127
                                                         for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/"
    return target


def start_session(store, conn, user: User, *, lifetime: int = DEFAULT_SESSION_LIFETIME,
                  ip: str = "", user_agent: str = "") -> None:
    """Open a session row for `user` and put its id in `store`: `flask.session`, or the session
    of a test client (`client.session_transaction()`), so tests sign in exactly as the page
    does. Nothing from before (a planted value, an old CSRF token) survives into it."""
    store.clear()
    store[SESSION_KEY] = sessions.start(conn, user, lifetime=lifetime, ip=ip,
                                        user_agent=user_agent)


def _login_page(*, next_url: str, email: str = "", error: str | None = None,
                status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = render_template("login.html", next_url=next_url, email=email, error=error)
    return Response(body, status, headers or {}, mimetype="text/html")


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url, 303)
        return _login_page(next_url=next_url)
    email = request.form.get("email", "").strip()
    if not csrf_valid():
        return _login_page(next_url=next_url, email=email, status=400,
                           error="This form has expired. Please sign in again.")
    limits: LoginLimits = current_app.config["LOGIN_LIMITS"]
    try:
        user = sign_in(services().pool, email, request.form.get("password", ""),
                       ip=request.remote_addr or "?", limits=limits)
    except LoginLimited as exc:
        minutes = math.ceil(exc.retry_after / 60)
        return _login_page(
            next_url=next_url, email=email, status=429,
            headers={"Retry-After": str(exc.retry_after)},
            error=f"Too many failed sign-in attempts for this account or from your network. "
                  f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.")
    if user is None:
        return _login_page(next_url=next_url, email=email, error="Invalid email or password.")
    with db.transaction(services().pool) as conn:
        start_session(session, conn, user, lifetime=current_app.config["AUTH_SESSION_LIFETIME"],
                      ip=request.remote_addr or "", user_agent=request.user_agent.string)
    return redirect(next_url, 303)


@bp.post("/logout")
def logout():
    if not csrf_valid():
        abort(400, description="This form has expired or did not come from this site.")
    # The row goes, not only the cookie: a copy of the cookie is refused from now on.
    with db.transaction(services().pool) as conn:
        sessions.end(conn, session.get(SESSION_KEY))
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"), 303)


def install(app: Flask) -> None:
    """Register the sign-in pages and the access policy. The policy runs first, before any
    other before_request hook."""
    app.config.setdefault("AUTH_SESSION_LIFETIME", DEFAULT_SESSION_LIFETIME)
    app.config.setdefault("LOGIN_LIMITS", LoginLimits())
    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, enforce)

    @app.template_global("may")
    def may_here(method: str, path: str) -> bool:
        user = g.get("user")
        return may(user.role if user else None, method, path)
