"""What every `quote-service` command needs: the settings and a database connection, each
failing as one line on the terminal (click's "Error: ..."), never as a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import psycopg

from quote_service import db
from quote_service.config import ConfigError, Settings, load_dotenv_file


def settings() -> Settings:
    load_dotenv_file()
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


@contextmanager
def database_errors() -> Iterator[None]:
    """An unreachable database, wherever in the block, as one line."""
    try:
        yield
    except db.DatabaseUnavailable as exc:
        raise click.ClickException(f"database unavailable: {exc}") from None


@contextmanager
def connection(current: Settings | None = None) -> Iterator[psycopg.Connection]:
    """One connection, committed when the command's block succeeds, else rolled back."""
    with database_errors(), db.connect((current or settings()).database_url) as conn:
        yield conn
