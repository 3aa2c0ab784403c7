"""A local stand-in for SendGrid's v3 Mail Send API, strict about the payload it accepts.

It checks what SendGrid checks (bearer key, recipients, sender, subject, content order,
base64 attachments, string-only custom_args) and answers a bad payload with SendGrid's error
shape, so a payload the real API would refuse fails here too. Tests script its next answers
(accept, 400, 429, 500, hang past the client's timeout, close the connection without an
answer, or reset it in the middle of one) to drive every outcome through the real client.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import itertools
import json
import re
import socket
import struct
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.support.local_server import serving

ACCEPT = "accept"
BAD_REQUEST = "bad_request"
RATE_LIMIT = "rate_limit"
SERVER_ERROR = "server_error"
HANG = "hang"
DROP = "drop"
RESET = "reset"

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_MIME_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")


@dataclass(frozen=True)
class Reply:
    """One scripted answer; the options only matter to the kinds that use them."""

    kind: str = ACCEPT
    retry_after: str | None = "2"  # RATE_LIMIT: the Retry-After header (None: leave it out)
    rate_limit_reset: int | None = None  # RATE_LIMIT: the X-RateLimit-Reset header (epoch)
    message: str = "The from address does not match a verified Sender Identity."
    hang_seconds: float = 5.0  # HANG: how long to sit on the request before closing


@dataclass
class FakeSendGrid:
    api_key: str = "SG.test-key"
    url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)  # accepted payloads
    message_ids: list[str] = field(default_factory=list)
    requests: int = 0
    _next: deque[Reply] = field(default_factory=deque)
    _always: Reply | None = None
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def reply_next(self, kind: str, **options: Any) -> None:
        """Answer the next request (after those already scripted) this way."""
        self._next.append(Reply(kind, **options))

    def reply_always(self, kind: str, **options: Any) -> None:
        """Answer every request without a scripted reply this way."""
        self._always = Reply(kind, **options)

    def _reply(self) -> Reply:
        with self._lock:
            self.requests += 1
            if self._next:
                return self._next.popleft()
            return self._always or Reply(ACCEPT)

    def _accept(self, payload: dict[str, Any]) -> str:
        with self._lock:
            message_id = f"fake-{next(self._ids):04d}.filterdrecv-test"
            self.messages.append(payload)
            self.message_ids.append(message_id)
            return message_id


def validate(payload: Any) -> list[dict[str, Any]]:
    """The errors SendGrid would report for this Mail Send body, in its own format."""
    errors: list[dict[str, Any]] = []

    def error(message: str, field_name: str | None) -> None:
        errors.append({"message": message, "field": field_name, "help": None})

    if not isinstance(payload, dict):
        error("Bad Request", None)
        return errors
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        error(
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
        )
    else:
        for i, personalization in enumerate(personalizations):
            to = personalization.get("to") if isinstance(personalization, dict) else None
            if not isinstance(to, list) or not to:
                error(
                    "The to array is required for all personalization objects, "
                    "and must have at least one email object with a valid email address.",
                    f"personalizations.{i}.to",
                )
                continue
            for j, recipient in enumerate(to):
                address = recipient.get("email") if isinstance(recipient, dict) else None
                if not isinstance(address, str) or not _EMAIL.fullmatch(address):
                    error("Does not contain a valid address.", f"personalizations.{i}.to.{j}.email")
    sender = payload.get("from")
    address = sender.get("email") if isinstance(sender, dict) else None
    if not isinstance(address, str) or not _EMAIL.fullmatch(address):
        error(
            "The from object must be provided for every email send. It is an object that "
            "requires an email parameter, but may also contain a name parameter.",
            "from.email",
        )
    if not isinstance(payload.get("subject"), str) or not payload["subject"].strip():
        error(
            "The subject is required. You can get around this requirement if you use a "
            "template with a subject defined or if every personalization has a subject "
            "defined.",
            "subject",
        )
    _validate_content(payload.get("content"), error)
    _validate_attachments(payload.get("attachments"), error)
    custom_args = payload.get("custom_args")
    if custom_args is not None:
        if not isinstance(custom_args, dict) or not all(isinstance(v, str) for v in custom_args.values()):
            error("Invalid type. Expected: string, given: a non-string value.", "custom_args")
        elif len(json.dumps(custom_args)) > 10000:
            error("Custom args must be less than 10000 bytes.", "custom_args")
    return errors


def _validate_content(content: Any, error) -> None:
    if not isinstance(content, list) or not content:
        error(
            "Unless a valid template_id is provided, the content parameter is required. "
            "There must be at least one defined content block.",
            "content",
        )
        return
    types = [block.get("type") if isinstance(block, dict) else None for block in content]
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("value"), str) or not (block["value"]):
            error(
                "The content value must be a string at least one character in length.",
                f"content.{i}.value",
            )
    if "text/plain" in types and types[0] != "text/plain":
        error(
            "The text/plain content type must be first, followed by any other content types.",
            "content",
        )
    if (
        "text/html" in types
        and "text/plain" in types
        and (types.index("text/html") < types.index("text/plain"))
    ):
        error("The text/html content type must come after text/plain.", "content")


def _validate_attachments(attachments: Any, error) -> None:
    if attachments is None:
        return
    if not isinstance(attachments, list):
        error("The attachments field must be an array.", "attachments")
        return
    for i, attachment in enumerate(attachments):
        if not isinstance(attachment, dict):
            error("Bad Request", f"attachments.{i}")
            continue
        try:
            base64.b64decode(attachment.get("content") or "", validate=True)
        except (binascii.Error, TypeError):
            error("The attachment content must be base64 encoded.", f"attachments.{i}.content")
        if not attachment.get("content"):
            error("The attachment content is required.", f"attachments.{i}.content")
        if not isinstance(attachment.get("filename"), str) or not attachment["filename"]:
            error("The attachment filename parameter is required.", f"attachments.{i}.filename")
        kind = attachment.get("type")
        if kind is not None and (not isinstance(kind, str) or not _MIME_TYPE.fullmatch(kind)):
            error("The attachment type must be a valid MIME type.", f"attachments.{i}.type")
        if attachment.get("disposition", "attachment") not in ("attachment", "inline"):
            error("The disposition must be attachment or inline.", f"attachments.{i}.disposition")


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        fake: FakeSendGrid = self.server.fake  # set by running_fake_sendgrid
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v3/mail/send":
            self._json(404, [{"message": "resource not found", "field": None, "help": None}])
            return
        if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
            self._json(
                401,
                [
                    {
                        "message": "The provided authorization grant is invalid, expired, or revoked",
                        "field": None,
                        "help": None,
                    }
                ],
            )
            return
        reply = fake._reply()
        if reply.kind == DROP:
            self.close_connection = True  # the request was read; its answer never comes
        elif reply.kind == RESET:
            # A TCP reset instead of an answer, as a crashing proxy or load balancer sends.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.wfile = io.BytesIO()  # what the base class flushes after us goes nowhere
            self.connection.close()
        elif reply.kind == HANG:
            fake.stopping.wait(reply.hang_seconds)
            self.close_connection = True
        elif reply.kind == RATE_LIMIT:
            headers = {
                "Retry-After": reply.retry_after,
                "X-RateLimit-Reset": reply.rate_limit_reset,
            }
            self._json(
                429,
                [{"message": "too many requests", "field": None, "help": None}],
                {k: str(v) for k, v in headers.items() if v is not None},
            )
        elif reply.kind == SERVER_ERROR:
            self._json(500, [{"message": "internal error", "field": None, "help": None}])
        elif reply.kind == BAD_REQUEST:
            self._json(400, [{"message": reply.message, "field": "from", "help": None}])
        else:
            self._accept(fake, body)

    def _accept(self, fake: FakeSendGrid, body: bytes) -> None:
        try:
            payload = json.loads(body)
        except ValueError:
            self._json(400, [{"message": "Bad Request", "field": None, "help": None}])
            return
        errors = validate(payload)
        if errors:
            self._json(400, errors)
            return
        message_id = fake._accept(payload)
        self.send_response(202)
        self.send_header("X-Message-Id", message_id)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _json(self, status: int, errors: list[dict], headers: dict[str, str] | None = None):
        body = json.dumps({"errors": errors}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def running_fake_sendgrid(api_key: str = "SG.test-key") -> Iterator[FakeSendGrid]:
    """Serve a FakeSendGrid on a free port of 127.0.0.1 for the duration of the block."""
    fake = FakeSendGrid(api_key=api_key)
    with serving(_Handler) as (server, fake.url):
        server.fake = fake
        try:
            yield fake
        finally:
            fake.stopping.set()  # before the server waits for its handlers: hung ones return


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    """A fresh fake SendGrid server for one test."""
    with running_fake_sendgrid() as fake:
        yield fake
