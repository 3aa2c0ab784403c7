"""SendGrid's signed Event Webhook updates deliveries and resolves `unknown` ones."""

from __future__ import annotations

import base64
import dataclasses
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from quote_service.app import create_app
from quote_service.domain.validation import parse_submission
from quote_service.submit.service import submit
from tests.samples import sample_payload, submitter_id

pytestmark = pytest.mark.integration
KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def signed(body: bytes, key=KEY) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            "Content-Type": "application/json"}


@pytest.fixture
def hook_client(settings):
    app = create_app(dataclasses.replace(settings, sendgrid_webhook_public_key=PUBLIC),
                     {"TESTING": True})
    yield app.test_client()
    app.extensions["quote_service"].close()


@pytest.fixture
def delivery(services, conn):
    """A quotation whose email request left and whose answer was lost: `unknown`."""
    sub = parse_submission(sample_payload(), templates={"standard"})
    q = submit(services.pool, sub, user_id=submitter_id(services.pool)).quotation
    conn.execute("UPDATE quotations SET status = 'delivering', pdf_key = 'k', pdf_sha256 = 's' "
                 "WHERE id = %s", (q.id,))
    return conn.execute("INSERT INTO deliveries (quotation_id, recipient, state, provider) "
                        "VALUES (%s, 'buyer@example.com', 'unknown', 'sendgrid') RETURNING id",
                        (q.id,)).fetchone()[0], q.id


def post(client, events, headers=None):
    body = json.dumps(events).encode()
    return client.post("/webhooks/sendgrid", data=body, headers=headers or signed(body))


def state(conn, delivery_id):
    return conn.execute("SELECT d.state, d.provider_message_id, q.status FROM deliveries d "
                        "JOIN quotations q ON q.id = d.quotation_id WHERE d.id = %s",
                        (delivery_id,)).fetchone()


def test_unsigned_and_forged_requests_are_refused(hook_client, delivery, conn):
    delivery_id, _ = delivery
    events = [{"event": "delivered", "delivery_id": str(delivery_id), "sg_message_id": "m.1"}]
    body = json.dumps(events).encode()
    assert hook_client.post("/webhooks/sendgrid", data=body,
                            content_type="application/json").status_code == 403
    forged = signed(body, ec.generate_private_key(ec.SECP256R1()))
    assert post(hook_client, events, forged).status_code == 403
    tampered = signed(body)
    assert hook_client.post("/webhooks/sendgrid", data=body.replace(b"delivered", b"bounce"),
                            headers=tampered).status_code == 403
    assert state(conn, delivery_id) == ("unknown", None, "delivering")


def test_events_resolve_an_unknown_delivery_and_tolerate_duplicates(hook_client, delivery, conn):
    delivery_id, quotation_id = delivery
    processed = {"event": "processed", "delivery_id": str(delivery_id),
                 "quotation_id": str(quotation_id), "sg_message_id": "abc123.filter0001"}
    response = post(hook_client, [processed])
    assert response.status_code == 200 and response.get_json()["applied"] == 1
    assert state(conn, delivery_id) == ("processed", "abc123", "sent")

    delivered = {**processed, "event": "delivered"}
    assert post(hook_client, [delivered, delivered, processed]).get_json()["applied"] == 1
    assert state(conn, delivery_id) == ("delivered", "abc123", "sent")
    kinds = [r[0] for r in conn.execute(
        "SELECT kind FROM quotation_events WHERE quotation_id = %s ORDER BY id", (quotation_id,))]
    assert kinds[-3:] == ["sent", "delivery_processed", "delivery_delivered"]


def test_events_for_others_are_ignored(hook_client, delivery):
    response = post(hook_client, [{"event": "delivered"}, {"event": "open", "delivery_id": "1"},
                                  {"event": "delivered", "delivery_id": "999999"}])
    assert response.status_code == 200 and response.get_json()["applied"] == 0


def test_not_configured_is_404(client):
    assert client.post("/webhooks/sendgrid", data=b"[]").status_code == 404
