"""The email that carries a quotation: plain text and HTML bodies, the PDF attached, a link."""

from __future__ import annotations

from html import escape

from quote_service.config import Settings
from quote_service.deliver.mail.base import Attachment, OutgoingEmail
from quote_service.domain.model import Delivery, Quotation
from quote_service.domain.money import format_amount


def compose(settings: Settings, quotation: Quotation, delivery: Delivery, pdf: bytes,
            link: str) -> OutgoingEmail:
    """`link` is the delivery's own (links.issue), written before this email leaves."""
    total = f"{format_amount(quotation.total, quotation.currency)} {quotation.currency}"
    valid = quotation.valid_until.isoformat()
    company = settings.company_name
    text = (
        f"Dear {quotation.customer_name},\n\n"
        f"please find attached our quotation {quotation.number} for a total of {total}, "
        f"valid until {valid}.\n\n"
        f"You can also download it here:\n{link}\n\n"
        f"Kind regards,\n{company}\n"
    )
    html = (
        f"<p>Dear {escape(quotation.customer_name)},</p>"
        f"<p>please find attached our quotation <strong>{escape(quotation.number)}</strong> "
        f"for a total of <strong>{escape(total)}</strong>, valid until {escape(valid)}.</p>"
        f'<p><a href="{escape(link)}">Download the quotation (PDF)</a></p>'
        f"<p>Kind regards,<br>{escape(company)}</p>"
    )
    return OutgoingEmail(
        reference=delivery.reference,
        sender=settings.mail_from,
        to=delivery.recipient,
        subject=f"Quotation {quotation.number} from {company}",
        text=text,
        html=html,
        attachments=(Attachment(quotation.pdf_filename, "application/pdf", pdf),),
        custom_args={"quotation_id": str(quotation.id), "delivery_id": str(delivery.id),
                     "quotation_number": quotation.number},
    )
