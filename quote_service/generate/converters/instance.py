"""One warm LibreOffice: an `unoserver` process and its `soffice.bin`, in a process group.

Each instance owns a pair of ports (XML-RPC, UNO) and a runtime folder named after its port,
holding its private profile, its log and a pid file. The pair is claimed with an exclusive
`flock` on `<port>.lock`, held for as long as the instance is in use: a second worker process
on the same machine skips to the next free pair, and since the kernel drops the lock when its
owner dies (even by SIGKILL), whoever claims a pair next knows that any process group named in
its pid file is an orphan and kills it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
import xmlrpc.client
from pathlib import Path

from quote_service.generate.converter import ConversionError, ConversionTimeout
from quote_service.generate.converters import rpc
from quote_service.generate.converters.process_group import (
    command_line,
    group_members,
    is_office,
    kill_group,
)

log = logging.getLogger(__name__)

SERVER_MODULE = "quote_service.generate.converters.office_server"
PORT_SCAN = 64  # how many port pairs past its own an instance may try
LOG_TAIL = 1500


@functools.cache
def warmup_document() -> bytes:
    """A tiny DOCX in every script we print, so fonts and filters load before real work."""
    from docx import Document

    document = Document()
    document.add_paragraph("Warm-up: Latin Ελληνικά Кириллица 漢字 かな 한글")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports_free(port: int, settle: float) -> bool:
    """Whether `port` and `port + 1` can be bound, waiting up to `settle` seconds."""
    deadline = time.monotonic() + settle
    while not (_port_free(port) and _port_free(port + 1)):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


class Instance:
    """A restartable unoserver process; not thread-safe for conversions (the pool hands it
    to one thread at a time), but `close()` may be called from any thread."""

    def __init__(
        self,
        *,
        index: int,
        base_port: int,
        runtime_dir: Path,
        soffice_path: str,
        python: str,
        start_timeout: float,
        grace: float,
    ) -> None:
        self.index = index
        self.base_port = base_port
        self.runtime_dir = runtime_dir
        self.soffice_path = soffice_path
        self.python = python
        self.start_timeout = start_timeout
        self.grace = grace
        self.port: int | None = None
        self.conversions = 0
        self.broken = False
        self._lock_file: io.BufferedRandom | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._state = threading.Lock()
        self._closed = False

    # -- identity -------------------------------------------------------------------------

    @property
    def uno_port(self) -> int | None:
        return None if self.port is None else self.port + 1

    @property
    def folder(self) -> Path:
        return self.runtime_dir / str(self.port)

    @property
    def pgid(self) -> int | None:
        """The process group of the running server (its leader's pid), if any."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- ports and orphans ------------------------------------------------------------------

    def _claim_ports(self) -> None:
        """Lock the first free port pair at or after this instance's own; kill orphans."""
        self.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for step in range(PORT_SCAN):
            port = self.base_port + 2 * (self.index + step)
            lock_file = open(self.runtime_dir / f"{port}.lock", "a+b")  # noqa: SIM115
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock_file.close()  # another live instance owns this pair
                continue
            # A killed orphan's sockets close a moment after its processes are gone.
            settle = 3.0 if self._kill_orphan(port) else 0.0
            if _ports_free(port, settle):
                self.port, self._lock_file = port, lock_file
                return
            lock_file.close()
            log.info("ports %d-%d are taken by another program; trying the next pair",
                     port, port + 1)
        raise ConversionError(
            f"no free port pair for LibreOffice among {PORT_SCAN} from {self.base_port}"
        )

    def _kill_orphan(self, port: int) -> bool:
        """Kill the process group a dead owner recorded for this port pair, if it is ours."""
        pid_file = self.runtime_dir / str(port) / "instance.json"
        try:
            record = json.loads(pid_file.read_text())
            pgid, profile = int(record["pgid"]), str(record["profile"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        members = group_members(pgid)
        killed = bool(members) and any(profile in command_line(pid) for pid in members)
        if killed:
            log.warning("killing orphaned LibreOffice process group %d (port %d)", pgid, port)
            kill_group(pgid, self.grace)
        pid_file.unlink(missing_ok=True)
        return killed

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the server and wait until it has converted a warm-up document."""
        with self._state:
            if self._closed:
                raise ConversionError("converter is closed")
            if self.port is None:
                self._claim_ports()
            process = self._spawn()
            self._process = process
        started = time.monotonic()
        try:
            self._wait_ready(process)
            rpc.convert_to_pdf(self.port, warmup_document(), self.start_timeout)
        except (ConversionError, TimeoutError, xmlrpc.client.Fault, *rpc.CONNECTION_ERRORS) as exc:
            self.stop()
            raise ConversionError(
                f"LibreOffice on port {self.port} did not start: {exc}; log: {self._log_tail()}"
            ) from exc
        self.conversions = 0
        self.broken = False
        log.info("LibreOffice instance %d ready on port %d in %.1f s (pgid %d)",
                 self.index, self.port, time.monotonic() - started, process.pid)

    def _spawn(self) -> subprocess.Popen[bytes]:
        folder = self.folder
        profile, temp = folder / "profile", folder / "tmp"
        for stale in (profile, temp):
            shutil.rmtree(stale, ignore_errors=True)
        temp.mkdir(parents=True)
        command = [
            self.python, "-m", SERVER_MODULE,
            "--interface", "127.0.0.1", "--port", str(self.port),
            "--uno-interface", "127.0.0.1", "--uno-port", str(self.uno_port),
            "--user-installation", str(profile),
            "--temp-dir", str(temp),
            "--executable", self.soffice_path,
        ]
        with open(folder / "server.log", "wb") as log_file:
            try:
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log_file,
                    stderr=subprocess.STDOUT, start_new_session=True, cwd=folder,
                    env={**os.environ, "TMPDIR": str(temp)},  # LibreOffice's lu*.tmp folders
                )
            except OSError as exc:
                raise ConversionError(f"cannot start {self.python} -m {SERVER_MODULE}: {exc}") \
                    from exc
        record = {"pgid": process.pid, "owner": os.getpid(), "port": self.port,
                  "profile": str(profile)}
        (folder / "instance.json").write_text(json.dumps(record))
        return process

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if process.poll() is not None:
                raise ConversionError(f"unoserver exited with status {process.returncode}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConversionError(f"no answer within {self.start_timeout:g} s")
            try:
                rpc.ping(self.port, min(2.0, remaining))
                return
            except (*rpc.CONNECTION_ERRORS, xmlrpc.client.Fault):
                time.sleep(0.1)

    def _log_tail(self) -> str:
        try:
            text = (self.folder / "server.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return text.strip()[-LOG_TAIL:].replace("\n", " | ")

    def stop(self) -> None:
        """Kill the whole process group (grace, then SIGKILL); keep the port pair claimed."""
        with self._state:
            process, self._process = self._process, None
        if process is None:
            return
        if not kill_group(process.pid, self.grace):
            log.error("process group %d survived SIGKILL", process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=self.grace)
        if self.port is not None:
            (self.folder / "instance.json").unlink(missing_ok=True)
            for scratch in ("profile", "tmp"):
                shutil.rmtree(self.folder / scratch, ignore_errors=True)

    def close(self) -> None:
        """Stop for good and give the port pair back."""
        with self._state:
            self._closed = True
        self.stop()
        with self._state:
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    # -- work -----------------------------------------------------------------------------

    def convert(self, docx: bytes, timeout: float) -> bytes:
        """Convert; on a timeout or a dead server, kill the group and mark it broken."""
        if self.port is None:
            raise ConversionError("instance was never started")
        try:
            pdf = rpc.convert_to_pdf(self.port, docx, timeout)
        except TimeoutError:
            self._fail()
            raise ConversionTimeout(
                f"LibreOffice on port {self.port} did not finish within {timeout:g} s; "
                "its process group was killed"
            ) from None
        except xmlrpc.client.Fault as fault:
            if not self._office_alive():
                self._fail()
            raise ConversionError(f"LibreOffice refused the document: {fault.faultString}") \
                from None
        except rpc.CONNECTION_ERRORS as exc:
            self._fail()
            raise ConversionError(f"LibreOffice on port {self.port} is gone: {exc!r}") from exc
        self.conversions += 1
        return pdf

    def _fail(self) -> None:
        self.broken = True
        self.stop()

    def _office_alive(self) -> bool:
        """Whether this group still has a soffice.bin (unoserver outlives a crashed office)."""
        if not self.running or self.pgid is None:
            return False
        return any(is_office(pid) for pid in group_members(self.pgid))
