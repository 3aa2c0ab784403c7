"""When a failed job runs again: exponential backoff, a finite number of attempts, the
provider's own `Retry-After` when it gave one, and never for a refusal that cannot change.

The refusals are named one by one: a mail provider's 4xx, a storage object that differs from
the PDF, a template that cannot render, a quotation or delivery that does not exist. Anything
else, a stray KeyError included, may be passing and gets its attempts."""

from __future__ import annotations

from dataclasses import dataclass

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from quote_service.deliver.mail.base import MailRejected
from quote_service.deliver.storage.base import StorageConflict
from quote_service.generate.document import DocumentError
from quote_service.pipeline import NotFound

NEVER_RETRY = (MailRejected, StorageConflict, DocumentError, NotFound)
MAX_WAIT_SECONDS = 3600.0


@dataclass(frozen=True)
class PipelineRetry(BaseRetryStrategy):
    max_attempts: int
    base_seconds: float

    def wait_seconds(self, exception: BaseException, attempts: int) -> float:
        """`attempts` counts the runs before this one: waits are base, 2 base, 4 base..."""
        wait = self.base_seconds * 2**attempts
        retry_after = getattr(exception, "retry_after", None)
        if retry_after is not None:
            wait = max(wait, float(retry_after))
        return min(wait, MAX_WAIT_SECONDS)

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, NEVER_RETRY) or job.attempts + 1 >= self.max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": self.wait_seconds(exception, job.attempts)})
