"""Entry point of a pool instance: unoserver's server, loading documents hidden.

Run by the pool as `python -m quote_service.generate.converters.office_server ARGS`, with the
arguments of `unoserver` (this module must run under a Python that can `import uno`).

unoserver gives LibreOffice a fixed 5 s to start (then 2 s more to its XML-RPC thread), though
it is ready in about one: the server here starts its XML-RPC side as soon as LibreOffice
accepts connections on its UNO port, probed every 50 ms. The pool, in turn, probes the XML-RPC
port (instance.py), so an instance is ready when it really is, never after a sleep.

unoserver opens each document as a visible one, so LibreOffice builds a view and lays the
document out for it before exporting; loaded with `Hidden=True` the same PDF comes out about a
third faster (measured in docs/benchmarks.md). unoserver has no option for it, so its converter
is given a desktop whose `loadComponentFromURL` adds the property. If a future unoserver stops
looking its converter class up at start, documents are simply loaded visible again.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import sys
import threading
import time

import uno  # noqa: F401  (installs the import hook for the `com.sun.star` modules)
from com.sun.star.beans import PropertyValue
from unoserver import converter, server

log = logging.getLogger("unoserver")

START_TIMEOUT = 60.0
PROBE_SECONDS = 0.05


class _HiddenDesktop:
    """The LibreOffice desktop, except that every document it loads is hidden."""

    def __init__(self, desktop) -> None:
        self._desktop = desktop

    def loadComponentFromURL(self, url, frame, flags, properties):  # noqa: N802 (UNO name)
        hidden = PropertyValue(Name="Hidden", Value=True)
        return self._desktop.loadComponentFromURL(url, frame, flags, (*properties, hidden))

    def __getattr__(self, name):
        return getattr(self._desktop, name)


class HiddenLoadingConverter(converter.UnoConverter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.desktop = _HiddenDesktop(self.desktop)
        log.info("Documents are loaded hidden.")


def _wait_for_port(host: str, port: int, process: subprocess.Popen, timeout: float) -> bool:
    """Whether something accepts connections on host:port before `process` exits or the
    timeout passes."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(PROBE_SECONDS)
    return False


class ProbingServer(server.UnoServer):
    """unoserver's server (3.7), starting its XML-RPC side once LibreOffice answers."""

    def start(self, executable: str = "libreoffice"):
        connection = (f"socket,host={self.uno_interface},port={self.uno_port},tcpNoDelay=1;urp;"
                      "StarOffice.ComponentContext")
        command = [executable, "--headless", "--invisible", "--nocrashreport", "--nodefault",
                   "--nologo", "--nofirststartwizard", "--norestore",
                   f"-env:UserInstallation={self.user_installation}", f"--accept={connection}"]
        log.info("Command: %s", " ".join(command))
        self.libreoffice_process = subprocess.Popen(command)
        self.xmlrcp_thread = threading.Thread(None, self.serve)

        def forward(signum, frame):  # as unoserver does: stop LibreOffice with us
            self.intentional_exit = True
            with contextlib.suppress(ProcessLookupError):
                self.libreoffice_process.send_signal(signum)
            if self.xmlrcp_server is not None:
                self.stop()

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, forward)
        if not _wait_for_port(self.uno_interface, int(self.uno_port), self.libreoffice_process,
                              START_TIMEOUT):
            log.critical("LibreOffice did not accept connections on port %s", self.uno_port)
            self.libreoffice_process.terminate()
            return None
        self.xmlrcp_thread.start()
        return self.libreoffice_process


def main() -> int:
    converter.UnoConverter = HiddenLoadingConverter
    server.UnoServer = ProbingServer
    return server.main() or 0


if __name__ == "__main__":
    sys.exit(main())
