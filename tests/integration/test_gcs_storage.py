"""GCSStorage with the real google-cloud-storage client against gcp-storage-emulator.

The emulator sits behind a proxy that answers 412 to uploads of existing objects, as GCS
does with `ifGenerationMatch=0` (the emulator alone would overwrite them), and that can lose
the answer to an upload it did store, so the client's retry meets that 412 for real.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from google.cloud.storage.retry import DEFAULT_RETRY

from quote_service.config import Settings
from quote_service.deliver.storage import make_storage
from quote_service.deliver.storage.base import StorageConflict, StorageError, sha256_hex
from quote_service.deliver.storage.gcs import GCSStorage
from tests.support.gcs_emulator import (
    PreconditionProxy,
    emulator_process,
    precondition_proxy,
)
from tests.support.ports import free_port
from tests.support.service_account import ServiceAccount, make_service_account

pytestmark = pytest.mark.integration

BUCKET = "quotes-test"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with emulator_process(BUCKET) as url:
        yield url


@pytest.fixture
def proxy(emulator: str) -> Iterator[PreconditionProxy]:
    with precondition_proxy(emulator) as running:
        yield running


@pytest.fixture
def account(tmp_path: Path) -> ServiceAccount:
    return make_service_account(tmp_path)


@pytest.fixture
def gcs(
    proxy: PreconditionProxy, account: ServiceAccount, monkeypatch: pytest.MonkeyPatch
) -> GCSStorage:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    settings = Settings(
        storage_backend="gcs",
        gcs_bucket=BUCKET,
        gcs_credentials_file=str(account.path),
        signed_url_seconds=300,
    )
    storage = make_storage(settings)
    assert isinstance(storage, GCSStorage)
    return storage


@pytest.fixture
def key() -> str:
    return f"quotations/2026/Q-2026-{uuid.uuid4().hex[:8]}-v1.pdf"


def put(storage: GCSStorage, key: str, data: bytes = PDF):
    return storage.put(key, data, content_type="application/pdf", filename="Q-2026-0017.pdf")


def test_upload_stat_and_get(gcs: GCSStorage, key: str) -> None:
    stored = put(gcs, key)

    assert (stored.key, stored.sha256, stored.size) == (key, sha256_hex(PDF), len(PDF))
    assert gcs.stat(key) == stored
    assert gcs.get(key) == PDF
    blob = gcs.bucket.get_blob(key)
    assert blob.content_type == "application/pdf"
    assert blob.content_disposition == 'inline; filename="Q-2026-0017.pdf"'
    assert blob.metadata == {"sha256": sha256_hex(PDF)}


def test_putting_the_same_pdf_again_meets_412_and_counts_as_stored(
    gcs: GCSStorage, proxy: PreconditionProxy, key: str
) -> None:
    first = put(gcs, key)
    generation = gcs.bucket.get_blob(key).generation

    assert put(gcs, key) == first
    assert proxy.refused == 1
    assert gcs.bucket.get_blob(key).generation == generation


def test_another_pdf_at_the_same_key_conflicts_and_changes_nothing(
    gcs: GCSStorage, proxy: PreconditionProxy, key: str
) -> None:
    put(gcs, key)

    with pytest.raises(StorageConflict, match="already exists with other content"):
        put(gcs, key, b"%PDF-1.7 another quotation")
    assert proxy.refused == 1
    assert gcs.get(key) == PDF


def test_a_lost_upload_answer_is_retried_by_the_client_and_accepted(
    gcs: GCSStorage, proxy: PreconditionProxy, key: str
) -> None:
    proxy.lose_next_upload_answer = True

    stored = put(gcs, key)

    assert (proxy.uploads, proxy.refused) == (2, 1)  # stored, answer lost; retry refused
    assert stored.sha256 == sha256_hex(PDF)
    assert gcs.get(key) == PDF


@pytest.mark.parametrize("stored", [False, True], ids=["dropped", "answer-lost"])
def test_a_held_upload_waits_for_release_then_the_proxy_forwards_again(
    gcs: GCSStorage, proxy: PreconditionProxy, key: str, stored: bool
) -> None:
    """The switch the killed-worker tests use: the client waits inside the held upload;
    once released, the client's retry is forwarded as usual."""
    proxy.hold_next_upload(stored=stored)
    with ThreadPoolExecutor(1) as pool:
        putting = pool.submit(put, gcs, key)
        assert proxy.holding.wait(10)
        time.sleep(0.2)
        assert not putting.done()
        assert (gcs.stat(key) is not None) is stored
        proxy.release()
        assert putting.result(timeout=30).sha256 == sha256_hex(PDF)

    assert (proxy.uploads, proxy.refused) == (2, 1 if stored else 0)
    assert gcs.get(key) == PDF


def test_an_object_stored_without_checksum_metadata_is_recognised_by_md5(
    gcs: GCSStorage, proxy: PreconditionProxy, key: str
) -> None:
    gcs.bucket.blob(key).upload_from_string(PDF, content_type="application/pdf")

    assert gcs.stat(key).sha256 == sha256_hex(PDF)  # hashed from the bytes
    assert put(gcs, key).sha256 == sha256_hex(PDF)
    assert proxy.refused == 1


def test_missing_objects(gcs: GCSStorage, key: str) -> None:
    assert gcs.stat(key) is None
    with pytest.raises(FileNotFoundError):
        gcs.get(key)


def test_an_unreachable_service_is_a_storage_error(
    account: ServiceAccount, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    built = GCSStorage.from_settings(
        Settings(storage_backend="gcs", gcs_bucket=BUCKET, gcs_credentials_file=str(account.path))
    )
    storage = GCSStorage(built.bucket, timeout=1, retry=DEFAULT_RETRY.with_timeout(0.5))

    with pytest.raises(StorageError) as raised:
        put(storage, key)
    assert not isinstance(raised.value, StorageConflict)
    with pytest.raises(StorageError):
        storage.stat(key)


def test_signed_url_fetches_the_pdf(gcs: GCSStorage, key: str) -> None:
    """The emulator does not check signatures (the unit tests do); this checks the URL
    points at the object and carries the V4 parameters."""
    put(gcs, key)

    url = gcs.signed_url(key, filename="Q-2026-0017.pdf")

    assert "X-Goog-Algorithm=GOOG4-RSA-SHA256" in url
    assert "X-Goog-Expires=300" in url
    assert "X-Goog-Signature=" in url
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == PDF
