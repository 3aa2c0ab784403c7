"""SendGrid's signed Event Webhook: proof that delivery events really come from SendGrid.

SendGrid signs `timestamp + body` with ECDSA P-256 / SHA-256 and sends the base64 DER signature
and the timestamp in two headers. The check is the sendgrid package's own `EventWebhook`
helper; this module adds what a web endpoint needs around it: missing or malformed headers are
a failed check rather than an exception, and an optional age limit refuses replayed requests.
Events may arrive more than once and `sg_event_id` may change between retries, so whatever
consumes them must be idempotent on its own terms (e.g. the delivery id in `custom_args`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def verify(
    public_key: str,
    payload: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    max_age: float | None = None,
    now: float | None = None,
) -> bool:
    """True when `signature` is SendGrid's signature of `timestamp + payload`.

    `public_key` is the verification key shown in SendGrid's Mail Settings (base64 DER, with
    or without PEM armour); a key that cannot be read raises ValueError, as that is a
    configuration mistake and not a forged request. With `max_age` (seconds), a timestamp
    older than that, or further than that in the future, fails the check too.
    """
    key = load_public_key(public_key)
    if not signature or not timestamp:
        return False
    now = time.time() if now is None else now
    if max_age is not None and not _is_recent(timestamp, max_age, now):
        return False
    try:
        base64.b64decode(signature, validate=True)
        text = payload.decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return bool(EventWebhook().verify_signature(text, signature, timestamp, public_key=key))


@functools.lru_cache(maxsize=8)
def load_public_key(public_key: str) -> ec.EllipticCurvePublicKey:
    """The key object for SendGrid's verification key; ValueError when it is not one."""
    body = "".join(
        line.strip()
        for line in public_key.strip().splitlines()
        if line.strip() and not line.startswith("-----")
    )
    try:
        key = EventWebhook().convert_public_key_to_ecdsa(body)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("SENDGRID_WEBHOOK_PUBLIC_KEY is not an elliptic-curve public key")
    return key


def parse_events(payload: bytes) -> list[dict[str, Any]]:
    """The events of a webhook request: a JSON array of objects, else ValueError."""
    events = json.loads(payload)
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ValueError("expected a JSON array of event objects")
    return events


def _is_recent(timestamp: str, max_age: float, now: float) -> bool:
    try:
        sent_at = int(timestamp.strip())
    except ValueError:
        return False
    return abs(now - sent_at) <= max_age
