"""What a process needs to do its work, built from Settings and opened on first use.

The web app, the worker and the CLI each build one; nothing here connects or starts a process
at import or construction time.
"""

from __future__ import annotations

import threading
from functools import cached_property

from psycopg_pool import ConnectionPool

from quote_service import db
from quote_service.config import Settings
from quote_service.deliver.mail import Mailer, make_mailer
from quote_service.deliver.storage import Storage, make_storage


class Services:
    def __init__(self, settings: Settings, *, pool_size: int = 10,
                 pool_timeout: float | None = None, trust_fresh_connections: bool = False):
        self.settings = settings
        # The web server's pool hands out a just-used connection unchecked (db.make_pool).
        self._trust_fresh = trust_fresh_connections
        self._pool_size = pool_size
        self._pool_timeout = settings.db_pool_timeout if pool_timeout is None else pool_timeout
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None

    @property
    def pool(self) -> ConnectionPool:
        """The connection pool, opened without waiting: a database that is down makes requests
        fail fast (503), not the process start."""
        with self._lock:
            if self._pool is None:
                self._pool = db.make_pool(
                    self.settings.database_url,
                    timeout=self._pool_timeout,
                    max_size=self._pool_size,
                    trust_fresh=self._trust_fresh,
                )
                self._pool.open(wait=False)
            return self._pool

    @cached_property
    def storage(self) -> Storage:
        return make_storage(self.settings)

    @cached_property
    def mailer(self) -> Mailer:
        return make_mailer(self.settings)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
