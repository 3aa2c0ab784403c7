"""SendGridMailer's pure parts: the v3 payload, and what each answer of SendGrid means."""

from __future__ import annotations

import base64
import json
from email.utils import formatdate

import pytest

from quote_service.config import ConfigError, Settings
from quote_service.deliver.mail import make_mailer
from quote_service.deliver.mail.base import (
    MailRejected,
    MailRetryLater,
)
from quote_service.deliver.mail.sendgrid import (
    SendGridMailer,
    build_payload,
    error_for_status,
    error_messages,
    retry_delay,
)
from tests.samples import sample_email
from tests.support.fake_sendgrid import validate

NOW = 1_800_000_000.0


def test_payload_follows_the_v3_mail_send_format() -> None:
    payload = build_payload(sample_email())

    assert payload == {
        "personalizations": [{"to": [{"email": "buyer@example.com"}]}],
        "from": {"email": "quotes@northwind.example", "name": "Northwind Quotes"},
        "subject": "Quotation Q-2026-0017",
        "content": [
            {"type": "text/plain", "value": "Dear customer"},
            {"type": "text/html", "value": "<p>Dear customer</p>"},
        ],
        "attachments": [
            {
                "content": base64.b64encode(b"%PDF-1.7 data").decode(),
                "filename": "Q-2026-0017.pdf",
                "type": "application/pdf",
                "disposition": "attachment",
            }
        ],
        "custom_args": {"delivery_id": "17", "quotation_number": "Q-2026-0017"},
    }
    assert validate(payload) == []
    json.dumps(payload)  # what the client sends must serialise


def test_payload_without_attachments_or_custom_args_leaves_them_out() -> None:
    payload = build_payload(sample_email(attachments=(), custom_args={}))

    assert "attachments" not in payload and "custom_args" not in payload
    assert validate(payload) == []


def test_custom_args_are_always_strings() -> None:
    payload = build_payload(sample_email(custom_args={"delivery_id": 17}))

    assert payload["custom_args"] == {"delivery_id": "17"}


def test_rate_limit_waits_for_retry_after_seconds() -> None:
    error = error_for_status(429, b"", {"Retry-After": "7"}, NOW)

    assert isinstance(error, MailRetryLater)
    assert error.retry_after == 7.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "12"}, 12.0),
        ({"Retry-After": formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"X-RateLimit-Reset": str(int(NOW + 42))}, 42.0),
        ({"X-RateLimit-Reset": str(int(NOW - 5))}, 0.0),
        ({"Retry-After": "soon", "X-RateLimit-Reset": str(int(NOW + 3))}, 3.0),
        ({"Retry-After": "-4"}, 0.0),
        ({}, None),
        ({"X-RateLimit-Reset": "never"}, None),
    ],
)
def test_retry_delay(headers: dict[str, str], expected: float | None) -> None:
    assert retry_delay(headers, NOW) == expected


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_mean_retry_later(status: int) -> None:
    assert isinstance(error_for_status(status, b"oops", {}, NOW), MailRetryLater)


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_other_client_errors_are_rejections_with_sendgrids_messages(status: int) -> None:
    body = json.dumps(
        {
            "errors": [
                {"message": "Does not contain a valid address.", "field": "from.email"},
                {"message": "Permission denied, wrong credentials", "field": None, "help": None},
            ]
        }
    ).encode()

    error = error_for_status(status, body, {}, NOW)

    assert isinstance(error, MailRejected)
    assert str(error) == (
        f"SendGrid refused the message ({status}): from.email: Does not contain a valid "
        "address.; Permission denied, wrong credentials"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b"<html>Bad gateway</html>", "<html>Bad gateway</html>"), (b"", "no details"),
     (b'{"errors": "weird"}', '{"errors": "weird"}'), (None, "no details")],
)  # fmt: skip
def test_error_messages_fall_back_to_the_raw_body(body: bytes | None, expected: str) -> None:
    assert error_messages(body) == expected


def test_from_settings_uses_host_and_timeout() -> None:
    settings = Settings(
        mail_backend="sendgrid",
        sendgrid_api_key="SG.key",
        sendgrid_api_host="http://127.0.0.1:9999/",
        sendgrid_timeout=3.5,
    )

    mailer = make_mailer(settings)

    assert isinstance(mailer, SendGridMailer)
    assert mailer.client.host == "http://127.0.0.1:9999"
    assert mailer.timeout == 3.5
    assert (mailer.name, mailer.can_tell_unsent) == ("sendgrid", False)
    assert mailer.find_sent("delivery-17") is None


def test_from_settings_needs_an_api_key() -> None:
    with pytest.raises(ConfigError, match="SENDGRID_API_KEY"):
        SendGridMailer.from_settings(Settings(mail_backend="sendgrid"))
