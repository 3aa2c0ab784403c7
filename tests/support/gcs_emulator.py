"""A GCS emulator for tests: `gcp-storage-emulator` as a subprocess, behind a small proxy.

The emulator ignores `ifGenerationMatch`, so on its own it would overwrite an existing object
where real GCS answers 412. The proxy restores that rule for uploads (answering 412 the way GCS
does) and can lose the answer to an upload it did forward, which is how the client's own retry
ends up meeting a 412 in production. It can also hold the next upload unanswered, so that a
test knows its client is inside the upload (and can kill the process that sent it).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler

import pytest

from tests.support.local_server import serving
from tests.support.ports import free_port

_PRECONDITION_MESSAGE = "At least one of the pre-conditions you specified did not hold."
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
HOLD_LIMIT_SECONDS = 120.0  # a held upload a test forgot to release ends after this


@contextlib.contextmanager
def emulator_process(bucket: str, startup_seconds: float = 15.0) -> Iterator[str]:
    """Run the emulator with `bucket` created; yield its base URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "gcp_storage_emulator", "start", "--host=127.0.0.1",
        f"--port={port}", "--in-memory", f"--default-bucket={bucket}", "--quiet",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(process, port, bucket, startup_seconds)
        yield base_url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stderr:
            process.stderr.close()


def _wait_until_serving(process: subprocess.Popen, port: int, bucket: str, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"gcp-storage-emulator exited: {error[-2000:]}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", f"/storage/v1/b/{bucket}")
            if connection.getresponse().status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError("gcp-storage-emulator did not start in time")


@dataclass
class PreconditionProxy:
    """Forwards to the emulator; enforces `ifGenerationMatch=0` on uploads like GCS does."""

    upstream: str
    url: str = ""
    uploads: int = 0
    refused: int = 0
    lose_next_upload_answer: bool = False
    holding: threading.Event = field(default_factory=threading.Event)  # an upload is held
    _hold_next: str | None = None  # "before" or "after" forwarding
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hold_next_upload(self, *, stored: bool) -> None:
        """Leave the next upload unanswered until `release()`, its client waiting as on a
        stalled network. stored=False: the upload never reaches the emulator (on release it
        is dropped); stored=True: it is forwarded first, so the object is stored and only
        its answer is lost. Either way its connection is then closed without an answer;
        later requests are forwarded as usual."""
        with self._lock:
            self._hold_next = "after" if stored else "before"
            self.holding.clear()
            self._released.clear()

    def release(self) -> None:
        """End the hold: the held upload's connection closes unanswered."""
        self._released.set()

    def _hold(self, handler: BaseHTTPRequestHandler) -> None:
        self.holding.set()
        self._released.wait(HOLD_LIMIT_SECONDS)
        handler.close_connection = True

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(handler.path)
        query = urllib.parse.parse_qs(parsed.query)
        is_upload = handler.command == "POST" and parsed.path.startswith("/upload/storage/v1/b/")
        if is_upload:
            with self._lock:
                self.uploads += 1
                lose_answer, self.lose_next_upload_answer = self.lose_next_upload_answer, False
                hold, self._hold_next = self._hold_next, None
            if hold == "before":
                self._hold(handler)
                return
            must_be_new = query.get("ifGenerationMatch") == ["0"]
            if must_be_new and self._exists(parsed.path, query, handler, body):
                with self._lock:
                    self.refused += 1
                _send_gcs_error(handler, 412, _PRECONDITION_MESSAGE)
                return
            status, headers, answer = self._forward(handler, body)
            if hold == "after":
                self._hold(handler)
                return
            if lose_answer:
                handler.close_connection = True  # the object is stored; its answer never arrives
                return
        else:
            status, headers, answer = self._forward(handler, body)
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer)))
        handler.end_headers()
        handler.wfile.write(answer)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes):
        upstream = urllib.parse.urlsplit(self.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=10)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(handler.command, handler.path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _exists(self, path: str, query: dict, handler: BaseHTTPRequestHandler, body: bytes) -> bool:
        bucket = path.split("/")[5]
        name = (query.get("name") or [None])[0] or _multipart_object_name(handler, body)
        upstream = urllib.parse.urlsplit(self.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=10)
        try:
            quoted = urllib.parse.quote(name, safe="")
            connection.request("GET", f"/storage/v1/b/{bucket}/o/{quoted}")
            response = connection.getresponse()
            response.read()
            return response.status == 200
        finally:
            connection.close()


def _multipart_object_name(handler: BaseHTTPRequestHandler, body: bytes) -> str:
    """The object name in the JSON part of a multipart upload."""
    head = f"Content-Type: {handler.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser().parsebytes(head + body)
    metadata = json.loads(message.get_payload()[0].get_payload(decode=True))
    return metadata["name"]


def _send_gcs_error(handler: BaseHTTPRequestHandler, status: int, message: str) -> None:
    body = json.dumps(
        {"error": {"code": status, "message": message, "errors": [{"message": message}]}}
    ).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=UTF-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextlib.contextmanager
def precondition_proxy(upstream: str) -> Iterator[PreconditionProxy]:
    """Serve a PreconditionProxy for `upstream` on a free local port."""
    proxy = PreconditionProxy(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_request(self) -> None:
            proxy.handle(self)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_request

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as (_, proxy.url):
        try:
            yield proxy
        finally:
            proxy.release()  # a held upload returns before the server stops


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """The emulator's base URL, with the bucket `quotes-test` created."""
    with emulator_process("quotes-test") as url:
        yield url
