"""`quote-service submit`: a quotation from a file, as a named account."""

import json

import pytest
from click.testing import CliRunner

from quote_service.cli import main
from tests.samples import sample_payload

pytestmark = pytest.mark.integration


@pytest.fixture
def run(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    path = tmp_path / "q.json"
    path.write_text(json.dumps(sample_payload()))

    def invoke(*args: str):
        return CliRunner().invoke(main, ["submit", str(path), *args])

    return invoke


def test_submit_as_a_user_with_a_key_of_that_user(run, make_user, conn):
    sales, admin = make_user("sales"), make_user("admin")
    first = run("--user", "Sales@example.com", "--idempotency-key", "order-1")
    assert first.exit_code == 0, first.output
    again = run("--user", "sales@example.com", "--idempotency-key", "order-1")
    assert again.output == first.output.rstrip("\n") + "\t(already submitted)\n"
    other = run("--user", "admin@example.com", "--idempotency-key", "order-1")
    assert other.exit_code == 0 and "already submitted" not in other.output
    assert conn.execute("SELECT user_id FROM quotations ORDER BY id").fetchall() == [
        (sales.id,), (admin.id,)]


def test_submit_needs_an_active_user(run, conn):
    # --user is required (standard input here: click leaves an opened file open on usage errors)
    assert CliRunner().invoke(main, ["submit", "-"], input="{}").exit_code == 2
    result = run("--user", "nobody@example.com")
    assert result.exit_code == 1
    assert result.output == "Error: no active user with email nobody@example.com\n"
    assert conn.execute("SELECT count(*) FROM quotations").fetchone() == (0,)
