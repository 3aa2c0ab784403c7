"""Real processes: gunicorn serving wsgi:app and `procrastinate --app=jobs.app worker`, both
against the test's own database, storage folder and outbox."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from quote_service.demo import http_json, start, stop, wait_until
from tests.support.ports import free_port

BIN = Path(sys.executable).parent


@dataclass
class Stack:
    env: dict[str, str]
    logs: Path
    token: str = ""
    base_url: str = ""
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start_web(self) -> subprocess.Popen:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.env["PUBLIC_BASE_URL"] = self.base_url
        web = start([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                     "--threads", "4", "--no-control-socket", "wsgi:app"], self.logs / "web.log", self.env)
        self.processes.append(web)
        if not wait_until(lambda: self.get("/healthz")[0] == 200, 30):
            raise RuntimeError(f"gunicorn did not start:\n{self.log('web.log')}")
        return web

    def start_worker(self, *args: str, name: str = "worker", **env: str) -> subprocess.Popen:
        worker = start([str(BIN / "procrastinate"), "--app=jobs.app", "worker", *args],
                       self.logs / f"{name}.log", {**self.env, **env})
        self.processes.append(worker)
        return worker

    def get(self, path: str) -> tuple[int, dict]:
        return http_json("GET", self.base_url + path,
                         headers={"Authorization": f"Bearer {self.token}"})

    def post(self, path: str, body: dict | None = None, **headers: str) -> tuple[int, dict]:
        return http_json("POST", self.base_url + path, body,
                         {"Authorization": f"Bearer {self.token}", **headers})

    def wait_for(self, path: str, done: Callable[[dict], bool], timeout: float = 90) -> dict:
        last: dict = {}

        def check() -> bool:
            nonlocal last
            dead = [p.args for p in self.processes if p.poll() is not None]
            if dead:
                raise AssertionError(f"exited early: {dead}\n{self.all_logs()}")
            last = self.get(path)[1]
            return done(last)

        if not wait_until(check, timeout, 0.2):
            raise AssertionError(f"timed out; last state {last}\n{self.all_logs()}")
        return last

    def log(self, name: str) -> str:
        path = self.logs / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{self.log(p.name)}" for p in self.logs.glob("*.log"))

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            stop(process)


@pytest.fixture
def stack(settings, tmp_path, api_token) -> Iterator[Stack]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "STORAGE_DIR": str(settings.storage_dir),
        "OUTBOX_DIR": str(settings.outbox_dir),
        "SECRET_KEY": settings.secret_key,
        "JOB_MAX_ATTEMPTS": "3",
        "JOB_RETRY_BASE_SECONDS": "0",
        "CONVERTER": "soffice",
    }
    running = Stack(env=env, logs=tmp_path / "logs", token=api_token("sales"))
    yield running
    running.stop_all()
