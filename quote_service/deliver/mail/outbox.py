"""Emails written as .eml files into a folder instead of being sent: development and demos.

Each message is the file `<reference>.eml`, so a retried delivery finds its earlier message
instead of writing a second one, and an operator (or another process) can open it by reference.
Files are published whole with `write_new_file`, so a concurrent send of the same reference
cannot replace the file the first one wrote.
"""

from __future__ import annotations

import datetime
import re
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP, default
from email.utils import format_datetime, make_msgid
from pathlib import Path

from quote_service.deliver.atomic import write_new_file
from quote_service.deliver.mail.base import (
    MailOutcomeUnknown,
    MailRetryLater,
    OutgoingEmail,
    SendResult,
)

REFERENCE_HEADER = "X-Quote-Reference"
_SAFE_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class OutboxMailer:
    """One RFC 5322 file per message in `folder`."""

    name = "outbox"
    can_tell_unsent = True  # files are published atomically: no file means never sent

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, reference: str) -> Path:
        """Where the message for `reference` lives; ValueError for a name unsafe as a file."""
        if not _SAFE_REFERENCE.fullmatch(reference):
            raise ValueError(f"invalid email reference {reference!r} for an outbox file name")
        return self.folder / f"{reference}.eml"

    def send(self, email: OutgoingEmail) -> SendResult:
        """Write the message unless this reference was already written; return its Message-ID."""
        path = self.path(email.reference)
        earlier = self.find_sent(email.reference)
        if earlier is not None:
            return earlier
        message = build_message(email)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            published = write_new_file(path, message.as_bytes(policy=SMTP))
        except OSError as exc:  # nothing was published: trying again later is safe
            raise MailRetryLater(f"could not write {path}: {exc}") from exc
        if published:
            return SendResult(message_id=message["Message-ID"])
        earlier = self.find_sent(email.reference)  # a concurrent send of it won the race
        if earlier is None:
            raise MailOutcomeUnknown(f"{path} exists but has no Message-ID")
        return earlier

    def find_sent(self, reference: str) -> SendResult | None:
        """The Message-ID of the file already written for `reference`, if any."""
        try:
            with self.path(reference).open("rb") as file:
                headers = BytesHeaderParser(policy=default).parse(file)
        except (FileNotFoundError, NotADirectoryError):
            return None
        message_id = headers["Message-ID"]
        return SendResult(message_id=str(message_id)) if message_id else None


def build_message(email: OutgoingEmail) -> EmailMessage:
    """The message as a mail client would receive it: text and HTML, then the attachments."""
    message = EmailMessage()
    message["From"] = email.sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(datetime.datetime.now(datetime.UTC))
    message["Message-ID"] = make_msgid(domain=_domain(email.sender))
    message[REFERENCE_HEADER] = email.reference
    # Quoted-printable keeps the file 7-bit clean whatever script the customer writes in.
    message.set_content(email.text, cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", cte="quoted-printable")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


def _domain(address: str) -> str:
    """The sender's domain for the Message-ID (make_msgid's default asks DNS for our FQDN)."""
    domain = address.rpartition("@")[2].strip().strip(">")
    return domain or "localhost"
