"""Shared fixtures: a real PostgreSQL database per test, copied from a migrated template.

The schema is built once per session into a template database; each test that needs the
database gets `CREATE DATABASE ... TEMPLATE` (a file copy, ~0.1 s), so tests are isolated
even when they start real worker and web processes against it.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from quote_service import migrate
from quote_service.config import Settings

pytest_plugins = ["tests.support.fake_sendgrid", "tests.support.gcs_emulator"]

ADMIN_URL = os.environ.get("TEST_ADMIN_DATABASE_URL", "postgresql:///postgres")
_counter = itertools.count()


def _url_for(name: str) -> str:
    return psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def template_database() -> Iterator[str]:
    name = f"qs_test_template_{os.getpid()}"
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _admin(f"CREATE DATABASE {name}")
    with psycopg.connect(_url_for(name)) as conn:
        migrate.migrate(conn)
    yield name
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(template_database: str) -> Iterator[str]:
    name = f"qs_test_{os.getpid()}_{next(_counter)}"
    _admin(f"CREATE DATABASE {name} TEMPLATE {template_database}")
    yield _url_for(name)
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return dataclasses.replace(
        Settings(),
        database_url=database_url,
        storage_dir=tmp_path / "storage",
        outbox_dir=tmp_path / "outbox",
        secret_key="test-secret",
        retry_base_seconds=0.0,
        max_attempts=3,
    )


@pytest.fixture
def services(settings: Settings):
    from quote_service.services import Services

    built = Services(settings, pool_size=4)
    yield built
    built.close()


@pytest.fixture
def app(settings: Settings):
    from quote_service.app import create_app

    flask_app = create_app(settings, {"TESTING": True})
    yield flask_app
    flask_app.extensions["quote_service"].close()


TEST_PASSWORD = "test password, not secret"


@pytest.fixture(scope="session")
def test_password_hash() -> str:
    """Hashed once per run: argon2id is slow on purpose (~0.2 s)."""
    from quote_service.accounts import passwords

    return passwords.hash_password(TEST_PASSWORD)


@pytest.fixture
def make_user(database_url: str, test_password_hash: str):
    """`make_user("viewer")`: a user with that role (email `<role>@example.com` unless given),
    whose password is TEST_PASSWORD."""
    from quote_service.accounts import users

    def make(role: str = "admin", email: str | None = None):
        email = email or f"{role}@example.com"
        with psycopg.connect(database_url, autocommit=True) as connection:
            return users.get_by_email(connection, email) or users.insert(
                connection, email, role=role, password_hash=test_password_hash)

    return make


@pytest.fixture
def api_token(database_url: str, make_user):
    """`api_token("sales")`: a fresh API token of the user with that role."""
    from quote_service.accounts import tokens

    def make(role: str = "admin") -> str:
        user = make_user(role)
        with psycopg.connect(database_url, autocommit=True) as connection:
            return tokens.create(connection, user, "tests")[0]

    return make


@pytest.fixture
def client_as(app, make_user, api_token):
    """`client_as("viewer")`: a test client signed in as that role, whose requests also carry
    that user's API token (so both the pages and the API accept it)."""
    from quote_service.web.auth import start_session

    def make(role: str = "admin"):
        test_client = app.test_client()
        with (test_client.session_transaction() as session,
              psycopg.connect(app.extensions["quote_service"].settings.database_url,
                              autocommit=True) as connection):
            start_session(session, connection, make_user(role))
        test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token(role)}"
        return test_client

    return make


@pytest.fixture
def client(client_as):
    """Signed in as an admin, who may do everything: tests of other concerns than access."""
    return client_as("admin")


@pytest.fixture
def anonymous_client(app):
    return app.test_client()
