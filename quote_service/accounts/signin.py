"""Signing in with an email and a password: the rate limit, the check, the record."""

from __future__ import annotations

import logging

from psycopg_pool import ConnectionPool

from quote_service import db
from quote_service.accounts import passwords, ratelimit, users
from quote_service.accounts.users import MAX_EMAIL_LENGTH, User

logger = logging.getLogger("quote_service.accounts")


def sign_in(pool: ConnectionPool, email: str, password: str, *, ip: str,
            limits: ratelimit.LoginLimits) -> User | None:
    """The user when the email and password match an active account, else None. Raise
    LoginLimited when this email or address has failed too often (no password is checked).

    An unknown email, a wrong password and a deactivated account all answer None and take the
    same time, so the answer does not tell which addresses have accounts.
    """
    email = email.strip().lower()[:MAX_EMAIL_LENGTH]
    if any(ord(ch) < 32 or ord(ch) == 127 or "\ud800" <= ch <= "\udfff" for ch in email):
        # No account has such an address (users.normalize_email), and the database could not
        # store it in login_attempts: refused like an unknown email, without a password check.
        logger.warning("sign-in failed: an email with control characters from %s", ip)
        return None
    with db.transaction(pool) as conn:
        ratelimit.reserve(conn, email, ip, limits)
        found = users.credentials(conn, email) if email else None
    # The reservation is committed: the slow hash runs without holding a connection or a lock.
    if found is None:
        passwords.verify_nobody(password)
        # Not the address itself: what is typed into the email field is sometimes a password.
        logger.warning("sign-in failed: no account with that email, from %s", ip)
        return None
    user, stored_hash = found
    check = passwords.verify(stored_hash, password)
    if not check.ok or not user.active:
        logger.warning("sign-in failed: %s from %s (%s)", email, ip,
                       "deactivated" if check.ok else "wrong password")
        return None
    with db.transaction(pool) as conn:
        ratelimit.clear(conn, email)
        users.record_sign_in(conn, user, check.new_hash)
    logger.info("signed in: %s (%s) from %s", user.email, user.role, ip)
    return user
