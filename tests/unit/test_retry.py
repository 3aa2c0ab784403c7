"""Which failures run again, and when."""

from __future__ import annotations

import pytest
from procrastinate.jobs import Job

from jobs.retry import PipelineRetry
from quote_service.deliver.mail.base import MailRejected, MailRetryLater
from quote_service.deliver.storage.base import StorageConflict
from quote_service.generate.converter import ConversionError
from quote_service.generate.document import DocumentError
from quote_service.pipeline import NotFound

STRATEGY = PipelineRetry(max_attempts=5, base_seconds=2)


def job(attempts: int = 0) -> Job:
    return Job(id=1, queue="documents", lock=None, queueing_lock=None, task_name="generate_pdf",
               attempts=attempts)


@pytest.mark.parametrize("exception", [
    MailRejected("400 Bad Request: invalid email"),
    StorageConflict("another object is stored under that key"),
    DocumentError("template 'standard' failed: 'customer' is undefined"),
    NotFound("quotation 17 does not exist"),
], ids=type)
def test_refusals_that_cannot_change_are_not_retried(exception):
    assert STRATEGY.get_retry_decision(exception=exception, job=job()) is None


@pytest.mark.parametrize("exception", [
    ConversionError("soffice exited with status 1"),
    KeyError("total"),
    IndexError("list index out of range"),
], ids=type)
def test_other_failures_including_stray_lookup_errors_are_retried(exception):
    assert STRATEGY.get_retry_decision(exception=exception, job=job()) is not None


def test_the_last_attempt_is_not_retried():
    error = ConversionError("soffice exited with status 1")
    assert STRATEGY.get_retry_decision(exception=error, job=job(attempts=3)) is not None
    assert STRATEGY.get_retry_decision(exception=error, job=job(attempts=4)) is None


def test_waits_double_and_a_providers_retry_after_wins_when_longer():
    assert [STRATEGY.wait_seconds(ConversionError(), n) for n in range(4)] == [2, 4, 8, 16]
    assert STRATEGY.wait_seconds(MailRetryLater("429", retry_after=30), 1) == 30
