"""GCSStorage without a server: configuration, and V4 signed URLs checked against the key.

The signature is verified by rebuilding the V4 string-to-sign from the URL alone, following
Google's published algorithm, and checking it with the service account's public key: a URL
that Google would refuse (wrong canonical form, wrong key, wrong lifetime) fails here too.
"""

from __future__ import annotations

import binascii
import datetime
import hashlib
import json
import urllib.parse
from pathlib import Path

import google.auth
import google.auth.credentials
import google.auth.exceptions
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.cloud.storage import _signing

from quote_service.config import ConfigError, Settings
from quote_service.deliver.storage import make_storage
from quote_service.deliver.storage.gcs import GCSStorage, content_disposition
from tests.support.service_account import ServiceAccount, make_service_account

KEY = "quotations/2026/Q-2026-0017-v1.pdf"


@pytest.fixture
def account(tmp_path: Path) -> ServiceAccount:
    return make_service_account(tmp_path)


@pytest.fixture(autouse=True)
def no_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)


def gcs_settings(**overrides) -> Settings:
    return Settings(storage_backend="gcs", gcs_bucket="quotes-prod", **overrides)


def test_signed_url_is_v4_for_the_configured_lifetime(account: ServiceAccount) -> None:
    storage = GCSStorage.from_settings(
        gcs_settings(gcs_credentials_file=str(account.path), signed_url_seconds=600)
    )

    url = storage.signed_url(KEY, filename="Q-2026-0017.pdf")

    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert (parts.scheme, parts.netloc) == ("https", "storage.googleapis.com")
    assert parts.path == f"/quotes-prod/{KEY}"
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert query["X-Goog-Expires"] == "600"
    assert query["X-Goog-SignedHeaders"] == "host"
    assert query["X-Goog-Credential"].startswith(f"{account.client_email}/")
    assert query["X-Goog-Credential"].endswith("/auto/storage/goog4_request")
    assert query["response-content-disposition"] == 'inline; filename="Q-2026-0017.pdf"'
    assert_signed_by(url, account.public_key)


def test_signed_url_is_signed_with_the_file_even_when_the_emulator_is_used(
    account: ServiceAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
    storage = GCSStorage.from_settings(gcs_settings(gcs_credentials_file=str(account.path)))

    url = storage.signed_url(KEY, filename="Q-2026-0017.pdf")

    assert isinstance(
        storage.bucket.client._credentials, google.auth.credentials.AnonymousCredentials
    )
    assert url.startswith(f"http://127.0.0.1:9/quotes-prod/{KEY}?")
    assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["X-Goog-Expires"] == "900"
    assert_signed_by(url, account.public_key)


def test_a_forged_signature_does_not_verify(account: ServiceAccount) -> None:
    """The check itself must be able to fail."""
    storage = GCSStorage.from_settings(gcs_settings(gcs_credentials_file=str(account.path)))
    url = storage.signed_url(KEY, filename="Q-2026-0017.pdf")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()

    with pytest.raises(AssertionError):
        assert_signed_by(url, other)
    with pytest.raises(AssertionError):
        assert_signed_by(
            url.replace("X-Goog-Expires=900", "X-Goog-Expires=901"), account.public_key
        )


def test_without_anything_to_sign_with_the_app_streams_the_pdf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
    storage = GCSStorage.from_settings(gcs_settings())

    assert storage.signed_url(KEY, filename="Q-2026-0017.pdf") is None


def test_keyless_service_account_credentials_sign_through_iam(
    account: ServiceAccount, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Cloud Run and Compute Engine credentials have no private key: IAM signBlob signs."""
    private_key = _private_key(account)
    calls = []

    def fake_sign_blob(message, access_token, service_account_email, universe_domain):
        calls.append((access_token, service_account_email))
        signature = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return binascii.b2a_base64(signature).decode()

    monkeypatch.setattr(_signing, "_sign_message", fake_sign_blob)
    storage = GCSStorage.from_settings(gcs_settings(gcs_credentials_file=str(account.path)))
    storage.signing_credentials = MetadataServerCredentials(account.client_email)

    url = storage.signed_url(KEY, filename="Q-2026-0017.pdf")

    assert calls == [("token-from-metadata", account.client_email)]
    assert_signed_by(url, account.public_key)


def test_signed_url_lifetime_beyond_seven_days_is_a_configuration_error(
    account: ServiceAccount,
) -> None:
    settings = gcs_settings(gcs_credentials_file=str(account.path), signed_url_seconds=604801)

    with pytest.raises(ConfigError, match="SIGNED_URL_SECONDS"):
        GCSStorage.from_settings(settings)


@pytest.mark.parametrize("content", [None, "not json", "[1, 2]"])
def test_unreadable_credentials_file_is_a_configuration_error(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "credentials.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(ConfigError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        GCSStorage.from_settings(gcs_settings(gcs_credentials_file=str(path)))


def test_missing_default_credentials_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_credentials(scopes=None):
        raise google.auth.exceptions.DefaultCredentialsError("none found")

    monkeypatch.setattr(google.auth, "default", no_credentials)

    with pytest.raises(ConfigError, match="GOOGLE_APPLICATION_CREDENTIALS is required"):
        GCSStorage.from_settings(gcs_settings())


def test_make_storage_builds_the_gcs_backend(account: ServiceAccount) -> None:
    storage = make_storage(gcs_settings(gcs_credentials_file=str(account.path)))

    assert isinstance(storage, GCSStorage)
    assert storage.name == "gcs"
    assert storage.bucket.name == "quotes-prod"
    assert storage.bucket.client.project == "test-project"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("Q-2026-0017.pdf", 'inline; filename="Q-2026-0017.pdf"'),
        ('a"b\\c.pdf', 'inline; filename="a_b_c.pdf"; filename*=UTF-8\'\'a%22b%5Cc.pdf'),
        ("Angebot-Müller.pdf",
         "inline; filename=\"Angebot-M_ller.pdf\"; filename*=UTF-8''Angebot-M%C3%BCller.pdf"),
    ],
)  # fmt: skip
def test_content_disposition(filename: str, expected: str) -> None:
    assert content_disposition("inline", filename) == expected


class MetadataServerCredentials(google.auth.credentials.Credentials):
    """Like Compute Engine credentials: a token and an email, no private key."""

    def __init__(self, email: str):
        super().__init__()
        self.service_account_email = email

    def refresh(self, request) -> None:
        self.token = "token-from-metadata"
        self.expiry = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(
            hours=1
        )


def _private_key(account: ServiceAccount):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    info = json.loads(account.path.read_text())
    return load_pem_private_key(info["private_key"].encode(), password=None)


def assert_signed_by(url: str, public_key: rsa.RSAPublicKey) -> None:
    """Rebuild the V4 string-to-sign from `url` and verify its X-Goog-Signature.

    https://cloud.google.com/storage/docs/authentication/signatures: the canonical request
    is method, path, sorted percent-encoded query (without the signature), canonical headers
    (only `host` here), signed headers and UNSIGNED-PAYLOAD; the string to sign is the
    algorithm, timestamp, credential scope and the canonical request's SHA-256.
    """
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    signature = dict(query)["X-Goog-Signature"]
    params = sorted((k, v) for k, v in query if k != "X-Goog-Signature")
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in params
    )
    fields = dict(params)
    assert fields["X-Goog-SignedHeaders"] == "host"
    canonical_request = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{parts.netloc}\n", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = fields["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            fields["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    try:
        public_key.verify(
            bytes.fromhex(signature), string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except Exception as exc:
        raise AssertionError(f"signature does not verify: {exc!r}") from exc
