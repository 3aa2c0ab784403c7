"""A PostgreSQL server of the test's own, to restart, stop and start at will.

Tests of database outages must never touch the machine's shared server: each one makes a
cluster with `initdb` in a temporary folder and runs it with `pg_ctl` on a free port (and on
more addresses when other hosts must reach it). As root, the server runs as the `postgres`
user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from quote_service import migrate
from tests.support.ports import free_port


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda path: int(path.parent.parent.name))
    if not found:
        raise RuntimeError("no initdb under /usr/lib/postgresql/*/bin (install postgresql)")
    return found[-1].parent


class PrivateCluster:
    """A stopped cluster in `folder`, listening on `port` at `addresses` once started."""

    def __init__(self, folder: Path, *, addresses: tuple[str, ...] = ("127.0.0.1",)):
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.port = free_port()
        self.addresses = addresses
        self.bin = _bin_dir()
        self._as_postgres = os.geteuid() == 0

    def url(self, host: str = "127.0.0.1", dbname: str = "quote_service") -> str:
        return f"postgresql://postgres@{host}:{self.port}/{dbname}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> None:
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\n"
                f"listen_addresses = '{','.join(self.addresses)}'\n"
                f"unix_socket_directories = '{self.folder}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 100\nshared_buffers = 32MB\n")
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write("host all all 0.0.0.0/0 trust\n")

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60",
                  "stop")

    def restart(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-m",
                  "fast", "-w", "-t", "60", "restart")

    def running(self) -> bool:
        return self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status",
                         check=False).returncode == 0

    def create_database(self, name: str = "quote_service") -> str:
        """A migrated database; return its URL."""
        with psycopg.connect(self.url(dbname="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        with psycopg.connect(self.url(dbname=name)) as conn:
            migrate.migrate(conn)
        return self.url(dbname=name)

    def wait_until_accepting(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(dbname="postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def server_log(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@contextlib.contextmanager
def private_cluster(*, addresses: tuple[str, ...] = ("127.0.0.1",)) -> Iterator[PrivateCluster]:
    """A started cluster, stopped and removed afterwards. Its folder is outside pytest's
    temporary tree, which the `postgres` user may not enter."""
    folder = Path(tempfile.mkdtemp(prefix="qs-postgres-"))
    cluster = PrivateCluster(folder, addresses=addresses)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.data.exists() and cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
