"""Schema migrations: procrastinate's schema, then the project's `migrations/*.sql`, each once.

`procrastinate schema --apply` is a fresh install and not idempotent, so we track what has been
applied in `schema_migrations`: on a fresh database procrastinate's full schema is applied and
all of its migration files are recorded as done; later, procrastinate migration files that a
newer procrastinate ships (and we have not recorded) are applied in order before ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg

from quote_service.config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
_LOCK_ID = 727_001  # pg_advisory_xact_lock key: one migrator at a time


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str


def procrastinate_schema() -> str:
    return resources.files("procrastinate.sql").joinpath("schema.sql").read_text()


def procrastinate_migrations() -> list[Migration]:
    folder = resources.files("procrastinate.sql").joinpath("migrations")
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [Migration(f"procrastinate/{f.name}", f.read_text()) for f in files]


def project_migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    return [Migration(p.name, p.read_text()) for p in sorted(folder.glob("*.sql"))]


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply what is missing, in one transaction; return the versions applied (empty if none)."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        fresh = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NULL").fetchone()[0]
        if fresh:
            conn.execute(procrastinate_schema())
            applied_now.append("procrastinate/schema.sql")
        for migration in procrastinate_migrations() + project_migrations():
            if migration.version in done:
                continue
            if not (fresh and migration.version.startswith("procrastinate/")):
                conn.execute(migration.sql)
                applied_now.append(migration.version)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (migration.version,))
    return applied_now


def pending(conn: psycopg.Connection) -> list[str]:
    """Project migrations not applied yet (used by /readyz)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    done = (
        {row[0] for row in conn.execute("SELECT version FROM schema_migrations")} if exists else set()
    )
    return [m.version for m in project_migrations() if m.version not in done]
