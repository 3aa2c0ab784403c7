"""Real processes against one database: the web server (`quote-service serve`) and
`procrastinate --app=jobs.app worker`s, with their logs, driven over HTTP with an API token."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from quote_service.demo import http_json, start, stop, wait_until
from tests.support.ports import free_port

BIN = Path(sys.executable).parent


@dataclass
class Stack:
    env: dict[str, str]
    logs: Path
    token: str = ""
    base_url: str = ""
    database_url: str = ""
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start_web(self) -> subprocess.Popen:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.env["PUBLIC_BASE_URL"] = self.base_url
        web = start([str(BIN / "quote-service"), "serve", "--bind", f"127.0.0.1:{port}",
                     "--workers", "2", "--threads", "4"], self.logs / "web.log", self.env)
        self.processes.append(web)
        if not wait_until(lambda: self.get("/healthz")[0] == 200, 30):
            raise RuntimeError(f"the web server did not start:\n{self.log('web.log')}")
        return web

    def start_worker(self, *args: str, name: str = "worker", prefix: tuple[str, ...] = (),
                     **env: str) -> subprocess.Popen:
        """A worker; `prefix` runs it through another command (on another host, say)."""
        worker = start([*prefix, str(BIN / "procrastinate"), "--app=jobs.app", "worker", *args],
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

    def log(self, name: str, *, whole: bool = False) -> str:
        """The end of a process's log (all of it when `whole`)."""
        path = self.logs / name
        text = path.read_text(errors="replace") if path.exists() else ""
        return text if whole else text[-4000:]

    def all_logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{self.log(p.name)}" for p in self.logs.glob("*.log"))

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            stop(process)
