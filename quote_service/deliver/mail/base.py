"""The mail interface and the errors that decide what happens to a delivery.

- `MailRetryLater`: nothing was accepted (429, 5xx, connection refused): retry with backoff.
- `MailRejected`: the provider refused the message for good (400-class): fail, never retry.
- `MailOutcomeUnknown`: the request left and no answer came back (timeout, dropped connection):
  the message may or may not have been sent, so it is parked for reconciliation, never re-sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class OutgoingEmail:
    reference: str  # unique per delivery, e.g. "delivery-17": the backend's idempotency handle
    sender: str
    to: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()
    custom_args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    message_id: str


class MailError(Exception):
    """Base of the mail errors."""


class MailRetryLater(MailError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class MailRejected(MailError):
    """The provider refused the message; retrying would not help."""


class MailOutcomeUnknown(MailError):
    """The request left but its answer was lost: it may have been sent."""


class Mailer(Protocol):
    name: str
    # True when `find_sent` returning None proves the message never left (the outbox writes
    # atomically); False when the backend cannot know (SendGrid has no idempotency lookup).
    can_tell_unsent: bool

    def send(self, email: OutgoingEmail) -> SendResult:
        """Hand the message over; raise one of the MailError subclasses on failure."""

    def find_sent(self, reference: str) -> SendResult | None:
        """The result of an earlier send of `reference` if this backend can know it, else None."""
