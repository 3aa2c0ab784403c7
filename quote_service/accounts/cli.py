"""`quote-service users ...` and `quote-service tokens ...`: accounts are managed from a shell
by whoever runs the service; there is no sign-up page."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
import psycopg

from quote_service.accounts import passwords, sessions
from quote_service.accounts import tokens as api_tokens
from quote_service.accounts import users as accounts
from quote_service.shell import connection


@contextmanager
def _connection() -> Iterator[psycopg.Connection]:
    """One transaction per command: committed when the command succeeds, else rolled back and
    the reason printed as one line."""
    try:
        with connection() as conn:
            yield conn
    except (LookupError, accounts.UserExists, ValueError) as exc:
        # Not found, already exists, invalid email, role, name or password.
        raise click.ClickException(str(exc)) from None


def _read_password(from_stdin: bool, email: str) -> str:
    """From standard input (one line, for scripts) or typed twice at a hidden prompt; the
    password is never a command-line argument, which other users could read in `ps`."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True,
                                confirmation_prompt="Repeat the password")
    try:
        passwords.check_policy(password, email=email)
    except passwords.PasswordRejected as exc:
        raise click.ClickException(str(exc)) from None
    return password


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@click.group()
def users() -> None:
    """Who may sign in, and with which role (viewer, sales, admin)."""


@users.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES))
@click.option("--name", default="", help="Shown in the page header.")
@click.option("--team", default="", help="Its team (see set-team).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(email: str, role: str, name: str, team: str, password_stdin: bool) -> None:
    """Create a user; the password is prompted for twice unless --password-stdin."""
    try:
        email = accounts.normalize_email(email)
        accounts.check_team(team)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    password = _read_password(password_stdin, email)
    with _connection() as conn:
        user = accounts.create(conn, email, role=role, password=password, name=name)
        if team:
            user = accounts.set_team(conn, email, team)
    click.echo(f"created user {user.id} {user.email} ({user.role})")


@users.command("list")
def list_users() -> None:
    """Every user with role, state and last sign-in."""
    with _connection() as conn:
        found = accounts.list_all(conn)
    for user in found:
        state = "active" if user.active else "deactivated"
        click.echo(f"{user.id}\t{user.email}\t{user.role}\t{state}\t"
                   f"last sign-in {_when(user.last_login_at)}\t{user.name}\t"
                   f"team {user.team or '-'}")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(accounts.ROLES))
def set_role(email: str, role: str) -> None:
    """Change a user's role; it applies from their next request."""
    with _connection() as conn:
        user = accounts.set_role(conn, email, role)
    click.echo(f"{user.email} is now {user.role}")


@users.command("set-team")
@click.argument("email")
@click.argument("team")
def set_team(email: str, team: str) -> None:
    """Put a user in a team ('' for none). With SALES_SEE_TEAM=true, sales users see and act
    on the quotations of their team; otherwise only on their own."""
    with _connection() as conn:
        user = accounts.set_team(conn, email, team)
    click.echo(f"{user.email} is in team {user.team}" if user.team else
               f"{user.email} is in no team")


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password(email: str, password_stdin: bool) -> None:
    """Set a new password; the user's existing sessions end."""
    password = _read_password(password_stdin, email.strip().lower())
    with _connection() as conn:
        user = accounts.set_password(conn, email, password)
    click.echo(f"password of {user.email} changed; their sessions have ended")


@users.command("deactivate")
@click.argument("email")
def deactivate(email: str) -> None:
    """Stop a user at once: their sessions end and their API tokens stop working."""
    with _connection() as conn:
        user = accounts.set_active(conn, email, False)
    click.echo(f"{user.email} is deactivated")


@users.command("activate")
@click.argument("email")
def activate(email: str) -> None:
    """Let a deactivated user sign in again (their unrevoked API tokens work again too)."""
    with _connection() as conn:
        user = accounts.set_active(conn, email, True)
    click.echo(f"{user.email} is active")


@users.command("end-sessions")
@click.argument("email")
def end_sessions(email: str) -> None:
    """Sign a user out on every device (API tokens are not affected: revoke those)."""
    with _connection() as conn:
        user = accounts.end_sessions(conn, email)
    click.echo(f"every session of {user.email} has ended")


@users.command("sessions")
@click.argument("email")
def list_sessions(email: str) -> None:
    """A user's signed-in sessions: when and where each was opened, when it ends."""
    with _connection() as conn:
        if accounts.get_by_email(conn, email) is None:
            raise accounts.UserNotFound(f"no user with email {email.strip().lower()}")
        found = sessions.list_open(conn, email)
    for row in found:
        click.echo(f"{row['id']}\tsince {_when(row['created_at'])}\tuntil "
                   f"{_when(row['expires_at'])}\t{row['ip'] or '-'}\t{row['user_agent']}")


@click.group()
def tokens() -> None:
    """API tokens (Authorization: Bearer ...) for scripts and other systems."""


@tokens.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What or who uses the token, e.g. 'CRM sync'.")
def create_token(email: str, name: str) -> None:
    """Create a token for a user and print it: this is the only time it is shown."""
    with _connection() as conn:
        user = accounts.get_by_email(conn, email)
        if user is None:
            raise accounts.UserNotFound(f"no user with email {email.strip().lower()}")
        if not user.active:
            raise ValueError(f"{user.email} is deactivated; activate the user first")
        token, token_id = api_tokens.create(conn, user, name)
    click.echo(f"token {token_id} for {user.email} ({user.role}); store it now, it cannot "
               "be shown again:", err=True)
    click.echo(token)


@tokens.command("list")
@click.option("--email", default=None, help="Only this user's tokens.")
def list_tokens(email: str | None) -> None:
    """Tokens with their owner, prefix, last use and revocation (never the secret)."""
    with _connection() as conn:
        found = api_tokens.list_all(conn, email)
    for token in found:
        state = f"revoked {_when(token.revoked_at)}" if token.revoked_at else "active"
        click.echo(f"{token.id}\t{token.display}\t{token.user_email}\t{token.name}\t{state}\t"
                   f"created {_when(token.created_at)}\tlast used {_when(token.last_used_at)}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke a token: the next request that uses it is refused."""
    with _connection() as conn:
        changed = api_tokens.revoke(conn, token_id)
    click.echo(f"token {token_id} {'revoked' if changed else 'was already revoked'}")
