"""OutboxMailer: one RFC 5322 file per reference, written once, readable by any mail client."""

from __future__ import annotations

import email
import os
from email.policy import default
from pathlib import Path

import pytest

from quote_service.config import Settings
from quote_service.deliver.mail import make_mailer
from quote_service.deliver.mail import outbox as outbox_module
from quote_service.deliver.mail.base import Attachment, MailRetryLater, OutgoingEmail
from quote_service.deliver.mail.outbox import OutboxMailer

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8


def quotation_email(reference: str = "delivery-17", **changes) -> OutgoingEmail:
    fields = dict(
        reference=reference,
        sender="Northwind Quotes <quotes@northwind.example>",
        to="Zoë Müller <buyer@example.com>",
        subject="Quotation Q-2026-0017 from Northwind — Grüße",
        text="Dear Zoë,\nplease find attached our quotation.\n",
        html="<p>Dear Zoë,</p><p>please find attached our quotation.</p>",
        attachments=(Attachment("Q-2026-0017.pdf", "application/pdf", PDF),),
        custom_args={"delivery_id": "17"},
    )
    fields.update(changes)
    return OutgoingEmail(**fields)


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxMailer:
    return OutboxMailer(tmp_path / "outbox")


def read(path: Path) -> email.message.EmailMessage:
    """Parse the file as a mail client would (Python keeps the CRLFs of a CRLF file)."""
    return email.message_from_bytes(path.read_bytes().replace(b"\r\n", b"\n"), policy=default)


def test_send_writes_one_complete_message_named_after_the_reference(outbox: OutboxMailer) -> None:
    result = outbox.send(quotation_email())

    path = outbox.folder / "delivery-17.eml"
    message = read(path)
    assert message["Message-ID"] == result.message_id
    assert result.message_id.startswith("<") and result.message_id.endswith("@northwind.example>")
    assert message["From"] == "Northwind Quotes <quotes@northwind.example>"
    assert message["To"] == "Zoë Müller <buyer@example.com>"
    assert message["Subject"] == "Quotation Q-2026-0017 from Northwind — Grüße"
    assert message["X-Quote-Reference"] == "delivery-17"
    assert message["Date"].datetime.tzinfo is not None
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)).get_content() == "Dear Zoë,\nplease find attached our quotation.\n"
    assert "<p>Dear Zoë,</p>" in message.get_body(("html",)).get_content()
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "Q-2026-0017.pdf"
    assert attachment.get_content() == PDF


def test_the_file_is_rfc_5322_with_crlf_line_endings(outbox: OutboxMailer) -> None:
    outbox.send(quotation_email())

    raw = (outbox.folder / "delivery-17.eml").read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.isascii()  # non-ASCII headers and bodies are encoded


def test_a_second_send_of_the_reference_writes_nothing_and_returns_the_same_id(
    outbox: OutboxMailer,
) -> None:
    first = outbox.send(quotation_email())
    before = (outbox.folder / "delivery-17.eml").read_bytes()

    again = outbox.send(quotation_email(subject="changed meanwhile"))

    assert again == first
    assert (outbox.folder / "delivery-17.eml").read_bytes() == before
    assert os.listdir(outbox.folder) == ["delivery-17.eml"]


def test_when_a_concurrent_send_wins_the_race_its_message_id_is_returned(
    outbox: OutboxMailer, monkeypatch: pytest.MonkeyPatch
) -> None:
    competitor = OutboxMailer(outbox.folder)
    real_write = outbox_module.write_new_file

    def lose_the_race(path: Path, data: bytes) -> bool:
        monkeypatch.setattr(outbox_module, "write_new_file", real_write)
        winner.append(competitor.send(quotation_email(subject="the other process")))
        return real_write(path, data)

    winner: list = []
    monkeypatch.setattr(outbox_module, "write_new_file", lose_the_race)

    result = outbox.send(quotation_email())

    assert result == winner[0]
    assert read(outbox.folder / "delivery-17.eml")["Subject"] == "the other process"
    assert os.listdir(outbox.folder) == ["delivery-17.eml"]


def test_other_references_get_their_own_files_and_ids(outbox: OutboxMailer) -> None:
    first = outbox.send(quotation_email("delivery-17"))
    second = outbox.send(quotation_email("delivery-18"))

    assert first != second
    assert sorted(os.listdir(outbox.folder)) == ["delivery-17.eml", "delivery-18.eml"]


def test_find_sent(outbox: OutboxMailer) -> None:
    assert outbox.find_sent("delivery-17") is None

    result = outbox.send(quotation_email())

    assert outbox.find_sent("delivery-17") == result
    assert outbox.find_sent("delivery-18") is None


def test_the_outbox_knows_when_nothing_was_sent(outbox: OutboxMailer) -> None:
    assert outbox.can_tell_unsent is True
    assert outbox.name == "outbox"


@pytest.mark.parametrize("reference", ["", "../evil", "a/b", ".hidden", "x\x00y", "a b"])
def test_references_unsafe_as_file_names_are_refused(outbox: OutboxMailer, reference: str) -> None:
    with pytest.raises(ValueError, match="invalid email reference"):
        outbox.send(quotation_email(reference))


def test_an_unwritable_outbox_means_retry_later(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    outbox = OutboxMailer(tmp_path / "file" / "outbox")

    with pytest.raises(MailRetryLater, match="could not write"):
        outbox.send(quotation_email())


def test_a_message_without_attachments_is_multipart_alternative(outbox: OutboxMailer) -> None:
    outbox.send(quotation_email(attachments=()))

    message = read(outbox.folder / "delivery-17.eml")
    assert message.get_content_type() == "multipart/alternative"
    assert list(message.iter_attachments()) == []


def test_make_mailer_builds_the_outbox(tmp_path: Path) -> None:
    mailer = make_mailer(Settings(outbox_dir=tmp_path))

    assert isinstance(mailer, OutboxMailer)
    assert mailer.folder == tmp_path
