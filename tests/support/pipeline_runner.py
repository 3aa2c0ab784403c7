"""Run the queue's waiting jobs in the test's own process, one after the other, with the real
steps: the DOCX rendered and converted by a warm LibreOffice, the PDF stored, the emails
written to the outbox. What a worker does, without a worker process, so that integration tests
can follow a quotation through its whole life from the API or the pages."""

from __future__ import annotations

import psycopg

from quote_service import queue
from quote_service.deliver.step import send_quotation
from quote_service.generate.converter import Converter
from quote_service.generate.step import generate_pdf
from quote_service.queue import Attempt
from quote_service.services import Services

STEPS = {
    queue.GENERATE_PDF.task_name: lambda services, converter, args, attempt: generate_pdf(
        services, converter, args["quotation_id"], attempt),
    queue.SEND_QUOTATION.task_name: lambda services, converter, args, attempt: send_quotation(
        services, args["quotation_id"], args["delivery_id"], attempt),
    queue.SEND_ANSWER_EMAIL.task_name: lambda services, converter, args, attempt: send_quotation(
        services, args["quotation_id"], args["delivery_id"], attempt),
}


def run_queue(services: Services, converter: Converter, conn: psycopg.Connection) -> list[str]:
    """Run every job that may run now, oldest first, until none is left; return what each
    step said. A step that raises leaves its job failed and raises."""
    outcomes = []
    while True:
        row = conn.execute(
            "UPDATE procrastinate_jobs SET status = 'doing' WHERE id = ("
            "  SELECT id FROM procrastinate_jobs WHERE status = 'todo'"
            "  AND (scheduled_at IS NULL OR scheduled_at <= now()) ORDER BY priority DESC, id"
            "  LIMIT 1) RETURNING id, task_name, args, attempts").fetchone()
        if row is None:
            return outcomes
        job_id, task_name, args, attempts = row
        try:
            outcomes.append(STEPS[task_name](services, converter, args,
                                             Attempt(job_id, attempts, None)))
        except Exception:
            conn.execute("SELECT procrastinate_finish_job_v1(%s, 'failed', false)", (job_id,))
            raise
        conn.execute("SELECT procrastinate_finish_job_v1(%s, 'succeeded', false)", (job_id,))
