"""Find and stop whole process groups.

LibreOffice is a chain of processes (`soffice` script -> `oosplash` -> `soffice.bin`, plus
helpers), and killing the one we started leaves `soffice.bin` running. Every LibreOffice we start
is therefore the leader of its own process group, and is stopped through the group: SIGTERM,
a grace period, then SIGKILL for whatever ignored it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

_PROC = Path("/proc")
OFFICE_BINARY = "soffice.bin"


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`, read from /proc."""
    members = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _wait(pgid: int, seconds: float, done) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if done(group_members(pgid)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def is_office(pid: int) -> bool:
    return command_line(pid).split(" ", 1)[0].endswith(OFFICE_BINARY)


def kill_group(pgid: int, grace: float = 3.0) -> bool:
    """Stop every process of group `pgid`; return True once none is left alive.

    The grace period is for `soffice.bin`, the one process with state (its profile) worth a
    clean exit. As soon as it is gone the rest of the group gets SIGKILL: `oosplash` and
    `unoserver` have nothing to save and are known to ignore SIGTERM once the office died.
    """
    if not group_members(pgid):
        return True
    _signal(pgid, signal.SIGTERM)
    _wait(pgid, grace, lambda members: not any(is_office(pid) for pid in members))
    if _wait(pgid, 0.2, lambda members: not members):
        return True
    _signal(pgid, signal.SIGKILL)
    return _wait(pgid, 5.0, lambda members: not members)


def command_line(pid: int) -> str:
    """The command line of `pid` (arguments joined by spaces), or '' if it is gone."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()
