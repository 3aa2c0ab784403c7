"""The `generate_pdf` step: render the DOCX, convert it, store the PDF, record it.

Exactly once: a PDF already recorded ends the step at once; a PDF already in storage (a
previous attempt stored it and died before recording) is recorded without converting again.
An attempt that was taken for lost while it converted (its worker cut off from the database)
stores and records nothing: it checks that it is still its job's current attempt before
storing the PDF, and again in the transaction that records it.
"""

from __future__ import annotations

from quote_service import db, pipeline
from quote_service.domain.model import Line, Quotation
from quote_service.generate.context import build_context
from quote_service.generate.converter import Converter
from quote_service.generate.document import render_docx
from quote_service.queue import Attempt, claim, job_id_of
from quote_service.services import Services


def pdf_key(quotation: Quotation) -> str:
    """Predictable, so a retry finds what an earlier attempt stored: one object per version
    (`Q-2026-0017-v2.pdf`) and, for a draft whose body was edited, per rendering of it
    (`Q-2026-0017-v1-r2.pdf`), since storage never replaces an object."""
    year = quotation.number.split("-")[1]
    edited = f"-r{quotation.rendering}" if quotation.rendering > 1 else ""
    return f"quotations/{year}/{quotation.number}-v{quotation.version}{edited}.pdf"


def generate_pdf(services: Services, converter: Converter, quotation_id: int,
                 attempt: Attempt | None) -> str:
    """Run the step; return a short outcome for the logs. Raise AttemptSuperseded when the
    attempt is no longer current."""
    job_id = job_id_of(attempt)
    with db.transaction(services.pool) as conn:
        quotation = pipeline.begin_generation(conn, quotation_id, job_id)
        if quotation is None:
            return "already generated"
        lines = [Line.from_row(r) for r in db.fetch_all(conn, "get_lines",
                                                        quotation_id=quotation_id)]
    key = pdf_key(quotation)
    stored = services.storage.stat(key)
    reused = stored is not None
    if stored is None:
        docx = render_docx(build_context(quotation, lines, services.settings), quotation.template)
        pdf = converter.convert(docx)
        with db.transaction(services.pool) as conn:
            claim(conn, attempt)
        stored = services.storage.put(key, pdf, content_type="application/pdf",
                                      filename=quotation.pdf_filename)
    with db.transaction(services.pool) as conn:
        claim(conn, attempt)
        quotation = pipeline.lock_quotation(conn, quotation_id)
        if quotation.pdf_key is not None:
            return "already generated"
        delivery = pipeline.record_pdf(conn, quotation, stored, job_id, reused=reused)
    then = "ready to be sent" if delivery is None else f"delivery {delivery.id} queued"
    return f"stored {stored.key} ({stored.size} bytes), {then}"
