import psycopg
import pytest

from quote_service import migrate

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
