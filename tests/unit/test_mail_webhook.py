"""Signed Event Webhook checks, with a P-256 key pair made here and signed as SendGrid signs:
ECDSA with SHA-256 over the timestamp header followed by the raw body, base64 DER."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from quote_service.deliver.mail.webhook import load_public_key, parse_events, verify

NOW = 1_800_000_000
TIMESTAMP = str(NOW)
EVENTS = [
    {
        "email": "buyer@example.com",
        "event": "delivered",
        "timestamp": NOW - 3,
        "sg_event_id": "ZGVsaXZlcmVkLTAtMjQ",
        "sg_message_id": "fake-0000.filterdrecv-test.0",
        "delivery_id": "17",
        "quotation_number": "Q-2026-0017",
    },
    {"email": "buyer@example.com", "event": "open", "timestamp": NOW, "delivery_id": "17"},
]
PAYLOAD = (json.dumps(EVENTS, ensure_ascii=False) + "\r\n").encode()


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sendgrid_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The form SendGrid shows in Mail Settings: base64 DER, no PEM armour."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sign(key: ec.EllipticCurvePrivateKey, payload: bytes, timestamp: str = TIMESTAMP) -> str:
    signature = key.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def public_key(key: ec.EllipticCurvePrivateKey) -> str:
    return sendgrid_public_key(key)


def test_a_request_signed_by_sendgrid_verifies(key, public_key: str) -> None:
    assert verify(public_key, PAYLOAD, sign(key, PAYLOAD), TIMESTAMP) is True


def test_the_key_may_be_pasted_as_pem(key, public_key: str) -> None:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    assert verify(pem.decode(), PAYLOAD, sign(key, PAYLOAD), TIMESTAMP) is True


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [(None, TIMESTAMP), ("", TIMESTAMP), ("sig", None), ("sig", ""), (None, None)],
)
def test_an_unsigned_request_fails(public_key: str, signature, timestamp) -> None:
    assert verify(public_key, PAYLOAD, signature, timestamp) is False


def test_a_signature_by_another_key_fails(public_key: str) -> None:
    assert verify(public_key, PAYLOAD, sign(new_key(), PAYLOAD), TIMESTAMP) is False


def test_a_tampered_body_fails(key, public_key: str) -> None:
    tampered = PAYLOAD.replace(b"delivered", b"bounce")

    assert verify(public_key, tampered, sign(key, PAYLOAD), TIMESTAMP) is False


def test_a_changed_timestamp_fails(key, public_key: str) -> None:
    assert verify(public_key, PAYLOAD, sign(key, PAYLOAD), str(NOW + 1)) is False


@pytest.mark.parametrize(
    "signature",
    ["not base64 at all!", base64.b64encode(b"not a DER signature").decode(), "AAAA"],
)
def test_garbage_signatures_fail_instead_of_raising(public_key: str, signature: str) -> None:
    assert verify(public_key, PAYLOAD, signature, TIMESTAMP) is False


def test_a_body_that_is_not_utf8_fails(key, public_key: str) -> None:
    body = b"\xff\xfe not utf-8"

    assert verify(public_key, body, sign(key, body), TIMESTAMP) is False


def test_non_ascii_events_verify(key, public_key: str) -> None:
    body = json.dumps([{"event": "delivered", "email": "zoë@例え.jp"}], ensure_ascii=False)

    assert verify(public_key, body.encode(), sign(key, body.encode()), TIMESTAMP) is True


def test_an_age_limit_refuses_old_and_future_requests(key, public_key: str) -> None:
    def check(timestamp: str) -> bool:
        signature = sign(key, PAYLOAD, timestamp)
        return verify(public_key, PAYLOAD, signature, timestamp, max_age=300, now=NOW)

    assert check(str(NOW - 299)) is True
    assert check(str(NOW - 301)) is False
    assert check(str(NOW + 301)) is False
    assert check("yesterday") is False


@pytest.mark.parametrize("bad_key", ["", "not a key", base64.b64encode(b"x" * 91).decode()])
def test_an_unreadable_public_key_is_a_configuration_error(bad_key: str) -> None:
    with pytest.raises(ValueError, match="SENDGRID_WEBHOOK_PUBLIC_KEY"):
        verify(bad_key, PAYLOAD, "c2ln", TIMESTAMP)


def test_an_rsa_key_is_refused() -> None:
    der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    with pytest.raises(ValueError, match="not an elliptic-curve"):
        load_public_key(base64.b64encode(der).decode())


def test_parse_events_returns_the_event_objects() -> None:
    assert parse_events(PAYLOAD) == EVENTS


@pytest.mark.parametrize("body", [b"", b"{", b'{"event": "open"}', b"[1, 2]", b'["open"]'])
def test_parse_events_refuses_anything_but_an_array_of_objects(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_events(body)
