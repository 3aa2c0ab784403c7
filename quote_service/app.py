"""The Flask application factory. Nothing connects to the database until a request needs it."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from quote_service.config import Settings, load_dotenv_file
from quote_service.services import Services
from quote_service.web.params import IdConverter

MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings | None = None, config: dict[str, Any] | None = None) -> Flask:
    if settings is None:
        load_dotenv_file()
        settings = Settings.from_env()
    app = Flask(__name__)
    app.url_map.converters["int"] = IdConverter  # before any route is added
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
    )
    app.config.update(config or {})
    app.extensions["quote_service"] = services = Services(settings,
                                                          trust_fresh_connections=True)

    from quote_service.web import (
        api,
        api_customers,  # noqa: F401  (its routes join the API's blueprint)
        auth,
        csrf,
        customer,
        customers_pages,  # noqa: F401  (its pages join the pages' blueprint)
        dashboard,
        dashboard_workers,  # noqa: F401  (its pages join the dashboard's blueprint)
        errors,
        headers,
        health,
        metrics,
        pages,
        pdf,
        quotation_changes,  # noqa: F401  (its pages join the pages' blueprint)
        resends,
        submit_route,
        webhooks,
    )

    https = settings.public_base_url.startswith("https://")
    errors.register(app)
    headers.install(app, https=https)
    auth.install(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(pdf.bp)
    app.register_blueprint(customer.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(resends.bp)
    app.register_blueprint(metrics.bp)
    if not app.testing:
        from quote_service import logging as structured_logging

        structured_logging.configure(settings)

    app.context_processor(lambda: {"csrf_token": csrf.csrf_token})

    # The common submission is answered before Flask (see web/submit_route.py).
    app.wsgi_app = submit_route.SubmitRoute(app.wsgi_app, services,
                                            headers=headers.response_headers(https=https),
                                            max_body=MAX_BODY_BYTES)
    if settings.trusted_proxies:
        # Behind N reverse proxies, the client's address (login limits per IP) and scheme are
        # the ones the proxies saw, taken from the last N X-Forwarded-* entries only.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    return app


def services() -> Services:
    from flask import current_app

    return current_app.extensions["quote_service"]
