"""The storage interface. Backends must make `put` idempotent: putting the same key with the
same bytes twice (a retry after a lost response) succeeds and stores one object."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


class StorageError(Exception):
    """The object could not be stored or read; worth retrying."""


class StorageConflict(StorageError):
    """An object already exists at this key with other content; never overwritten."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Storage(Protocol):
    name: str

    def put(self, key: str, data: bytes, *, content_type: str, filename: str) -> StoredObject:
        """Store `data` at `key` unless an identical object is already there."""

    def stat(self, key: str) -> StoredObject | None:
        """The object at `key`, or None when there is none."""

    def get(self, key: str) -> bytes:
        """The bytes at `key`; raises FileNotFoundError when absent."""

    def signed_url(self, key: str, *, filename: str) -> str | None:
        """A short-lived URL a browser can fetch directly, or None when the app must serve it."""
