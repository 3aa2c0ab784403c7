"""The quote service as production runs it, for benchmarks: the web server and the workers
started with the commands of deploy/systemd (read from the units, so that a benchmark measures
what the README tells operators to run), against a fresh database of the benchmark's own.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from quote_service import migrate  # noqa: E402
from quote_service.accounts import passwords, tokens, users  # noqa: E402
from quote_service.demo import start, stop, wait_until  # noqa: E402

BIN = Path(sys.executable).parent
UNITS = ROOT / "deploy" / "systemd"
INSTALL_BIN = "/srv/quote-service/.venv/bin/"
ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgresql:///postgres")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unit_command(name: str) -> tuple[list[str], dict[str, str]]:
    """The ExecStart of a unit, run from this checkout's .venv, and its Environment=."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(UNITS / f"quote-service-{name}.service")
    service = parser["Service"]
    command = shlex.split(service["ExecStart"].replace(INSTALL_BIN, f"{BIN}/"))
    env = dict(item.split("=", 1) for item in shlex.split(service.get("Environment", "")))
    return command, env


def fresh_database(name: str) -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)
    with psycopg.connect(url) as conn:
        migrate.migrate(conn)
    return url


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Service:
    """gunicorn and the workers of the production layout, each its own process group."""

    def __init__(self, folder: Path, *, database: str = "quote_service_bench",
                 env: dict[str, str] | None = None, web_command: str | None = None):
        self.folder = folder
        self.database = database
        self.extra_env = env or {}
        # Another web server command line than the unit's, for comparing servers: `{bind}`
        # stands for the address it listens on (127.0.0.1:<port>), `{port}` for its port.
        self.web_command = web_command
        self.processes: dict[str, subprocess.Popen] = {}
        self.url = ""
        self.token = ""
        self.base_url = ""
        self.env: dict[str, str] = {}
        self.web_args: list[str] = []

    def __enter__(self) -> Service:
        self.url = fresh_database(self.database)
        with psycopg.connect(self.url, autocommit=True) as conn:
            user = users.insert(conn, "bench@example.com", role="sales",
                                password_hash=passwords.hash_password("bench password, unused"))
            self.token, _ = tokens.create(conn, user, "bench")
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "DATABASE_URL": self.url, "PUBLIC_BASE_URL": self.base_url,
                    "STORAGE_DIR": str(self.folder / "storage"),
                    "OUTBOX_DIR": str(self.folder / "outbox"),
                    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
                    **self.extra_env}
        command, env = unit_command("web")
        if self.web_command is not None:
            command = [f"{BIN}/{arg}" if i == 0 else arg
                       for i, arg in enumerate(shlex.split(self.web_command))]
        command = [f"127.0.0.1:{port}" if arg.startswith("0.0.0.0:")
                   else arg.replace("{bind}", f"127.0.0.1:{port}").replace("{port}", str(port))
                   for arg in command]
        self.web_args = command
        self.processes["web"] = start(command, self.folder / "web.log", {**self.env, **env})
        if not wait_until(lambda: self.get("/healthz")[0] == 200, 60):
            raise RuntimeError(f"the web server did not start; see {self.folder / 'web.log'}")
        return self

    def start_workers(self, *names: str) -> None:
        for name in names:
            command, env = unit_command(name)
            self.processes[name] = start(command, self.folder / f"{name}.log",
                                         {**self.env, **env})

    def stop_workers(self) -> None:
        for name in [n for n in self.processes if n != "web"]:
            stop(self.processes.pop(name), grace=60)

    def wait_until_ready(self, workers: int, slots: int, timeout: float = 60) -> None:
        """`workers` registered and `slots` LibreOffice instances answering: a warm system."""

        def ready() -> bool:
            logs = "".join((self.folder / f"{n}.log").read_text(errors="replace")
                           for n in self.processes if n != "web")
            return self.scalar("SELECT count(*) FROM workers") == workers and (
                logs.count(" ready on port ") >= slots)

        if not wait_until(ready, timeout, 0.1):
            raise RuntimeError(f"workers not ready within {timeout} s; see {self.folder}")

    def __exit__(self, *_exc: object) -> None:
        for name in list(self.processes):
            stop(self.processes.pop(name), grace=60)

    def connection(self) -> psycopg.Connection:
        """A connection of its own to the service's database (autocommit)."""
        return psycopg.connect(self.url, autocommit=True)

    def scalar(self, sql: str, *params: object):
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchone()[0]

    def rows(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def get(self, path: str) -> tuple[int, dict]:
        request = urllib.request.Request(self.base_url + path,
                                         headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except OSError:
            return 0, {}

    def submit(self, body: dict) -> dict:
        request = urllib.request.Request(
            self.base_url + "/api/quotations", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def wait_sent(self, ids: list[int], timeout: float = 300) -> None:
        if not wait_until(lambda: self.scalar(
                "SELECT count(*) FROM quotations WHERE id = ANY(%s) AND status = 'sent'",
                ids) == len(ids), timeout, 0.05):
            raise RuntimeError(f"not all of {len(ids)} quotations were sent within {timeout} s")

    @staticmethod
    def sleep_until(moment: float) -> None:
        time.sleep(max(0.0, moment - time.monotonic()))
