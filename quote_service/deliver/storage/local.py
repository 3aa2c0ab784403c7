"""PDFs kept in a local folder, for development and single-machine installs.

A reader must never see half a file, and a PDF once stored must never be replaced by other
bytes: objects are published whole with `write_new_file`, which never replaces a file.
"""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

from quote_service.deliver.atomic import write_new_file
from quote_service.deliver.storage.base import (
    StorageConflict,
    StorageError,
    StoredObject,
    sha256_hex,
)

_CHUNK = 1024 * 1024


class LocalStorage:
    """Objects under `root`, one file per key (`quotations/2026/Q-2026-0017-v1.pdf`)."""

    name = "local"

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """The file that holds `key`; raises ValueError for a key that would leave the root."""
        parts = key.split("/")
        if "\\" in key or "\x00" in key or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes, *, content_type: str, filename: str) -> StoredObject:
        """Store `data` at `key` unless an identical object is already there."""
        path = self.path(key)
        stored = StoredObject(key=key, sha256=sha256_hex(data), size=len(data))
        existing = self.stat(key)
        if existing is not None:
            return _same_or_conflict(existing, stored)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            published = write_new_file(path, data)
        except OSError as exc:
            raise StorageError(f"could not store {key}: {exc}") from exc
        if not published:  # another writer got there between our stat and our link
            existing = self.stat(key)
            if existing is None:
                raise StorageError(f"could not store {key}: it vanished while being written")
            return _same_or_conflict(existing, stored)
        return stored

    def stat(self, key: str) -> StoredObject | None:
        """The object at `key` with its checksum, or None when there is none."""
        path = self.path(key)
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as file:
                while chunk := file.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise StorageError(f"could not read {key}: {exc}") from exc
        return StoredObject(key=key, sha256=digest.hexdigest(), size=size)

    def get(self, key: str) -> bytes:
        """The bytes at `key`; raises FileNotFoundError when absent."""
        path = self.path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise
        except (NotADirectoryError, IsADirectoryError):
            raise FileNotFoundError(errno.ENOENT, "no such object", key) from None
        except OSError as exc:
            raise StorageError(f"could not read {key}: {exc}") from exc

    def signed_url(self, key: str, *, filename: str) -> str | None:
        """Local files have no URL of their own: the app streams them."""
        return None


def _same_or_conflict(existing: StoredObject, stored: StoredObject) -> StoredObject:
    if existing.sha256 == stored.sha256:
        return existing
    raise StorageConflict(
        f"{stored.key} already exists with other content "
        f"(sha256 {existing.sha256[:12]}..., not {stored.sha256[:12]}...)"
    )
