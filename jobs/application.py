"""The procrastinate App (exported as `jobs.app`: `procrastinate --app=jobs.app worker`).

Tasks are thin: each calls one quote_service step and leaves the rest to it. Configuration is
checked when this module is imported by the worker, so a bad setting stops the worker at once
with one line instead of failing every job.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading

from jobs.connection import DatabaseLink, OutageTolerantConnector
from jobs.worker import App
from quote_service import db
from quote_service import logging as structured_logging
from quote_service.config import ConfigError, Settings, load_dotenv_file
from quote_service.generate.converter import Converter
from quote_service.services import Services

logger = logging.getLogger("quote_service.jobs")

load_dotenv_file()
try:
    settings = Settings.from_env()
except ConfigError as exc:
    sys.exit(f"configuration error: {exc}")
# Before procrastinate configures logging (it imports the app first, then does nothing).
structured_logging.configure(settings)

# The pool's waits are short: a statement that cannot get a connection is tried again by
# the connector, which is how the worker notices quickly that the database is back.
link = DatabaseLink()
app = App(
    connector=OutageTolerantConnector(
        link=link, conninfo=settings.database_url, min_size=1, max_size=6, timeout=2.0,
        reconnect_timeout=db.RECONNECT_SECONDS, kwargs=db.connection_kwargs(5)),
    import_paths=["jobs.tasks", "jobs.maintenance"],
    worker_defaults={"update_heartbeat_interval": settings.worker_heartbeat_seconds,
                     "stalled_worker_timeout": settings.stalled_worker_seconds},
)

WORKER_POOL_TIMEOUT = 10.0

# Sync tasks run in worker threads: what a process builds once is built under this lock.
_lock = threading.Lock()
_services: Services | None = None
_converter: Converter | None = None


def services() -> Services:
    """One Services (one connection pool) per worker process, built on first use and closed
    when the worker exits."""
    global _services
    with _lock:
        if _services is None:
            # A step waits longer for a connection than a web request does: right after an
            # outage, waiting a few seconds beats spending one of the job's attempts.
            _services = Services(settings, pool_size=4, pool_timeout=WORKER_POOL_TIMEOUT)
            atexit.register(_services.close)
        return _services


def converter() -> Converter:
    """One converter per worker process (a warm LibreOffice pool), started on first use and
    stopped, whole process groups, when the worker exits."""
    global _converter
    with _lock:
        if _converter is None:
            from quote_service.generate.converters import make_converter

            _converter = make_converter(settings)
            atexit.register(_converter.close)
        return _converter
