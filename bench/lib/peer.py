"""The stack this service replaces, run beside it: Express + BullMQ + Redis with a cold
soffice per job (a reference build, by default in ../shared/peers/seed-bullmq). It writes
`var/` and `node_modules/` into its folder, so it is copied to a folder of the benchmark's
own first, installed there with `npm ci`, and run with its own `run.sh`. Its `bench/e2e.py`
measures a burst end to end on either system, so both are measured by the same client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from bench.lib.service import ROOT

DEFAULT_SOURCE = ROOT.parent / "shared" / "peers" / "seed-bullmq"


class Peer:
    def __init__(self, folder: Path, source: Path = DEFAULT_SOURCE):
        if not (source / "run.sh").exists():
            raise SystemExit(f"the BullMQ stack is not at {source} (--peer DIR)")
        self.source = source
        self.folder = folder / "seed-bullmq"
        self.env = {**os.environ, "PORT": "3100", "REDIS_PORT": "6390"}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    def run(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(args, cwd=self.folder, env=self.env, capture_output=True,
                                text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed in {self.folder}:\n"
                               f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
        return result.stdout

    def setup(self) -> None:
        """Copy (once), install (once) and create its database (run.sh does it if missing)."""
        if not self.folder.exists():
            shutil.copytree(self.source, self.folder, ignore=shutil.ignore_patterns(
                "node_modules", "var"))
        if not (self.folder / "node_modules").exists():
            self.run("npm", "ci", "--no-audit", "--no-fund")
        self.run("./run.sh", "setup")

    def start(self, *components: str) -> None:
        self.run("./run.sh", "start", *components)

    def stop(self) -> None:
        self.run("./run.sh", "stop")

    def e2e(self, n: int, *args: str) -> dict:
        """`bench/e2e.py N` against this stack (or, with `--base-url`, `--dsn`, ... another);
        its JSON summary."""
        out = self.run("python3", "bench/e2e.py", str(n), "--json", "--poll-interval", "0.05",
                       *args, timeout=1800)
        return json.loads(out.strip().splitlines()[-1])
