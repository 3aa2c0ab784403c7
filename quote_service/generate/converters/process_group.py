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


def office_pipes(pids: list[int]) -> list[Path]:
    """The `OSL_PIPE_*` sockets these processes listen on.

    Every LibreOffice profile gets a single-instance pipe in /tmp (not $TMPDIR); a killed
    office leaves it behind, one stale socket per restart, so we note it before killing.
    """
    inodes = set()
    for pid in pids:
        try:
            fds = list((_PROC / str(pid) / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:["):-1])
    try:
        rows = (_PROC / "net" / "unix").read_text().splitlines()[1:]
    except OSError:
        return []
    pipes = []
    for row in rows:
        fields = row.split()  # Num RefCount Protocol Flags Type St Inode Path
        if len(fields) >= 8 and fields[6] in inodes and "/OSL_PIPE_" in fields[7]:
            pipes.append(Path(fields[7]))
    return pipes


def kill_group(pgid: int, grace: float = 3.0) -> bool:
    """Stop every process of group `pgid`; return True once none is left alive.

    The grace period is for `soffice.bin`, the one process with state (its profile) worth a
    clean exit. As soon as it is gone the rest of the group gets SIGKILL: `oosplash` and
    `unoserver` have nothing to save and are known to ignore SIGTERM once the office died.
    """
    members = group_members(pgid)
    if not members:
        return True
    pipes = office_pipes(members)
    _signal(pgid, signal.SIGTERM)
    _wait(pgid, grace, lambda members: not any(is_office(pid) for pid in members))
    if not _wait(pgid, 0.2, lambda members: not members):
        _signal(pgid, signal.SIGKILL)
        if not _wait(pgid, 5.0, lambda members: not members):
            return False
    for pipe in pipes:
        pipe.unlink(missing_ok=True)
    return True


def command_line(pid: int) -> str:
    """The command line of `pid` (arguments joined by spaces), or '' if it is gone."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()
