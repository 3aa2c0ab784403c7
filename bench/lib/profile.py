"""A sampling profile of the web server under load (py-spy, from the `bench` extra): the
collapsed stacks of every web process, and the share of samples spent in each of our frames
and the libraries' (inclusive), which docs/benchmarks.md summarises before and after a change."""

from __future__ import annotations

import collections
import shutil
import subprocess
from pathlib import Path

from bench.lib.service import BIN, ROOT


def record(pid: int, out: Path, seconds: int) -> subprocess.Popen:
    """Start py-spy on `pid` and its subprocesses for `seconds`, writing collapsed stacks."""
    spy = BIN / "py-spy"
    if not spy.exists() and shutil.which("py-spy") is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install -e '.[bench]'")
    return subprocess.Popen(
        [str(spy if spy.exists() else "py-spy"), "record", "--pid", str(pid), "--subprocesses",
         "--duration", str(seconds), "--rate", "200", "--format", "raw", "--nonblocking",
         "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def summary(stacks: Path, top: int = 25) -> list[tuple[str, float]]:
    """The frames holding the most samples (inclusive), as (function (file), % of samples
    taken while a request was being handled), idle threads left out."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any(marker in f for f in frames for marker in _IN_A_REQUEST):
            continue  # a thread waiting for a connection or a request
        total += int(count)
        for name in {_short(f) for f in frames if not f.startswith("process ")}:
            if not name.endswith(_PLUMBING):
                inclusive[name] += int(count)
    return [(name, 100 * n / total) for name, n in inclusive.most_common(top)] if total else []


# A frame that only a thread handling a request holds: Flask's, gunicorn's, and the submit
# route's (web/submit_route.py), which answers beneath Flask.
_IN_A_REQUEST = ("wsgi_app", "handle_request", "SubmitRoute.__call__")

# Frames every sample holds (the server's and the threads' own loops): left out of the table.
_PLUMBING = ("(threading.py)", "(concurrent/futures/thread.py)", "(gunicorn/workers/gthread.py)",
             "(gunicorn/workers/sync.py)", "(gunicorn/workers/base.py)", "(gunicorn/arbiter.py)",
             "(granian/wsgi.py)")


def _short(frame: str) -> str:
    """`execute (psycopg/cursor.py:97)` -> `execute (psycopg/cursor.py)`."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    path = path.removeprefix(f"{ROOT}/").split("site-packages/", 1)[-1]
    return f"{name} ({path})"
