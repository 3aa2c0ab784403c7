"""Password hashing with argon2id, through argon2-cffi's PasswordHasher.

Its defaults follow RFC 9106's second recommended profile (argon2id, 64 MiB, 3 passes) and the
hash string records its own parameters and salt, so raising the parameters later only needs
`needs_rehash` on the next successful sign-in: no migration of stored hashes.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
# Far above any real passphrase; bounds the work an anonymous sign-in request can cause.
MAX_LENGTH = 1024

_hasher = PasswordHasher()


class PasswordRejected(ValueError):
    """The password does not meet the policy; the message says why."""


@dataclass(frozen=True)
class Verification:
    ok: bool
    # A fresh hash when the stored one was made with other parameters than today's.
    new_hash: str | None = None


def _normalized(password: str) -> str:
    """NFKC, so a password typed on another keyboard or OS (composed vs decomposed accents)
    still matches."""
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, *, email: str | None = None) -> None:
    """Length is what makes a password strong; composition rules only make it harder to
    remember (NIST SP 800-63B). The email address itself is refused as an obvious guess."""
    length = len(_normalized(password))
    if length < MIN_LENGTH:
        raise PasswordRejected(f"the password must have at least {MIN_LENGTH} characters")
    if length > MAX_LENGTH:
        raise PasswordRejected(f"the password must have at most {MAX_LENGTH} characters")
    if email and _normalized(password).strip().lower() == email.strip().lower():
        raise PasswordRejected("the password must not be the email address")


def hash_password(password: str, *, email: str | None = None) -> str:
    check_policy(password, email=email)
    return _hasher.hash(_normalized(password))


def verify(stored_hash: str, password: str) -> Verification:
    """Check a password; a damaged or foreign hash is a failed check, never an exception."""
    if len(password) > MAX_LENGTH:
        return Verification(False)
    candidate = _normalized(password)
    try:
        _hasher.verify(stored_hash, candidate)
    except (VerificationError, InvalidHashError):
        return Verification(False)
    if _hasher.check_needs_rehash(stored_hash):
        return Verification(True, _hasher.hash(candidate))
    return Verification(True)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not a password of anyone")


def verify_nobody(password: str) -> Verification:
    """Spend the same time as a real check when the email is unknown, so response times do not
    tell which addresses have an account."""
    verify(_dummy_hash(), password)
    return Verification(False)
