"""Load from wrk, and the CPU it costs: the runs of bench/api, each read back from wrk's own
summary line, and the processor time the web server and the database spent on them, read from
/proc so that each side's cost per request is measured, not guessed."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

TICKS = os.sysconf("SC_CLK_TCK")
# The line every script of bench/wrk prints from its done() hook (the peer's post-with-token.lua
# prints the same one).
_RESULT = re.compile(r"RESULT rps=([\d.]+) p50=([\d.]+) p99=([\d.]+) non2xx=(\d+) errors=(\d+)")


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    requests: int
    web_cpu_s: float = 0.0
    db_cpu_s: float = 0.0
    steal_pct: float = 0.0  # the machine's CPU time taken by its host during the run

    @property
    def web_ms_per_request(self) -> float:
        return 1000 * self.web_cpu_s / self.requests if self.requests else 0.0

    @property
    def db_ms_per_request(self) -> float:
        return 1000 * self.db_cpu_s / self.requests if self.requests else 0.0


def wrk(script: Path, url: str, *, seconds: int, connections: int, threads: int = 2,
        env: dict[str, str] | None = None) -> Run:
    """One wrk run of `script` against `url`."""
    before = _cpu_times()
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
         str(script), url],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True,
        timeout=seconds + 60)
    match = _RESULT.search(result.stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no RESULT line:\n{result.stdout}{result.stderr}")
    requests = int(re.search(r"(\d+) requests in", result.stdout).group(1))
    rps, p50, p99 = (float(match.group(i)) for i in (1, 2, 3))
    return Run(rps=rps, p50_ms=p50, p99_ms=p99, non_2xx=int(match.group(4)),
               socket_errors=int(match.group(5)), requests=requests,
               steal_pct=steal_share(before, _cpu_times()))


def _cpu_times() -> list[int]:
    """The machine's CPU time by kind (/proc/stat: user, nice, system, idle, iowait, irq,
    softirq, steal), all CPUs."""
    return [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def steal_share(before: list[int], after: list[int]) -> float:
    """The percentage of the machine's CPU time between two readings that the host of this
    virtual machine gave to others (steal): what a run lost to the machine, not to the code."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return 100 * spent[7] / sum(spent) if sum(spent) else 0.0


def process_tree(root: int) -> list[int]:
    """`root` and every process below it (a server's master and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system time of these processes so far (those gone are left out)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL backends connected to this database (the server runs on this machine)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")]


class CpuMeter:
    """CPU seconds of a server's process tree and of its database's backends over a block."""

    def __init__(self, server_pid: int, database_url: str):
        self.server_pid = server_pid
        self.database_url = database_url

    def measure(self, run) -> Run:
        web, backends = process_tree(self.server_pid), backend_pids(self.database_url)
        web_before, db_before = cpu_seconds(web), cpu_seconds(backends)
        result: Run = run()
        # Backends opened during the run are counted whole (their time before it was nil).
        backends_after = sorted(set(backends) | set(backend_pids(self.database_url)))
        new = [pid for pid in backends_after if pid not in backends]
        db_used = cpu_seconds(backends) - db_before + cpu_seconds(new)
        return Run(**{**result.__dict__, "web_cpu_s": cpu_seconds(web) - web_before,
                      "db_cpu_s": db_used})
