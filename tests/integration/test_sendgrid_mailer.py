"""The real SendGridMailer (sendgrid + python_http_client + urllib) against a local fake API.

Each outcome a delivery can meet is produced on the wire, so what is tested is how the client
libraries actually raise, not how we assume they do.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from quote_service.deliver.mail.base import (
    Attachment,
    MailOutcomeUnknown,
    MailRejected,
    MailRetryLater,
    OutgoingEmail,
)
from quote_service.deliver.mail.sendgrid import SendGridMailer, build_payload
from tests.samples import sample_email
from tests.support.fake_sendgrid import (
    BAD_REQUEST,
    DROP,
    HANG,
    RATE_LIMIT,
    RESET,
    SERVER_ERROR,
    FakeSendGrid,
    running_fake_sendgrid,
)
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64
TIMEOUT = 0.5


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with running_fake_sendgrid() as fake:
        yield fake


@pytest.fixture
def mailer(sendgrid: FakeSendGrid) -> SendGridMailer:
    return SendGridMailer(sendgrid.api_key, host=sendgrid.url, timeout=TIMEOUT)


def quotation_email(**changes) -> OutgoingEmail:
    """With a PDF large enough that its base64 spans many lines."""
    return sample_email(**{"attachments": (Attachment("Q-2026-0017.pdf", "application/pdf",
                                                      PDF),), **changes})


def test_accepted_message_returns_sendgrids_message_id(
    mailer: SendGridMailer, sendgrid: FakeSendGrid
) -> None:
    result = mailer.send(quotation_email())

    assert result.message_id == sendgrid.message_ids[0]
    (message,) = sendgrid.messages
    assert message["personalizations"] == [{"to": [{"email": "buyer@example.com"}]}]
    assert message["from"] == {"email": "quotes@northwind.example", "name": "Northwind Quotes"}
    assert [c["type"] for c in message["content"]] == ["text/plain", "text/html"]
    (attachment,) = message["attachments"]
    assert base64.b64decode(attachment["content"]) == PDF
    assert message["custom_args"] == {"delivery_id": "17", "quotation_number": "Q-2026-0017"}


def test_a_payload_sendgrid_would_refuse_is_rejected_with_its_reasons(
    mailer: SendGridMailer, sendgrid: FakeSendGrid
) -> None:
    with pytest.raises(MailRejected) as raised:
        mailer.send(quotation_email(to="not-an-address", subject=" "))

    assert "(400)" in str(raised.value)
    assert "personalizations.0.to.0.email: Does not contain a valid address." in str(raised.value)
    assert "subject: The subject is required." in str(raised.value)
    assert sendgrid.messages == []


def test_a_refusal_is_a_rejection(mailer: SendGridMailer, sendgrid: FakeSendGrid) -> None:
    sendgrid.reply_next(BAD_REQUEST, message="The from address does not match a verified Sender")

    with pytest.raises(MailRejected, match="does not match a verified Sender"):
        mailer.send(quotation_email())


def test_a_wrong_api_key_is_a_rejection(sendgrid: FakeSendGrid) -> None:
    mailer = SendGridMailer("SG.wrong", host=sendgrid.url, timeout=TIMEOUT)

    with pytest.raises(MailRejected, match=r"\(401\).*authorization grant is invalid"):
        mailer.send(quotation_email())


def test_rate_limiting_means_retry_after_the_advertised_delay(
    mailer: SendGridMailer, sendgrid: FakeSendGrid
) -> None:
    sendgrid.reply_next(RATE_LIMIT, retry_after="17")

    with pytest.raises(MailRetryLater, match="429") as raised:
        mailer.send(quotation_email())

    assert raised.value.retry_after == 17.0
    assert sendgrid.messages == []


def test_rate_limit_reset_time_is_used_without_retry_after(
    mailer: SendGridMailer, sendgrid: FakeSendGrid
) -> None:
    sendgrid.reply_next(RATE_LIMIT, retry_after=None, rate_limit_reset=int(time.time()) + 60)

    with pytest.raises(MailRetryLater) as raised:
        mailer.send(quotation_email())

    assert 55 <= raised.value.retry_after <= 60


def test_a_server_error_means_retry_later_and_the_retry_goes_through(
    mailer: SendGridMailer, sendgrid: FakeSendGrid
) -> None:
    sendgrid.reply_next(SERVER_ERROR)

    with pytest.raises(MailRetryLater, match="500"):
        mailer.send(quotation_email())
    assert mailer.send(quotation_email()).message_id == sendgrid.message_ids[0]
    assert len(sendgrid.messages) == 1


def test_no_answer_within_the_timeout_is_an_unknown_outcome(
    mailer: SendGridMailer, sendgrid: FakeSendGrid
) -> None:
    sendgrid.reply_always(HANG, hang_seconds=5)
    started = time.monotonic()

    with pytest.raises(MailOutcomeUnknown, match="timed out"):
        mailer.send(quotation_email())

    assert time.monotonic() - started < TIMEOUT + 1.5
    assert sendgrid.requests == 1


def test_a_connection_closed_after_the_request_is_an_unknown_outcome(
    mailer: SendGridMailer, sendgrid: FakeSendGrid
) -> None:
    sendgrid.reply_next(DROP)

    with pytest.raises(MailOutcomeUnknown, match="RemoteDisconnected"):
        mailer.send(quotation_email())
    assert sendgrid.requests == 1


def test_a_connection_reset_instead_of_an_answer_is_an_unknown_outcome(
    mailer: SendGridMailer, sendgrid: FakeSendGrid
) -> None:
    sendgrid.reply_next(RESET)

    with pytest.raises(MailOutcomeUnknown, match="ConnectionResetError"):
        mailer.send(quotation_email())


def test_a_refused_connection_means_nothing_left_so_retry_later() -> None:
    mailer = SendGridMailer("SG.key", host=f"http://127.0.0.1:{free_port()}", timeout=TIMEOUT)

    with pytest.raises(MailRetryLater, match="Connection refused"):
        mailer.send(quotation_email())


def test_an_unknown_host_means_nothing_left_so_retry_later() -> None:
    mailer = SendGridMailer("SG.key", host="http://sendgrid.invalid", timeout=TIMEOUT)

    with pytest.raises(MailRetryLater, match="unreachable"):
        mailer.send(quotation_email())


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("from"), "from.email"),
        (lambda p: p["content"].reverse(), "content"),
        (lambda p: p["attachments"][0].update(content="not base64!"), "attachments.0.content"),
        (lambda p: p["attachments"][0].pop("filename"), "attachments.0.filename"),
        (lambda p: p["custom_args"].update(delivery_id=17), "custom_args"),
        (lambda p: p.update(personalizations=[]), "personalizations"),
    ],
)
def test_the_fake_refuses_what_sendgrid_refuses(sendgrid: FakeSendGrid, mutate, field: str) -> None:
    """The fake is only worth its checks: a malformed payload must come back as 400."""
    payload = build_payload(quotation_email())
    mutate(payload)
    request = urllib.request.Request(
        f"{sendgrid.url}/v3/mail/send",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {sendgrid.api_key}", "Content-Type": "application/json"},
        method="POST",
    )

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)

    assert raised.value.code == 400
    errors = json.loads(raised.value.read())["errors"]
    assert field in [error["field"] for error in errors]
    assert all(set(error) == {"message", "field", "help"} for error in errors)
    raised.value.close()
