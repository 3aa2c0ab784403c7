"""Structured logs: JSON or text lines, and the job's tags on every line a job writes."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging

import pytest

from quote_service import logging as qs_logging
from quote_service.config import Settings


@pytest.fixture
def root_logger():
    """Give the root logger back as it was: configure() changes process-wide state."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def configured(log_format: str) -> io.StringIO:
    stream = io.StringIO()
    qs_logging.configure(dataclasses.replace(Settings(), log_format=log_format), stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_the_job_and_its_quotation(root_logger):
    stream = configured("json")
    log = logging.getLogger("quote_service.jobs")
    with qs_logging.job_context(41, 7, "Q-2026-0007"):
        log.info("stored %s", "quotations/2026/Q-2026-0007-v1.pdf", extra={"size": 1234})
        try:
            raise ValueError("no <PDF>")
        except ValueError:
            log.exception("conversion failed")
    log.warning("outside any job")

    first, second, third = (json.loads(line) for line in lines(stream))
    assert first["message"] == "stored quotations/2026/Q-2026-0007-v1.pdf"
    assert (first["level"], first["logger"]) == ("INFO", "quote_service.jobs")
    assert (first["job_id"], first["quotation_id"], first["quotation_number"]) == (
        41, 7, "Q-2026-0007")
    assert first["size"] == 1234 and first["time"].endswith("Z")
    assert second["quotation_number"] == "Q-2026-0007"
    assert "ValueError: no <PDF>" in second["exception"]
    assert "job_id" not in third and third["level"] == "WARNING"


def test_text_lines_show_the_tags(root_logger):
    stream = configured("text")
    log = logging.getLogger("quote_service.jobs")
    with qs_logging.job_context(41, 7, "Q-2026-0007"):
        log.info("stored")
    with qs_logging.job_context(42, 8):
        log.info("started")
    log.info("idle")
    first, second, third = lines(stream)
    assert first.endswith("INFO quote_service.jobs [job=41 Q-2026-0007] stored")
    assert second.endswith("[job=42 quotation=8] started")
    assert third.endswith("INFO quote_service.jobs idle")


def test_extra_wins_over_the_context(root_logger):
    stream = configured("json")
    log = logging.getLogger("quote_service.jobs")
    with qs_logging.job_context(41, 7, "Q-2026-0007"):
        log.info("attempt failed", extra={"job_id": 99, "task": "generate_pdf"})
    log.info("idle")
    entry, after = (json.loads(line) for line in lines(stream))
    assert (entry["job_id"], entry["quotation_number"], entry["task"]) == (
        99, "Q-2026-0007", "generate_pdf")
    assert "job_id" not in after and "quotation_number" not in after


def test_the_tags_follow_a_sync_task_into_its_worker_thread(root_logger):
    """procrastinate runs sync tasks in threads with the caller's context copied."""
    stream = configured("json")

    def task() -> None:
        with qs_logging.job_context(5, 3, "Q-2026-0003"):
            logging.getLogger("quote_service.jobs").info("in a thread")

    async def worker() -> None:
        with qs_logging.job_context(1, 1, "Q-2026-0001"):
            await asyncio.gather(asyncio.to_thread(task), asyncio.sleep(0))
            logging.getLogger("quote_service.jobs").info("back in the loop")

    asyncio.run(worker())
    in_thread, in_loop = (json.loads(line) for line in lines(stream))
    assert (in_thread["job_id"], in_thread["quotation_number"]) == (5, "Q-2026-0003")
    assert (in_loop["job_id"], in_loop["quotation_number"]) == (1, "Q-2026-0001")


def test_procrastinates_own_lines_are_tagged_with_their_job(root_logger):
    stream = configured("json")
    logging.getLogger("procrastinate.worker").info(
        "Starting job generate_pdf[12](quotation_id=7)",
        extra={"action": "start_job", "job": {"id": 12, "task_kwargs": {"quotation_id": 7}}})
    entry = json.loads(lines(stream)[0])
    assert (entry["job_id"], entry["quotation_id"], entry["action"]) == (12, 7, "start_job")


def test_configuring_again_replaces_the_handler(root_logger):
    configured("text")
    stream = configured("json")
    ours = [h for h in root_logger.handlers if getattr(h, "_quote_service_handler", False)]
    assert len(ours) == 1
    logging.getLogger("quote_service").info("once")
    assert len(lines(stream)) == 1 and json.loads(lines(stream)[0])["message"] == "once"

