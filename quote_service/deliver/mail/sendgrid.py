"""Emails sent through SendGrid's v3 Mail Send API.

What matters most is telling "nothing left" from "it left and the answer was lost", because
SendGrid has no idempotency key: a message re-sent after a lost answer reaches the customer
twice. The client (python_http_client over urllib) fails in three distinguishable places:

- an HTTP status: the provider answered; 202 is accepted, 429/5xx mean retry, other 4xx refuse;
- `URLError`, raised while connecting or writing the request (refused, DNS, TLS, connect
  timeout): the request never arrived whole, so retrying cannot duplicate it;
- anything raised after the request was written, while waiting for or reading the answer
  (read timeout, `RemoteDisconnected`, connection reset): the outcome is unknown.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
from collections.abc import Callable, Mapping
from email.utils import parseaddr, parsedate_to_datetime
from http.client import HTTPException
from typing import Any

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient

from quote_service.config import ConfigError, Settings
from quote_service.deliver.mail.base import (
    MailError,
    MailOutcomeUnknown,
    MailRejected,
    MailRetryLater,
    OutgoingEmail,
    SendResult,
)

# 408: the server gave up waiting for our request, so nothing was accepted.
_RETRYABLE_STATUSES = {408, 429}


class SendGridMailer:
    """Hands messages to SendGrid; each request is bounded by `timeout` seconds."""

    name = "sendgrid"
    can_tell_unsent = False  # SendGrid cannot be asked whether a message was sent

    def __init__(
        self,
        api_key: str,
        *,
        host: str = "https://api.sendgrid.com",
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
    ):
        self.client = SendGridAPIClient(api_key, host=host.rstrip("/"))
        self.timeout = timeout
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> SendGridMailer:
        if not settings.sendgrid_api_key:
            raise ConfigError("SENDGRID_API_KEY is required when MAIL_BACKEND=sendgrid")
        return cls(
            settings.sendgrid_api_key,
            host=settings.sendgrid_api_host,
            timeout=settings.sendgrid_timeout,
        )

    def send(self, email: OutgoingEmail) -> SendResult:
        """POST /v3/mail/send; raise the MailError subclass the outcome calls for."""
        try:
            # The API client sets no timeout of its own: without one a stalled connection
            # would hold the worker forever.
            response = self.client.client.mail.send.post(
                request_body=build_payload(email), timeout=self.timeout
            )
        except http_errors.HTTPError as exc:
            raise error_for_status(exc.status_code, exc.body, exc.headers, self.clock()) from exc
        except urllib.error.URLError as exc:  # before OSError: URLError is one
            raise MailRetryLater(f"SendGrid unreachable, nothing sent: {exc.reason}") from exc
        except (OSError, HTTPException) as exc:
            raise MailOutcomeUnknown(
                f"SendGrid request sent but no answer ({type(exc).__name__}: {exc})"
            ) from exc
        headers = _lower_keys(response.headers)
        return SendResult(message_id=headers.get("x-message-id", ""))

    def find_sent(self, reference: str) -> SendResult | None:
        """SendGrid has no lookup by our reference: the webhook's events are the only trace."""
        return None


def build_payload(email: OutgoingEmail) -> dict[str, Any]:
    """The v3 Mail Send body. Plain text comes before HTML, as the API requires."""
    payload: dict[str, Any] = {
        "personalizations": [{"to": [_address(email.to)]}],
        "from": _address(email.sender),
        "subject": email.subject,
        "content": [
            {"type": "text/plain", "value": email.text},
            {"type": "text/html", "value": email.html},
        ],
    }
    if email.attachments:
        payload["attachments"] = [
            {
                "content": base64.b64encode(attachment.data).decode("ascii"),
                "filename": attachment.filename,
                "type": attachment.content_type,
                "disposition": "attachment",
            }
            for attachment in email.attachments
        ]
    if email.custom_args:
        payload["custom_args"] = {str(k): str(v) for k, v in email.custom_args.items()}
    return payload


def _address(value: str) -> dict[str, str]:
    """SendGrid wants `{"email", "name"}`, not `Name <email>`."""
    name, email = parseaddr(value)
    return {"email": email or value, "name": name} if name else {"email": email or value}


def error_for_status(
    status: int, body: bytes | None, headers: Mapping[str, str] | None, now: float
) -> MailError:
    """The mail error an HTTP status calls for: retry later, or refused for good."""
    if status in _RETRYABLE_STATUSES or status >= 500:
        delay = retry_delay(headers or {}, now)
        return MailRetryLater(f"SendGrid answered {status}, nothing sent", retry_after=delay)
    return MailRejected(f"SendGrid refused the message ({status}): {error_messages(body)}")


def retry_delay(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait: `Retry-After` (seconds or HTTP date), else `X-RateLimit-Reset` (epoch)."""
    headers = _lower_keys(headers)
    retry_after = (headers.get("retry-after") or "").strip()
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
        except (TypeError, ValueError):
            pass
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    try:
        return max(0.0, float(reset) - now) if reset else None
    except ValueError:
        return None


def error_messages(body: bytes | None) -> str:
    """SendGrid's `errors[].message` (with the field they concern), or the raw body."""
    text = (body or b"").decode("utf-8", errors="replace")
    try:
        errors = json.loads(text)["errors"]
        messages = [f"{e['field']}: {e['message']}" if e.get("field") else str(e["message"]) for e in errors]
    except (ValueError, KeyError, TypeError, AttributeError):
        return text[:500] or "no details"
    return "; ".join(messages) or "no details"


def _lower_keys(headers: Mapping[str, str] | Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}
