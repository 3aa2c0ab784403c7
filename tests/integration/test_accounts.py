"""Accounts against a real database: the `users` and `tokens` commands, how tokens are stored,
and the sign-in limit holding under concurrent attempts."""

import hashlib
import threading

import pytest
from click.testing import CliRunner

from quote_service import db
from quote_service.accounts import passwords, ratelimit, signin, tokens, users
from quote_service.accounts.cli import tokens as tokens_cli
from quote_service.accounts.cli import users as users_cli

pytestmark = pytest.mark.integration

PASSWORD = "a long enough passphrase"


@pytest.fixture
def run(monkeypatch, database_url):
    """Invoke a command group as `quote-service` would, against the test database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(group, *args: str, input: str | None = None):
        return runner.invoke(group, list(args), input=input, catch_exceptions=False)

    return invoke


def create(run, email="ann@example.com", role="sales", *extra: str):
    return run(users_cli, "create", email, "--role", role, "--password-stdin", *extra,
               input=PASSWORD + "\n")


def test_create_user_from_stdin_stores_an_argon2id_hash(run, conn):
    result = create(run, "Ann@Example.com", "admin", "--name", "Ann Lee")
    assert result.exit_code == 0, result.output
    assert "ann@example.com (admin)" in result.stdout
    email, name, role, stored = conn.execute(
        "SELECT email, name, role, password_hash FROM users").fetchone()
    assert (email, name, role) == ("ann@example.com", "Ann Lee", "admin")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert passwords.verify(stored, PASSWORD).ok


def test_create_user_prompts_twice_until_both_match(run, conn):
    result = run(users_cli, "create", "bob@example.com", "--role", "viewer",
                 input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert conn.execute("SELECT role FROM users").fetchone() == ("viewer",)


def test_create_user_refuses_short_passwords_duplicates_and_unknown_roles(run, conn):
    short = run(users_cli, "create", "c@example.com", "--role", "sales", "--password-stdin",
                input="too short\n")
    assert short.exit_code == 1 and "at least 10" in short.output
    assert create(run, "c@example.com").exit_code == 0
    duplicate = create(run, "C@EXAMPLE.COM")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    role = create(run, "d@example.com", "owner")
    assert role.exit_code == 2 and "owner" in role.output
    bad_email = create(run, "not-an-email")
    assert bad_email.exit_code == 1 and "not an email address" in bad_email.output
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)


def test_emails_are_unique_regardless_of_case_even_in_sql(conn):
    conn.execute("INSERT INTO users (email, role, password_hash) VALUES ('x@example.com', "
                 "'sales', 'h')")
    with pytest.raises(Exception, match="users_email_key"):
        conn.execute("INSERT INTO users (email, role, password_hash) VALUES ('X@example.com', "
                     "'sales', 'h')")


def test_list_set_role_deactivate_activate(run, conn):
    create(run, "ann@example.com", "sales", "--name", "Ann")
    create(run, "bob@example.com", "viewer")
    assert run(users_cli, "set-role", "ANN@example.com", "admin").exit_code == 0
    assert run(users_cli, "deactivate", "bob@example.com").exit_code == 0
    listing = run(users_cli, "list").stdout.splitlines()
    assert listing[0].split("\t")[1:4] == ["ann@example.com", "admin", "active"]
    assert listing[1].split("\t")[1:4] == ["bob@example.com", "viewer", "deactivated"]
    assert run(users_cli, "activate", "bob@example.com").exit_code == 0
    assert conn.execute("SELECT active FROM users WHERE email = "
                        "'bob@example.com'").fetchone() == (True,)
    missing = run(users_cli, "deactivate", "nobody@example.com")
    assert missing.exit_code == 1 and "no user with email nobody@example.com" in missing.output


def test_set_password_ends_sessions_and_replaces_the_hash(run, conn):
    create(run)
    result = run(users_cli, "set-password", "ann@example.com", "--password-stdin",
                 input="another long passphrase\n")
    assert result.exit_code == 0, result.output
    stored = conn.execute("SELECT password_hash FROM users").fetchone()[0]
    assert passwords.verify(stored, "another long passphrase").ok


def test_token_is_printed_once_and_stored_only_as_its_sha256(run, conn):
    create(run)
    result = run(tokens_cli, "create", "ann@example.com", "--name", "CRM sync")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert tokens._SHAPE.fullmatch(token), token
    assert "cannot be shown again" in result.stderr
    stored_hash, prefix, name = conn.execute(
        "SELECT token_hash, prefix, name FROM api_tokens").fetchone()
    assert stored_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(f"qs_{prefix}_") and name == "CRM sync"
    dump = str(conn.execute("SELECT * FROM api_tokens").fetchall())
    assert token.split("_")[2] not in dump
    listing = run(tokens_cli, "list").stdout
    assert f"qs_{prefix}_…" in listing and "ann@example.com" in listing
    assert token not in listing


def test_tokens_revoke_and_refusals(run, conn):
    create(run)
    run(tokens_cli, "create", "ann@example.com", "--name", "script")
    token_id = conn.execute("SELECT id FROM api_tokens").fetchone()[0]
    assert "revoked" in run(tokens_cli, "revoke", str(token_id)).stdout
    assert "already revoked" in run(tokens_cli, "revoke", str(token_id)).stdout
    assert conn.execute("SELECT revoked_at IS NOT NULL FROM api_tokens").fetchone() == (True,)
    assert "revoked" in run(tokens_cli, "list", "--email", "ann@example.com").stdout
    assert run(tokens_cli, "revoke", "999").exit_code == 1
    unknown = run(tokens_cli, "create", "nobody@example.com", "--name", "x")
    assert unknown.exit_code == 1 and "no user" in unknown.output
    run(users_cli, "deactivate", "ann@example.com")
    inactive = run(tokens_cli, "create", "ann@example.com", "--name", "x")
    assert inactive.exit_code == 1 and "deactivated" in inactive.output


def test_token_authentication_follows_revocation_and_deactivation(conn):
    user = users.create(conn, "ann@example.com", role="sales", password=PASSWORD)
    token, token_id = tokens.create(conn, user, "script")
    found = tokens.authenticate(conn, token)
    assert found is not None and found[0].email == "ann@example.com" and found[1] == token_id
    assert tokens.authenticate(conn, token[:-1] + ("a" if token[-1] != "a" else "b")) is None
    assert tokens.authenticate(conn, "qs_nothing") is None
    users.set_active(conn, "ann@example.com", False)
    assert tokens.authenticate(conn, token) is None
    users.set_active(conn, "ann@example.com", True)
    assert tokens.authenticate(conn, token) is not None
    tokens.revoke(conn, token_id)
    assert tokens.authenticate(conn, token) is None


def test_last_used_is_written_at_most_once_a_minute(conn):
    user = users.create(conn, "ann@example.com", role="sales", password=PASSWORD)
    token, token_id = tokens.create(conn, user, "script")
    tokens.authenticate(conn, token)
    first = conn.execute("SELECT last_used_at FROM api_tokens").fetchone()[0]
    tokens.authenticate(conn, token)
    assert conn.execute("SELECT last_used_at FROM api_tokens").fetchone()[0] == first
    conn.execute("UPDATE api_tokens SET last_used_at = now() - interval '2 minutes'")
    tokens.authenticate(conn, token)
    assert conn.execute("SELECT last_used_at FROM api_tokens").fetchone()[0] > first


def test_concurrent_attempts_never_exceed_the_limit(services, conn):
    """Eight guesses at once, as from several web workers: exactly five passwords are checked,
    the rest are refused without a check."""
    users.create(conn, "ann@example.com", role="sales", password=PASSWORD)
    limits = ratelimit.LoginLimits(per_email=5, per_ip=100)
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def guess(n: int) -> None:
        start.wait()
        try:
            user = signin.sign_in(services.pool, "ann@example.com", f"wrong guess {n}",
                                  ip=f"10.0.0.{n}", limits=limits)
            outcomes.append("checked" if user is None else "signed in")
        except ratelimit.LoginLimited:
            outcomes.append("limited")

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["checked"] * 5 + ["limited"] * 3
    with db.transaction(services.pool) as c:
        assert c.execute("SELECT count(*) FROM login_attempts").fetchone() == (5,)


def test_a_success_forgives_the_emails_failures_but_not_the_addresses(services, conn):
    users.create(conn, "ann@example.com", role="sales", password=PASSWORD)
    limits = ratelimit.LoginLimits(per_email=3, per_ip=5)

    def attempt(email: str, password: str):
        return signin.sign_in(services.pool, email, password, ip="10.0.0.1", limits=limits)

    assert attempt("ann@example.com", "wrong password") is None
    assert attempt("ann@example.com", "wrong password") is None
    assert attempt("ANN@example.com", PASSWORD) is not None
    assert conn.execute("SELECT count(*) FROM login_attempts").fetchone() == (0,)
    for n in range(5):
        assert attempt(f"other{n}@example.com", "wrong password") is None
    with pytest.raises(ratelimit.LoginLimited) as limited:
        attempt("ann@example.com", PASSWORD)
    assert 0 < limited.value.retry_after <= 15 * 60


def test_old_attempts_no_longer_count_and_are_pruned(services, conn):
    limits = ratelimit.LoginLimits(per_email=1, per_ip=10)
    conn.execute("INSERT INTO login_attempts (email, ip, at) VALUES "
                 "('ann@example.com', '10.0.0.1', now() - interval '16 minutes'), "
                 "('old@example.com', '10.0.0.9', now() - interval '2 days')")
    assert signin.sign_in(services.pool, "ann@example.com", "wrong password", ip="10.0.0.1",
                          limits=limits) is None
    emails = {row[0] for row in conn.execute("SELECT email FROM login_attempts")}
    assert emails == {"ann@example.com"}


def test_a_hash_with_old_parameters_is_upgraded_at_sign_in(services, conn):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    conn.execute("INSERT INTO users (email, role, password_hash) VALUES "
                 "('ann@example.com', 'sales', %s)", (weak,))
    user = signin.sign_in(services.pool, "ann@example.com", PASSWORD, ip="10.0.0.1",
                          limits=ratelimit.LoginLimits())
    assert user is not None
    stored, last_login = conn.execute(
        "SELECT password_hash, last_login_at FROM users").fetchone()
    assert stored != weak and passwords.verify(stored, PASSWORD) == passwords.Verification(True)
    assert last_login is not None


def test_end_sessions_signs_a_user_out_everywhere(run, conn, app):
    from quote_service.accounts import sessions, users
    from quote_service.web.auth import start_session

    create(run)
    browser = app.test_client()
    with browser.session_transaction() as store:
        start_session(store, conn, users.get_by_email(conn, "ann@example.com"),
                      ip="198.51.100.4", user_agent="Firefox")
    assert browser.get("/quotations").status_code == 200
    listing = run(users_cli, "sessions", "ann@example.com").stdout
    assert "198.51.100.4\tFirefox" in listing and len(listing.splitlines()) == 1
    result = run(users_cli, "end-sessions", "ann@example.com")
    assert result.exit_code == 0 and "every session of ann@example.com has ended" in result.output
    assert browser.get("/quotations").status_code == 302
    assert sessions.list_open(conn, "ann@example.com") == []
    assert run(users_cli, "sessions", "ann@example.com").stdout == ""


def test_teams_are_set_listed_and_cleared(run, conn):
    assert create(run, "ann@example.com", "sales", "--team", "north").exit_code == 0
    assert run(users_cli, "list").stdout.split("\t")[-1].strip() == "team north"
    result = run(users_cli, "set-team", "ann@example.com", "south")
    assert result.exit_code == 0 and "is in team south" in result.output
    assert run(users_cli, "set-team", "ann@example.com", "").output.strip() == (
        "ann@example.com is in no team")
    assert conn.execute("SELECT team FROM users").fetchone() == (None,)
    refused = create(run, "bob@example.com", "sales", "--team", "a\tb")
    assert refused.exit_code == 1 and "one line" in refused.output
