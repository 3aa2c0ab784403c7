from flask import Flask

from quote_service.app import create_app
from quote_service.config import Settings

# Read by the application itself (web/auth.py), not by Flask.
OWN_KEYS = {"AUTH_SESSION_LIFETIME", "LOGIN_LIMITS"}


def test_every_flask_setting_is_one_flask_reads():
    # A key Flask dropped (JSON_SORT_KEYS went in Flask 2.3) would silently do nothing.
    app = create_app(Settings(), {"TESTING": True})
    assert set(app.config) - set(Flask.default_config) - OWN_KEYS == set()
