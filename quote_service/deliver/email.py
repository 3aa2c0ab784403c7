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
        f"please find attached our quotation {quotation.label} for a total of {total}, "
        f"valid until {valid}.\n\n"
        f"To see it online, and to accept or decline it:\n{link}\n\n"
        f"Kind regards,\n{company}\n"
    )
    html = (
        f"<p>Dear {escape(quotation.customer_name)},</p>"
        f"<p>please find attached our quotation <strong>{escape(quotation.label)}</strong> "
        f"for a total of <strong>{escape(total)}</strong>, valid until {escape(valid)}.</p>"
        f'<p><a href="{escape(link)}">See the quotation online, and accept or decline it</a></p>'
        f"<p>Kind regards,<br>{escape(company)}</p>"
    )
    return OutgoingEmail(
        reference=delivery.reference,
        sender=settings.mail_from,
        to=delivery.recipient,
        subject=f"Quotation {quotation.label} from {company}",
        text=text,
        html=html,
        attachments=(Attachment(quotation.pdf_filename, "application/pdf", pdf),),
        custom_args={"quotation_id": str(quotation.id), "delivery_id": str(delivery.id),
                     "quotation_number": quotation.number},
    )


def compose_answer_email(settings: Settings, quotation: Quotation, delivery: Delivery
                         ) -> OutgoingEmail:
    """The email about the customer's answer: a confirmation to the customer, or a notice to
    the sales user who submitted the quotation, with a link to its page."""
    verb = "accepted" if quotation.response_kind == "accepted" else "declined"
    total = f"{format_amount(quotation.total, quotation.currency)} {quotation.currency}"
    name, company = quotation.response_name or "", settings.company_name
    if delivery.kind == "answer_confirmation":
        subject = f"You {verb} quotation {quotation.label} from {company}"
        paragraphs = [f"Dear {name},",
                      f"thank you: we have recorded that you {verb} our quotation "
                      f"{quotation.label} for a total of {total}."]
        closing = f"Kind regards,\n{company}"
    else:
        subject = f"Quotation {quotation.label} was {verb} by {name}"
        paragraphs = [f"{name} ({quotation.customer_name} <{quotation.customer_email}>) "
                      f"{verb} quotation {quotation.label} for a total of {total}."]
        closing = f"{settings.public_base_url}/quotations/{quotation.id}"
    if quotation.response_comment:
        paragraphs.append(f"Their comment:\n{quotation.response_comment}")
    paragraphs.append(closing)
    return OutgoingEmail(
        reference=delivery.reference, sender=settings.mail_from, to=delivery.recipient,
        subject=subject, text="\n\n".join(paragraphs) + "\n",
        html="".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs),
        attachments=(),
        custom_args={"quotation_id": str(quotation.id), "delivery_id": str(delivery.id),
                     "quotation_number": quotation.number},
    )
