"""API tokens: `qs_<prefix>_<secret>`, shown once at creation and stored only as a hash.

A token is 40 random characters from [A-Za-z0-9] (about 238 bits) behind a public 8-hex-digit
prefix. With that much entropy a leaked table cannot be reversed by guessing, so the stored
hash is a plain sha256: one index probe per API request, where a slow password hash would cost
every request tens of milliseconds and protect nothing more. The prefix lets people recognise
a token in listings and logs without it being stored in the clear.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

import psycopg

from quote_service import db
from quote_service.accounts.users import User

SCHEME = "qs"
SECRET_LENGTH = 40
_ALPHABET = string.ascii_letters + string.digits
_SHAPE = re.compile(rf"{SCHEME}_[0-9a-f]{{8}}_[A-Za-z0-9]{{{SECRET_LENGTH}}}")
TOUCH_INTERVAL = dt.timedelta(minutes=1)


class TokenNotFound(LookupError):
    """No API token has this id."""


@dataclass(frozen=True)
class ApiToken:
    id: int
    user_id: int
    user_email: str
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApiToken:
        return cls(id=row["id"], user_id=row["user_id"], user_email=row["user_email"],
                   name=row["name"], prefix=row["prefix"], created_at=row["created_at"],
                   last_used_at=row["last_used_at"], revoked_at=row["revoked_at"])

    @property
    def display(self) -> str:
        return f"{SCHEME}_{self.prefix}_…"


def generate() -> tuple[str, str]:
    """A new token and its public prefix."""
    prefix = secrets.token_hex(4)
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))
    return f"{SCHEME}_{prefix}_{secret}", prefix


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(conn: psycopg.Connection, user: User, name: str) -> tuple[str, int]:
    """Store a new token for `user`; return the token (the only time it exists in the clear)
    and its id."""
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name (what or who uses it)")
    token, prefix = generate()
    row = db.fetch_one(conn, "insert_api_token", user_id=user.id, token_name=name,
                       token_hash=digest(token), prefix=prefix)
    assert row is not None
    return token, row["id"]


def bearer(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header's value, or None when it is not
    that (another scheme, no token)."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def well_formed(token: str) -> bool:
    """Whether `token` has a token's shape: anything else is refused before any query, so
    garbage costs no database work."""
    return _SHAPE.fullmatch(token) is not None


def authenticate(conn: psycopg.Connection, token: str) -> tuple[User, int] | None:
    """The active user behind a valid, unrevoked token, and the token's id; else None."""
    if not well_formed(token):
        return None
    row = db.fetch_one(conn, "find_token_user", token_hash=digest(token))
    if row is None:
        return None
    last_used = row["token_last_used_at"]
    if last_used is None or row["now"] - last_used >= TOUCH_INTERVAL:
        db.execute(conn, "touch_api_token", id=row["token_id"])
    return User.from_row(row), row["token_id"]


def list_all(conn: psycopg.Connection, email: str | None = None) -> list[ApiToken]:
    return [ApiToken.from_row(row) for row in db.fetch_all(conn, "list_api_tokens", email=email)]


def revoke(conn: psycopg.Connection, token_id: int) -> bool:
    """Revoke a token; False when it was already revoked. Raise TokenNotFound."""
    if db.fetch_one(conn, "get_api_token", id=token_id) is None:
        raise TokenNotFound(f"no API token with id {token_id}")
    return db.fetch_one(conn, "revoke_api_token", id=token_id) is not None
