"""Submitting: one transaction for row + job, gapless numbers, idempotency."""

import datetime as dt
import threading

import psycopg
import pytest

from quote_service import db
from quote_service.accounts import users
from quote_service.domain.validation import parse_submission
from quote_service.submit.service import IdempotencyConflict, insert_quotation, submit
from tests.samples import sample_payload, submitter_id

pytestmark = pytest.mark.integration
TODAY = dt.date(2026, 11, 28)


def submission(**overrides):
    return parse_submission(sample_payload(**overrides), templates={"standard"}, today=TODAY)


def count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture
def user(services) -> int:
    return submitter_id(services.pool)


@pytest.fixture
def other_user(conn) -> int:
    return users.insert(conn, "other@example.com", role="sales", password_hash="!").id


def test_quotation_lines_event_and_job_commit_together(user, services, conn):
    result = submit(services.pool, submission(), user_id=user, today=TODAY)
    q = result.quotation
    assert (q.number, q.status, str(q.total)) == ("Q-2026-0001", "queued", "238.8000")
    job = conn.execute("SELECT task_name, queue_name, lock, args, status FROM procrastinate_jobs"
                       ).fetchall()
    assert job == [("generate_pdf", "documents", f"quotation-{q.id}", {"quotation_id": q.id},
                    "todo")]
    assert count(conn, "quotation_lines") == 1
    assert conn.execute("SELECT kind, status FROM quotation_events").fetchall() == [
        ("submitted", "queued")]


def test_an_error_before_commit_leaves_neither_row_nor_job(user, services, conn):
    with pytest.raises(RuntimeError), db.transaction(services.pool) as tx:
        insert_quotation(tx, submission(), user_id=user, today=TODAY)
        assert count(tx, "quotations") == 1 and count(tx, "procrastinate_jobs") == 1
        raise RuntimeError("crash between insert and commit")
    for table in ("quotations", "quotation_lines", "quotation_events", "procrastinate_jobs"):
        assert count(conn, table) == 0


def test_a_rolled_back_insert_leaves_no_gap(user, services, conn):
    with pytest.raises(RuntimeError), db.transaction(services.pool) as tx:
        assert insert_quotation(tx, submission(), user_id=user, today=TODAY).quotation.number == "Q-2026-0001"
        raise RuntimeError("rollback")
    assert submit(services.pool, submission(), user_id=user, today=TODAY).quotation.number == "Q-2026-0001"
    assert submit(services.pool, submission(), user_id=user, today=TODAY).quotation.number == "Q-2026-0002"


def test_fifty_concurrent_submissions_get_fifty_consecutive_numbers(user, services, conn):
    numbers: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(50)

    def one():
        try:
            barrier.wait()
            numbers.append(submit(services.pool, submission(), user_id=user, today=TODAY).quotation.number)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == [f"Q-2026-{n:04d}" for n in range(1, 51)]
    # Every committed quotation has its job.
    assert count(conn, "procrastinate_jobs") == 50
    assert db.fetch_one(conn, "count_without_job")["n"] == 0


def test_numbers_restart_each_year(user, services):
    assert submit(services.pool, submission(), user_id=user, today=TODAY).quotation.number == "Q-2026-0001"
    next_year = dt.date(2027, 1, 2)
    sub = parse_submission(sample_payload(), templates={"standard"}, today=next_year)
    assert submit(services.pool, sub, user_id=user, today=next_year).quotation.number == "Q-2027-0001"


def test_same_key_same_body_answers_the_first_quotation(user, services, conn):
    payload = sample_payload()
    first = submit(services.pool, submission(), user_id=user, idempotency_key="k1", payload=payload)
    again = submit(services.pool, submission(), user_id=user, idempotency_key="k1", payload=dict(payload))
    assert again.replayed and again.quotation.id == first.quotation.id
    assert count(conn, "quotations") == 1 and count(conn, "procrastinate_jobs") == 1


def test_same_key_other_body_is_a_conflict(user, services, conn):
    submit(services.pool, submission(), user_id=user, idempotency_key="k1", payload=sample_payload())
    with pytest.raises(IdempotencyConflict):
        submit(services.pool, submission(), user_id=user, idempotency_key="k1",
               payload=sample_payload(notes="other"))
    assert count(conn, "quotations") == 1


def test_racing_requests_with_one_key_make_one_quotation(user, services, conn):
    payload = sample_payload()
    barrier = threading.Barrier(8)
    ids: list[int] = []

    def one():
        barrier.wait()
        ids.append(submit(services.pool, submission(), user_id=user, idempotency_key="race",
                          payload=payload).quotation.id)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and len(ids) == 8
    assert count(conn, "quotations") == 1 and count(conn, "procrastinate_jobs") == 1


def test_numbers_are_unique_in_the_database(user, services, conn):
    submit(services.pool, submission(), user_id=user, today=TODAY)
    conn.execute("UPDATE quotations SET number = 'Q-2026-0001', seq = 1")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO quotations (number, year, seq, customer_name, customer_email,"
                     " currency, valid_until, subtotal, discount_total, tax_total, total, user_id)"
                     " VALUES ('Q-2026-0001', 2026, 1, 'x', 'x@example.com', 'EUR', '2026-12-31',"
                     " 0, 0, 0, 0, %s)", (user,))


def test_keys_are_per_user(user, other_user, services, conn):
    payload = sample_payload()
    mine = submit(services.pool, submission(), user_id=user, idempotency_key="order-1",
                  payload=payload)
    # Another user's "order-1" is theirs: neither the first quotation nor a conflict.
    theirs = submit(services.pool, submission(notes="other"), user_id=other_user,
                    idempotency_key="order-1", payload=sample_payload(notes="other"))
    assert not theirs.replayed and theirs.quotation.id != mine.quotation.id
    again = submit(services.pool, submission(), user_id=user, idempotency_key="order-1",
                   payload=payload)
    assert again.replayed and again.quotation.id == mine.quotation.id
    assert conn.execute("SELECT user_id FROM quotations ORDER BY id").fetchall() == [
        (user,), (other_user,)]
    assert count(conn, "quotations") == 2 and count(conn, "procrastinate_jobs") == 2


def test_the_database_keeps_keys_unique_per_user(user, other_user, services, conn):
    submit(services.pool, submission(), user_id=user, idempotency_key="k", payload={})
    submit(services.pool, submission(), user_id=other_user, idempotency_key="k", payload={})
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("UPDATE quotations SET user_id = %s WHERE user_id = %s", (user, other_user))

