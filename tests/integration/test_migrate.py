import os

import psycopg
import pytest

from quote_service import migrate
from tests.conftest import ADMIN_URL

pytestmark = pytest.mark.integration

SCHEMA_SNAPSHOT = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'view', table_name || ' ' || view_definition FROM information_schema.views
WHERE table_schema = 'public'
UNION ALL
SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
UNION ALL
SELECT 'constraint', conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'
UNION ALL
SELECT 'trigger', pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'migration', version FROM schema_migrations
ORDER BY 1, 2
"""


def snapshot(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(SCHEMA_SNAPSHOT).fetchall()


def test_migrating_twice_changes_nothing(conn):
    # The fixture database was migrated once already (from the template).
    before = snapshot(conn)
    assert migrate.migrate(conn) == []
    assert snapshot(conn) == before
    assert migrate.pending(conn) == []


def test_fresh_database_gets_procrastinate_and_every_migration(template_database, conn):
    versions = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    assert {"0001_quotations.sql", "0002_views.sql"} <= versions
    assert any(v.startswith("procrastinate/") for v in versions)
    for view in ("quotation_pipeline", "queue_summary", "recent_failures"):
        conn.execute(f"SELECT * FROM {view} LIMIT 1")


def test_an_unrecorded_procrastinate_migration_is_applied_once(conn):
    version = migrate.procrastinate_migrations()[-1].version
    conn.execute("DELETE FROM schema_migrations WHERE version = %s", (version,))
    # Applying procrastinate's last migration file again must be harmless (they are written
    # to be re-runnable or are no-ops on an up-to-date schema); it is then recorded.
    try:
        applied = migrate.migrate(conn)
    except psycopg.Error:
        pytest.skip("this procrastinate migration is not re-runnable on a current schema")
    assert applied == [version]
    assert migrate.migrate(conn) == []


INSERT_QUOTATION = """
INSERT INTO quotations (number, year, seq, customer_name, customer_email, currency, valid_until,
                        subtotal, discount_total, tax_total, total, idempotency_key, request_hash)
VALUES (%(number)s, 2026, %(seq)s, 'x', 'x@example.com', 'EUR', '2026-12-31', 0, 0, 0, 0,
        'order-1', 'hash')
RETURNING id
"""


@pytest.fixture
def empty_database():
    name = f"qs_test_empty_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    yield psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_quotations_of_before_per_user_keys_survive_the_upgrade(empty_database, conn,
                                                                 monkeypatch):
    every = migrate.project_migrations()
    with psycopg.connect(empty_database, autocommit=True) as old:
        monkeypatch.setattr(migrate, "project_migrations",
                            lambda: [m for m in every if m.version < "0005"])
        migrate.migrate(old)
        # Submitted before quotations recorded their submitter.
        legacy = old.execute(INSERT_QUOTATION, {"number": "Q-2026-0001", "seq": 1}).fetchone()[0]
        monkeypatch.undo()

        assert migrate.migrate(old) == [m.version for m in every if m.version >= "0005"]
        assert snapshot(old) == snapshot(conn)  # the same schema as a database made today
        # The old quotation keeps its unknown submitter and can still move on (a retry).
        old.execute("UPDATE quotations SET status = 'failed' WHERE id = %s", (legacy,))
        assert old.execute("SELECT user_id, idempotency_key, status FROM quotations").fetchall() \
            == [(None, "order-1", "failed")]
        # A new one must name its submitter.
        with pytest.raises(psycopg.errors.NotNullViolation):
            old.execute(INSERT_QUOTATION, {"number": "Q-2026-0002", "seq": 2})
        with pytest.raises(psycopg.errors.NotNullViolation):
            old.execute("UPDATE quotations SET user_id = NULL")
