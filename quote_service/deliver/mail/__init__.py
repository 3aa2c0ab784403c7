"""How emails leave: an outbox folder of .eml files, or SendGrid."""

from __future__ import annotations

from quote_service.config import Settings
from quote_service.deliver.mail.base import Mailer


def make_mailer(settings: Settings) -> Mailer:
    if settings.mail_backend == "sendgrid":
        from quote_service.deliver.mail.sendgrid import SendGridMailer

        return SendGridMailer.from_settings(settings)
    from quote_service.deliver.mail.outbox import OutboxMailer

    return OutboxMailer(settings.outbox_dir)
