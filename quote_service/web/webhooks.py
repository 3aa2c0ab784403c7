"""`POST /webhooks/sendgrid`: SendGrid's signed Event Webhook updates deliveries.

Unsigned or forged requests get 403. Events find their delivery through the `delivery_id`
custom arg the email carried, which also resolves deliveries parked as `unknown`. Duplicates
and out-of-order events change nothing (see pipeline.apply_provider_event).
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from quote_service import db, pipeline
from quote_service.app import services
from quote_service.deliver.mail import webhook
from quote_service.web.errors import json_error
from quote_service.web.params import whole_number

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
logger = logging.getLogger("quote_service.web")
MAX_AGE_SECONDS = 600


@bp.post("/sendgrid")
def sendgrid_events():
    public_key = services().settings.sendgrid_webhook_public_key
    if not public_key:
        return json_error(404, "the SendGrid webhook is not configured")
    payload = request.get_data(cache=False)
    if not webhook.verify(public_key, payload, request.headers.get(webhook.SIGNATURE_HEADER),
                          request.headers.get(webhook.TIMESTAMP_HEADER), max_age=MAX_AGE_SECONDS):
        logger.warning("refused an unsigned or forged SendGrid webhook request")
        return json_error(403, "invalid signature")
    try:
        events = webhook.parse_events(payload)
    except ValueError as exc:
        return json_error(400, str(exc))
    applied = 0
    with db.transaction(services().pool) as conn:
        for item in events:
            delivery_id = whole_number(str(item.get("delivery_id", "")))
            if delivery_id is None:
                continue  # not one of ours (or sent before custom args existed)
            message_id = str(item.get("sg_message_id", "")).split(".")[0] or None
            applied += pipeline.apply_provider_event(
                conn, delivery_id, str(item.get("event", "")), message_id,
                item.get("reason") or item.get("response"))
    return jsonify({"received": len(events), "applied": applied})
