"""Real processes: the web server (`quote-service serve`) and `procrastinate --app=jobs.app
worker`, both against the test's own database, storage folder and outbox."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.browser import browser, open_page, screenshot  # noqa: F401  (fixtures)
from tests.support.stack import Stack


@pytest.fixture
def stack(settings, tmp_path, api_token) -> Iterator[Stack]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "STORAGE_DIR": str(settings.storage_dir),
        "OUTBOX_DIR": str(settings.outbox_dir),
        "SECRET_KEY": settings.secret_key,
        "JOB_MAX_ATTEMPTS": "3",
        "JOB_RETRY_BASE_SECONDS": "0",
        "CONVERTER": "soffice",
    }
    running = Stack(env=env, logs=tmp_path / "logs", token=api_token("sales"))
    yield running
    running.stop_all()
