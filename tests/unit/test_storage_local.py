"""LocalStorage: keys under a root, atomic and idempotent puts, never an overwrite."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from quote_service.config import Settings
from quote_service.deliver import atomic
from quote_service.deliver.storage import make_storage
from quote_service.deliver.storage.base import StorageConflict, StorageError, sha256_hex
from quote_service.deliver.storage.local import LocalStorage

KEY = "quotations/2026/Q-2026-0017-v1.pdf"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


def put(storage: LocalStorage, data: bytes = PDF, key: str = KEY):
    return storage.put(key, data, content_type="application/pdf", filename="Q-2026-0017.pdf")


def test_put_writes_the_key_under_the_root_and_reads_back(storage: LocalStorage) -> None:
    stored = put(storage)

    assert (stored.key, stored.sha256, stored.size) == (KEY, sha256_hex(PDF), len(PDF))
    assert (storage.root / "quotations" / "2026" / "Q-2026-0017-v1.pdf").read_bytes() == PDF
    assert storage.stat(KEY) == stored
    assert storage.get(KEY) == PDF


def test_putting_the_same_bytes_again_counts_as_stored(storage: LocalStorage) -> None:
    first = put(storage)
    mtime = storage.path(KEY).stat().st_mtime_ns

    assert put(storage) == first
    assert storage.path(KEY).stat().st_mtime_ns == mtime


def test_other_bytes_at_an_existing_key_conflict_and_change_nothing(
    storage: LocalStorage,
) -> None:
    put(storage)

    with pytest.raises(StorageConflict, match="already exists with other content"):
        put(storage, b"%PDF-1.7 something else")
    assert storage.get(KEY) == PDF


def test_no_temporary_file_is_left_behind(storage: LocalStorage) -> None:
    put(storage)
    put(storage)

    assert os.listdir(storage.path(KEY).parent) == ["Q-2026-0017-v1.pdf"]


def test_written_file_is_readable_by_the_web_process(storage: LocalStorage) -> None:
    put(storage)

    assert storage.path(KEY).stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../outside.pdf", "quotations/../../x.pdf", "a//b.pdf", "a/./b.pdf",
     "dir/", "a\\b.pdf", "nul\x00.pdf"],
)  # fmt: skip
def test_keys_that_could_leave_the_root_are_refused(storage: LocalStorage, key: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        put(storage, key=key)
    with pytest.raises(ValueError):
        storage.stat(key)
    assert not storage.root.exists()


def test_missing_objects(storage: LocalStorage) -> None:
    assert storage.stat(KEY) is None
    with pytest.raises(FileNotFoundError):
        storage.get(KEY)


def test_a_key_below_a_file_is_missing_not_an_error(storage: LocalStorage) -> None:
    put(storage)

    assert storage.stat(KEY + "/child.pdf") is None
    with pytest.raises(FileNotFoundError):
        storage.get(KEY + "/child.pdf")


def test_an_unwritable_root_raises_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    storage = LocalStorage(tmp_path / "file" / "storage")

    with pytest.raises(StorageError, match="could not store"):
        put(storage)


def test_the_app_streams_local_files(storage: LocalStorage) -> None:
    put(storage)

    assert storage.signed_url(KEY, filename="Q-2026-0017.pdf") is None


def test_concurrent_puts_of_the_same_bytes_all_succeed(storage: LocalStorage) -> None:
    results, errors = run_concurrently(lambda: put(storage))

    assert not errors
    assert len(set(results)) == 1
    assert storage.get(KEY) == PDF


def test_concurrent_puts_of_different_bytes_keep_exactly_one(storage: LocalStorage) -> None:
    versions = iter(range(1000))
    lock = threading.Lock()

    def put_own_version():
        with lock:
            n = next(versions)
        return put(storage, PDF + str(n).encode())

    results, errors = run_concurrently(put_own_version)

    assert len(results) == 1
    assert all(isinstance(error, StorageConflict) for error in errors)
    assert storage.stat(KEY) == results[0]


def test_filesystems_without_hard_links_still_get_whole_files(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "link", no_link)

    assert put(storage).sha256 == sha256_hex(PDF)
    assert storage.get(KEY) == PDF
    assert os.listdir(storage.path(KEY).parent) == ["Q-2026-0017-v1.pdf"]


def test_make_storage_builds_the_local_backend(tmp_path: Path) -> None:
    storage = make_storage(Settings(storage_dir=tmp_path))

    assert isinstance(storage, LocalStorage)
    assert storage.name == "local"
    assert storage.root == tmp_path


def run_concurrently(action, workers: int = 8):
    barrier = threading.Barrier(workers)
    results, errors = [], []
    lock = threading.Lock()

    def run():
        barrier.wait()
        try:
            result = action()
        except Exception as exc:  # collected and asserted on by the caller
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results, errors
