"""The submitting statement (sql/submit.sql): who may submit is decided inside it, a refusal
writes nothing (not even a number), a customer whose details did not change is not rewritten,
and its numbers are formatted as the Python side formats them."""

import datetime as dt

import pytest

from quote_service.accounts import tokens, users
from quote_service.domain.validation import parse_submission
from quote_service.submit.numbering import format_number
from quote_service.submit.service import NotAuthenticated, RoleRefused, submit
from tests.samples import sample_payload

pytestmark = pytest.mark.integration
TODAY = dt.date(2026, 11, 28)
WRITTEN = ("quotations", "quotation_lines", "quotation_events", "procrastinate_jobs",
           "quotation_counters", "customers")


def submission(**overrides):
    return parse_submission(sample_payload(**overrides), templates={"standard"}, today=TODAY)


def counts(conn) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in WRITTEN}


@pytest.mark.parametrize("seq", [1, 17, 9999, 10000, 123456])
def test_sql_numbers_are_formatted_as_python_formats_them(conn, seq):
    assert conn.execute("SELECT quotation_number(2026, %s)", (seq,)).fetchone()[0] == (
        format_number(2026, seq))


def test_a_token_submits_as_its_user_in_its_team(services, conn, api_token):
    token = api_token("sales")
    conn.execute("UPDATE users SET team = 'north' WHERE email = 'sales@example.com'")
    result = submit(services.pool, submission(), token=token, today=TODAY)
    assert result.quotation.number == "Q-2026-0001"
    assert conn.execute("SELECT u.email, c.team FROM quotations q JOIN users u ON u.id = q.user_id"
                        " JOIN customers c ON c.id = q.customer_id").fetchall() == [
        ("sales@example.com", "north")]
    assert conn.execute("SELECT last_used_at IS NOT NULL FROM api_tokens").fetchone()[0]


def test_a_revoked_token_writes_nothing(services, conn, api_token):
    token = api_token("sales")
    conn.execute("UPDATE api_tokens SET revoked_at = now()")
    with pytest.raises(NotAuthenticated):
        submit(services.pool, submission(), token=token, today=TODAY)
    assert set(counts(conn).values()) == {0}


def test_a_deactivated_user_writes_nothing(services, conn, api_token):
    token = api_token("sales")
    users.set_active(conn, "sales@example.com", False)
    with pytest.raises(NotAuthenticated):
        submit(services.pool, submission(), token=token, today=TODAY)
    user_id = conn.execute("SELECT id FROM users WHERE email = 'sales@example.com'").fetchone()[0]
    with pytest.raises(NotAuthenticated):
        submit(services.pool, submission(), user_id=user_id, today=TODAY)
    assert set(counts(conn).values()) == {0}


def test_a_viewer_is_refused_by_role_and_writes_nothing(services, conn, api_token):
    with pytest.raises(RoleRefused) as refused:
        submit(services.pool, submission(), token=api_token("viewer"), today=TODAY)
    assert refused.value.args == ("viewer",)
    assert set(counts(conn).values()) == {0}


def test_an_unknown_token_writes_nothing(services, conn):
    with pytest.raises(NotAuthenticated):
        submit(services.pool, submission(), token=tokens.generate()[0], today=TODAY)
    assert set(counts(conn).values()) == {0}


def test_an_unchanged_customer_is_not_rewritten_and_a_changed_one_is(services, conn, api_token):
    token = api_token("sales")
    submit(services.pool, submission(), token=token, today=TODAY)
    before = conn.execute("SELECT xmin::text, updated_at FROM customers").fetchone()
    submit(services.pool, submission(), token=token, today=TODAY)
    assert conn.execute("SELECT xmin::text, updated_at FROM customers").fetchone() == before
    moved = sample_payload()
    moved["customer"] = {**moved["customer"], "address": "2 Main St"}
    submit(services.pool, parse_submission(moved, templates={"standard"}, today=TODAY),
           token=token, today=TODAY)
    assert conn.execute("SELECT count(*), min(address) FROM customers").fetchone() == (
        1, "2 Main St")
    assert conn.execute("SELECT count(DISTINCT customer_id) FROM quotations").fetchone()[0] == 1


def test_lines_keep_their_exact_amounts(services, conn, api_token):
    lines = [{"description": "Bolt", "quantity": "3", "unit_price": "0.335", "tax_rate": "20"},
             {"description": "Nut", "quantity": "1.5", "unit_price": "10", "discount_pct": "10"}]
    q = submit(services.pool, submission(lines=lines), token=api_token("sales"),
               today=TODAY).quotation
    rows = conn.execute("SELECT position, description, quantity::text, unit_price::text, "
                        "net::text, tax::text, total::text FROM quotation_lines "
                        "WHERE quotation_id = %s ORDER BY position", (q.id,)).fetchall()
    assert [r[1] for r in rows] == ["Bolt", "Nut"]
    assert [r[0] for r in rows] == [1, 2]
    assert (rows[0][4], rows[1][4]) == ("1.0100", "13.5000")
    assert str(q.total) == conn.execute("SELECT sum(total)::text FROM quotation_lines").fetchone()[0]
