"""Log lines that say which quotation and which job they are about.

`configure(settings)` sends every log record to stderr, as one JSON object per line when
LOG_FORMAT=json (for a log collector) or as readable text otherwise. While a job runs inside
`job_context(job_id, quotation_id, number)`, every line written by any code it calls carries
`job_id`, `quotation_id` and `quotation_number`, without each call passing them: a context
variable holds them and a filter on our handler copies them onto each record. A context
variable, not a thread-local, so that it follows sync tasks into procrastinate's worker threads
and async tasks across awaits.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from quote_service.config import Settings

CONTEXT_FIELDS = ("job_id", "quotation_id", "quotation_number")
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "quote_service_log_context", default=None)
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


@contextmanager
def job_context(job_id: int | None, quotation_id: int | None = None,
                number: str | None = None) -> Iterator[None]:
    """Tag every log line written inside the block with the job and its quotation."""
    token = _context.set({"job_id": job_id, "quotation_id": quotation_id,
                          "quotation_number": number})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copy the current job's tags onto a record, without overwriting what `extra=` set.
    procrastinate's own lines carry the job as `record.job` (a dict): its id is used too."""

    def filter(self, record: logging.LogRecord) -> bool:
        tags = _context.get() or {}
        job = getattr(record, "job", None)
        if isinstance(job, dict):
            args = job.get("task_kwargs") or job.get("args") or {}
            tags = {"job_id": job.get("id"),
                    "quotation_id": args.get("quotation_id") if isinstance(args, dict) else None,
                    **{k: v for k, v in tags.items() if v is not None}}
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, tags.get(name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the job's tags, any
    `extra=` fields, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
                      .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines, with the job's tags when there are any:
    `2026-11-28 10:00:00,123 INFO quote_service.jobs [job=12 Q-2026-0017] stored ...`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(tags)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        if getattr(record, "job_id", None) is not None:
            parts.append(f"job={record.job_id}")
        number = getattr(record, "quotation_number", None)
        quotation_id = getattr(record, "quotation_id", None)
        if number:
            parts.append(str(number))
        elif quotation_id is not None:
            parts.append(f"quotation={quotation_id}")
        copy = logging.makeLogRecord(vars(record))  # the record is shared with other handlers
        copy.tags = f" [{' '.join(parts)}]" if parts else ""
        return super().format(copy)


class RepeatFilter(logging.Filter):
    """Let a message through once per `seconds`: psycopg_pool logs every failed reconnection
    try, several a second while the database is down, and the first one says why."""

    def __init__(self, seconds: float = 60.0) -> None:
        super().__init__()
        self.seconds = seconds
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.created - self._last.get(message, float("-inf")) < self.seconds:
            return False
        if len(self._last) > 1000:  # messages name their pool: bound what is remembered
            self._last.clear()
        self._last[message] = record.created
        return True


_HANDLER_MARK = "_quote_service_handler"
_POOL_LOGGER = logging.getLogger("psycopg.pool")


def configure(settings: Settings, *, level: int | str = logging.INFO,
              stream: Any = None) -> logging.Handler:
    """Install our handler on the root logger, replacing the one a previous call installed
    (the app factory may run more than once in a process) and any handler installed before
    by logging.basicConfig, so that no line is written twice in two formats."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False) or type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    if not any(isinstance(f, RepeatFilter) for f in _POOL_LOGGER.filters):
        _POOL_LOGGER.addFilter(RepeatFilter())
    return handler
