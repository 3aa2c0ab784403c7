"""Signed-in browser sessions, kept in PostgreSQL so that ending one is real.

Flask's session cookie is signed, not secret, and a signature cannot be taken back: a copied
cookie would keep working after its owner signs out. So the cookie carries only a random id
(256 bits) and the row in `sessions` is what makes it valid. Signing out deletes that row; a
new password, a deactivation and `users end-sessions` delete all of the user's rows (in the
same statement as the change, see accounts.sql). A replayed cookie then names no row.

The id is stored as its sha256, like API tokens: with that much entropy a fast hash cannot be
reversed, and the lookup stays one index probe per request, in the query that loads the user.
"""

from __future__ import annotations

import hashlib
import secrets

import psycopg

from quote_service import db
from quote_service.accounts.users import User

ID_BYTES = 32
MAX_ID_LENGTH = 64
MAX_USER_AGENT = 300


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(conn: psycopg.Connection, user: User, *, lifetime: int, ip: str = "",
          user_agent: str = "") -> str:
    """Open a session of `user` for `lifetime` seconds; return the id the cookie carries (the
    only time it exists in the clear). Expired rows are removed on the way."""
    db.execute(conn, "prune_sessions")
    session_id = secrets.token_urlsafe(ID_BYTES)
    db.fetch_one(conn, "insert_session", user_id=user.id, token_hash=_digest(session_id),
                 lifetime=lifetime, ip=ip, user_agent=user_agent[:MAX_USER_AGENT])
    return session_id


def user_of(conn: psycopg.Connection, session_id: object) -> User | None:
    """The active user of a live session, or None (unknown, ended, expired, deactivated).
    Anything that is not a plausible id costs no query."""
    if not isinstance(session_id, str) or not 0 < len(session_id) <= MAX_ID_LENGTH:
        return None
    row = db.fetch_one(conn, "session_user", token_hash=_digest(session_id))
    return User.from_row(row) if row else None


def end(conn: psycopg.Connection, session_id: object) -> None:
    """Sign this one session out (the others of the same user stay)."""
    if isinstance(session_id, str):
        db.execute(conn, "delete_session", token_hash=_digest(session_id))


def list_open(conn: psycopg.Connection, email: str) -> list[dict]:
    return db.fetch_all(conn, "list_user_sessions", email=email)
