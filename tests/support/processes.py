"""What is running, read from /proc: for tests that check no LibreOffice is left behind."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    pgid: int
    command: str


def live_processes() -> dict[int, Process]:
    """Every live (non-zombie) process by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # exited while we looked
        if fields[0] != "Z":
            pid = int(entry.name)
            found[pid] = Process(pid, int(fields[1]), int(fields[2]), command)
    return found


def group_commands(pgid: int) -> list[str]:
    """Command lines of the live processes in process group `pgid`."""
    return [p.command for p in live_processes().values() if p.pgid == pgid]


def descendants(pid: int) -> dict[int, Process]:
    """The live children of `pid`, their children, and so on."""
    table = live_processes()
    children: dict[int, list[int]] = {}
    for process in table.values():
        children.setdefault(process.ppid, []).append(process.pid)
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = table[child]
            todo.append(child)
    return found
