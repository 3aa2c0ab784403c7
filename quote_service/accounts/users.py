"""User accounts: who may sign in, with which role.

Roles, from least to most: `viewer` reads quotations and watches the queue; `sales` reads and
submits, retries and resends quotations; `admin` does all of that and acts on the queue.
What each role may do per URL is decided in one place, `quote_service.web.auth`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

from quote_service import db
from quote_service.accounts import passwords

ROLES = ("sales", "viewer", "admin")
MAX_EMAIL_LENGTH = 254
MAX_TEAM_LENGTH = 100


class InvalidEmail(ValueError):
    """Not an email address this service can sign in with."""


class UserExists(Exception):
    """A user with this email already exists."""


class UserNotFound(LookupError):
    """No user has this email."""


@dataclass(frozen=True)
class User:
    """A user as the rest of the application sees it: never with the password hash, so it can
    sit in `g.user`, templates and logs without exposing it."""

    id: int
    email: str
    name: str
    role: str
    active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    team: str | None = None  # sales users of one team may see each other's quotations

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(id=row["id"], email=row["email"], name=row["name"], role=row["role"],
                   active=row["active"], created_at=row["created_at"],
                   last_login_at=row["last_login_at"], team=row["team"])

    @property
    def display_name(self) -> str:
        return self.name or self.email


def normalize_email(email: str) -> str:
    """Lower-cased and trimmed: addresses are compared case-insensitively everywhere."""
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if (not at or not local or not domain or "@" in domain or len(value) > MAX_EMAIL_LENGTH
            or any(ch.isspace() or ord(ch) < 32 for ch in value)):
        raise InvalidEmail(f"{email!r} is not an email address")
    return value


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    return role


def create(conn: psycopg.Connection, email: str, *, role: str, password: str,
           name: str = "") -> User:
    """Raise InvalidEmail, ValueError (role), PasswordRejected or UserExists."""
    email = normalize_email(email)
    check_role(role)
    password_hash = passwords.hash_password(password, email=email)
    return insert(conn, email, role=role, password_hash=password_hash, name=name)


def insert(conn: psycopg.Connection, email: str, *, role: str, password_hash: str,
           name: str = "") -> User:
    """A user whose argon2 hash already exists (moved from another system, or computed once
    for a whole test run): the slow hashing is not repeated."""
    email = normalize_email(email)
    row = db.fetch_one(conn, "insert_user", email=email, full_name=name.strip(),
                       role=check_role(role), password_hash=password_hash)
    if row is None:
        raise UserExists(f"a user with email {email} already exists")
    return User.from_row(row)


def get(conn: psycopg.Connection, user_id: int) -> User | None:
    row = db.fetch_one(conn, "get_user", id=user_id)
    return User.from_row(row) if row else None


def get_by_email(conn: psycopg.Connection, email: str) -> User | None:
    row = db.fetch_one(conn, "get_user_by_email", email=email.strip())
    return User.from_row(row) if row else None


def credentials(conn: psycopg.Connection, email: str) -> tuple[User, str] | None:
    """The user and their password hash, for the sign-in check only."""
    row = db.fetch_one(conn, "get_user_by_email", email=email.strip())
    return (User.from_row(row), row["password_hash"]) if row else None


def list_all(conn: psycopg.Connection) -> list[User]:
    return [User.from_row(row) for row in db.fetch_all(conn, "list_users")]


def _updated(row: dict[str, Any] | None, email: str) -> User:
    if row is None:
        raise UserNotFound(f"no user with email {email.strip().lower()}")
    return User.from_row(row)


def set_role(conn: psycopg.Connection, email: str, role: str) -> User:
    return _updated(db.fetch_one(conn, "set_user_role", email=email, role=check_role(role)),
                    email)


def check_team(team: str | None) -> str | None:
    """A team name, trimmed; empty means no team."""
    team = (team or "").strip()
    if len(team) > MAX_TEAM_LENGTH or any(ord(ch) < 32 for ch in team):
        raise ValueError(f"a team name is one line of at most {MAX_TEAM_LENGTH} characters")
    return team or None


def set_team(conn: psycopg.Connection, email: str, team: str | None) -> User:
    return _updated(db.fetch_one(conn, "set_user_team", email=email, team=check_team(team)),
                    email)


def set_active(conn: psycopg.Connection, email: str, active: bool) -> User:
    """Deactivation ends the user's sessions (their rows are deleted) and stops their API
    tokens at once (checked against `active` on every request); the account and its tokens
    stay, so it can be undone."""
    return _updated(db.fetch_one(conn, "set_user_active", email=email, active=active), email)


def set_password(conn: psycopg.Connection, email: str, password: str) -> User:
    """Ends every session of the user: whoever knew the old password is signed out."""
    password_hash = passwords.hash_password(password, email=email.strip().lower())
    return _updated(db.fetch_one(conn, "set_user_password", email=email,
                                 password_hash=password_hash), email)


def end_sessions(conn: psycopg.Connection, email: str) -> User:
    """Sign the user out everywhere (a lost laptop, a copied cookie)."""
    return _updated(db.fetch_one(conn, "end_user_sessions", email=email), email)


def record_sign_in(conn: psycopg.Connection, user: User, new_hash: str | None) -> None:
    db.execute(conn, "record_sign_in", id=user.id, password_hash=new_hash)
