"""PDFs kept in a Google Cloud Storage bucket, handed to browsers through V4 signed URLs.

Objects are created with `if_generation_match=0`, so an existing PDF is never overwritten. The
client retries uploads by itself, and a retry whose first attempt did land gets 412 Precondition
Failed: the object already there is then compared with ours (sha256 kept in its metadata, or
its MD5) so that a retry after a lost response succeeds instead of failing the job.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry
from google.cloud import storage
from google.cloud.storage import exceptions as storage_exceptions
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account

from quote_service.config import ConfigError, Settings
from quote_service.deliver.storage.base import (
    StorageConflict,
    StorageError,
    StoredObject,
    sha256_hex,
)

MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600  # the V4 signing limit
SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)
SHA256_METADATA = "sha256"

# What a flaky network, an overloaded service or expiring credentials look like.
_TRANSIENT = (
    api_exceptions.GoogleAPIError,
    google.auth.exceptions.GoogleAuthError,
    requests.RequestException,
    storage_exceptions.InvalidResponse,
    storage_exceptions.DataCorruption,
    OSError,
)

T = TypeVar("T")


class GCSStorage:
    """Objects in one bucket; `signing_credentials` sign URLs (None: the app streams PDFs)."""

    name = "gcs"

    def __init__(
        self,
        bucket: storage.Bucket,
        *,
        signing_credentials: google.auth.credentials.Credentials | None = None,
        signed_url_seconds: int = 900,
        timeout: float = 60.0,
        retry: Retry = DEFAULT_RETRY,
    ):
        if not 1 <= signed_url_seconds <= MAX_SIGNED_URL_SECONDS:
            raise ValueError(f"signed URL lifetime must be 1..{MAX_SIGNED_URL_SECONDS} seconds")
        self.bucket = bucket
        self.signing_credentials = signing_credentials
        self.signed_url_seconds = signed_url_seconds
        self.timeout = timeout  # per HTTP request
        self.retry = retry  # the client's own retries of transient failures, with a deadline

    @classmethod
    def from_settings(cls, settings: Settings) -> GCSStorage:
        """Build from settings; raise ConfigError for what would otherwise fail in every job.

        With STORAGE_EMULATOR_HOST set the client talks to the emulator anonymously, while
        URLs are still signed with the service-account file when one is configured.
        """
        if not settings.gcs_bucket:
            raise ConfigError("GCS_BUCKET is required when STORAGE_BACKEND=gcs")
        if settings.signed_url_seconds > MAX_SIGNED_URL_SECONDS:
            raise ConfigError(
                f"SIGNED_URL_SECONDS={settings.signed_url_seconds} is invalid: "
                f"GCS signed URLs live at most {MAX_SIGNED_URL_SECONDS} seconds (7 days)"
            )
        credentials, project = _load_credentials(settings.gcs_credentials_file)
        if os.environ.get("STORAGE_EMULATOR_HOST"):
            client = storage.Client(project=project)
        else:
            if credentials is None:
                credentials, project = _default_credentials()
            client = storage.Client(project=project, credentials=credentials)
        return cls(
            client.bucket(settings.gcs_bucket),
            signing_credentials=credentials,
            signed_url_seconds=settings.signed_url_seconds,
        )

    def put(self, key: str, data: bytes, *, content_type: str, filename: str) -> StoredObject:
        """Create the object at `key`, or accept the identical one a lost attempt created."""
        stored = StoredObject(key=key, sha256=sha256_hex(data), size=len(data))
        blob = self.bucket.blob(key)
        blob.metadata = {SHA256_METADATA: stored.sha256}
        blob.content_disposition = content_disposition("inline", filename)
        try:
            self._call(
                key,
                lambda: blob.upload_from_string(
                    data,
                    content_type=content_type,
                    if_generation_match=0,
                    timeout=self.timeout,
                    retry=self.retry,
                ),
            )
        except _PreconditionFailed:
            return self._existing_or_conflict(stored, data)
        return stored

    def stat(self, key: str) -> StoredObject | None:
        """The object at `key`, or None; objects stored without a sha256 are hashed here."""
        blob = self._call(
            key, lambda: self.bucket.get_blob(key, timeout=self.timeout, retry=self.retry)
        )
        if blob is None:
            return None
        digest = (blob.metadata or {}).get(SHA256_METADATA) or sha256_hex(self.get(key))
        return StoredObject(key=key, sha256=digest, size=blob.size or 0)

    def get(self, key: str) -> bytes:
        """The bytes at `key`, checksum-verified by the client; FileNotFoundError when absent."""
        blob = self.bucket.blob(key)
        try:
            return self._call(
                key, lambda: blob.download_as_bytes(timeout=self.timeout, retry=self.retry)
            )
        except _NotFound:
            raise FileNotFoundError(f"gs://{self.bucket.name}/{key}") from None

    def signed_url(self, key: str, *, filename: str) -> str | None:
        """A V4 GET URL valid for the configured lifetime, or None when nothing can sign
        (the emulator without a service-account file, or end-user credentials)."""
        signer = self._call(key, self._signer)
        if signer is None:
            return None
        blob = self.bucket.blob(key)
        return self._call(
            key,
            lambda: blob.generate_signed_url(
                version="v4",
                method="GET",
                expiration=datetime.timedelta(seconds=self.signed_url_seconds),
                response_disposition=content_disposition("inline", filename),
                **signer,
            ),
        )

    def _signer(self) -> dict[str, Any] | None:
        """Sign with the private key when the credentials hold one (a service-account file),
        else through the IAM signBlob API with the service account's access token (Compute
        Engine, Cloud Run and workload identity credentials have no key of their own)."""
        credentials = self.signing_credentials
        if credentials is None:
            return None
        if isinstance(credentials, google.auth.credentials.Signing):
            return {"credentials": credentials}
        if not credentials.valid:
            credentials.refresh(google.auth.transport.requests.Request())
        email = getattr(credentials, "service_account_email", None)
        if not email or not credentials.token:
            return None
        return {"service_account_email": email, "access_token": credentials.token}

    def _existing_or_conflict(self, stored: StoredObject, data: bytes) -> StoredObject:
        existing = self._call(
            stored.key,
            lambda: self.bucket.get_blob(stored.key, timeout=self.timeout, retry=self.retry),
        )
        if existing is None:
            raise StorageError(f"{stored.key}: upload refused by a precondition, yet no object")
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")
        if (existing.metadata or {}).get(SHA256_METADATA) == stored.sha256 or (
            existing.md5_hash == md5
        ):
            return stored
        raise StorageConflict(
            f"gs://{self.bucket.name}/{stored.key} already exists with other content"
        )

    def _call(self, key: str, operation: Callable[[], T]) -> T:
        """Run a client call, turning its many failure types into the storage errors."""
        try:
            return operation()
        except api_exceptions.PreconditionFailed as exc:
            raise _PreconditionFailed(str(exc)) from exc
        except api_exceptions.NotFound as exc:
            raise _NotFound(str(exc)) from exc
        except _TRANSIENT as exc:
            raise StorageError(f"gs://{self.bucket.name}/{key}: {exc}") from exc


class _PreconditionFailed(StorageError):
    """The object already exists (412 on if_generation_match=0)."""


class _NotFound(StorageError):
    """The object or the bucket does not exist."""


def content_disposition(disposition: str, filename: str) -> str:
    """A Content-Disposition value that survives quotes and non-ASCII names (RFC 6266)."""
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    value = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


def _load_credentials(path: str | None) -> tuple[google.auth.credentials.Credentials | None, Any]:
    """Service-account credentials from `path` (they hold the key that signs URLs).

    Other credential files (authorized_user, external_account) are left to Application
    Default Credentials, which read the same GOOGLE_APPLICATION_CREDENTIALS variable.
    """
    if not path:
        return None, None
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(info, dict):
            raise ValueError("expected a JSON object")
        if info.get("type") != "service_account":
            return None, None
        credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"GOOGLE_APPLICATION_CREDENTIALS={path!r} is invalid: {exc}") from None
    return credentials, info.get("project_id")


def _default_credentials() -> tuple[google.auth.credentials.Credentials, Any]:
    try:
        return google.auth.default(scopes=SCOPES)
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise ConfigError(
            f"GOOGLE_APPLICATION_CREDENTIALS is required when STORAGE_BACKEND=gcs: {exc}"
        ) from None
