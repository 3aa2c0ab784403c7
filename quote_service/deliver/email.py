"""The email that carries a quotation: plain text and HTML bodies, the PDF attached, a link.

The customer reads it in the quotation's locale, as the PDF (the `[email]` words of
quote_service/words/); the sales user's notice of an answer is in the service's LOCALE, the
language of the people who run it.
"""

from __future__ import annotations

from html import escape

from quote_service.config import Settings
from quote_service.deliver.mail.base import Attachment, OutgoingEmail
from quote_service.domain import locales
from quote_service.domain.model import Delivery, Quotation
from quote_service.words import words_for


def _values(settings: Settings, quotation: Quotation, locale: str) -> dict[str, str]:
    """What the sentences name, formatted for `locale`."""
    return {
        "label": quotation.label, "company": settings.company_name,
        "total": locales.money(quotation.total, quotation.currency, locale),
        "valid_until": locales.long_date(quotation.valid_until, locale),
        "customer": quotation.customer_name, "email": quotation.customer_email,
    }


def compose(settings: Settings, quotation: Quotation, delivery: Delivery, pdf: bytes,
            link: str) -> OutgoingEmail:
    """`link` is the delivery's own (links.issue), written before this email leaves."""
    words, values = words_for(quotation.locale, "email"), _values(settings, quotation, quotation.locale)
    greeting = words["greeting"].format(name=quotation.customer_name)
    body = words["quotation_body"].format(**values)
    company = settings.company_name
    text = (
        f"{greeting}\n\n{body}\n\n"
        f"{words['link_intro']}\n{link}\n\n"
        f"{words['closing']}\n{company}\n"
    )
    html_body = words["quotation_body"].format(**{
        **{key: escape(value) for key, value in values.items()},
        "label": f"<strong>{escape(quotation.label)}</strong>",
        "total": f"<strong>{escape(values['total'])}</strong>"})
    html = (
        f'<div lang="{quotation.locale}">'
        f"<p>{escape(greeting)}</p><p>{html_body}</p>"
        f'<p><a href="{escape(link)}">{escape(words["link_text"])}</a></p>'
        f"<p>{escape(words['closing'])}<br>{escape(company)}</p></div>"
    )
    return OutgoingEmail(
        reference=delivery.reference,
        sender=settings.mail_from,
        to=delivery.recipient,
        subject=words["quotation_subject"].format(**values),
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
    to_customer = delivery.kind == "answer_confirmation"
    locale = quotation.locale if to_customer else settings.locale
    words = words_for(locale, "email")
    values = {**_values(settings, quotation, locale), "name": quotation.response_name or ""}
    if to_customer:
        subject = words[f"{verb}_subject"].format(**values)
        paragraphs = [words["greeting"].format(**values),
                      words[f"{verb}_body"].format(**values)]
        closing = f"{words['closing']}\n{settings.company_name}"
        comment = words["your_comment"]
    else:
        subject = words[f"notice_{verb}_subject"].format(**values)
        paragraphs = [words[f"notice_{verb}_body"].format(**values)]
        closing = f"{settings.public_base_url}/quotations/{quotation.id}"
        comment = words["their_comment"]
    if quotation.response_comment:
        paragraphs.append(f"{comment}\n{quotation.response_comment}")
    paragraphs.append(closing)
    return OutgoingEmail(
        reference=delivery.reference, sender=settings.mail_from, to=delivery.recipient,
        subject=subject, text="\n\n".join(paragraphs) + "\n",
        html=f'<div lang="{locale}">' + "".join(
            f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs) + "</div>",
        attachments=(),
        custom_args={"quotation_id": str(quotation.id), "delivery_id": str(delivery.id),
                     "quotation_number": quotation.number},
    )
