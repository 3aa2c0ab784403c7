"""Publishing a file whole and only once: what the local storage and the outbox both need.

The bytes go to a temporary file in the target folder, are flushed to disk, and are then
published under their final name with a hard link, which (unlike a rename) refuses to replace
a file that a concurrent writer published first. Readers never see half a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

# Filesystems without hard links (some network and FUSE mounts) answer with one of these.
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK}


def write_new_file(path: Path, data: bytes) -> bool:
    """Write `data` durably to `path` unless it exists; False when a file was already there."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fchmod(tmp.fileno(), 0o644)
            os.fsync(tmp.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            os.rename(tmp_name, path)  # still atomic, but the last writer wins on such mounts
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def _fsync_dir(directory: Path) -> None:
    """Make the new directory entry durable, not only the file's bytes."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
