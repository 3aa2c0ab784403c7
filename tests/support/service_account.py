"""A Google service-account key made on the spot, so URL signing is tested without Google."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_EMAIL = "quote-service@test-project.iam.gserviceaccount.com"


@dataclass(frozen=True)
class ServiceAccount:
    path: Path
    client_email: str
    public_key: rsa.RSAPublicKey


def make_service_account(folder: Path) -> ServiceAccount:
    """Write a service-account JSON file with a fresh 2048-bit RSA key into `folder`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    info = {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "100000000000000000000",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = folder / "service-account.json"
    path.write_text(json.dumps(info))
    return ServiceAccount(path=path, client_email=CLIENT_EMAIL, public_key=key.public_key())
