"""XML-RPC calls to an unoserver process, with a deadline.

unoserver's own `UnoClient` retries a dead server for about 40 s before failing, asks the server
for its filter list before every conversion, and waits forever for an answer. The pool needs
the opposite: one request, bytes in and bytes out, and a socket timeout so that a hung
LibreOffice turns into a ConversionTimeout instead of a stuck worker thread.
"""

from __future__ import annotations

import http.client
import xmlrpc.client

PDF_EXPORT_FILTER = "writer_pdf_Export"


class _TimeoutTransport(xmlrpc.client.Transport):
    """Plain HTTP transport whose connections time out after `timeout` seconds of silence."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host):  # type: ignore[override]
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection


def _proxy(port: int, timeout: float) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(
        f"http://127.0.0.1:{port}", transport=_TimeoutTransport(timeout), allow_none=True
    )


def ping(port: int, timeout: float) -> None:
    """Return once the server answers a trivial call; raise OSError or a protocol error."""
    with _proxy(port, timeout) as proxy:
        proxy.system.listMethods()


def convert_to_pdf(port: int, docx: bytes, timeout: float) -> bytes:
    """Convert in the server's LibreOffice; raise TimeoutError past `timeout` seconds.

    Other failures surface as `xmlrpc.client.Fault` (LibreOffice refused the document) or as
    OSError / `http.client.HTTPException` / `xmlrpc.client.ProtocolError` (the server is gone).
    """
    with _proxy(port, timeout) as proxy:
        result = proxy.convert(
            None,  # inpath: the document travels as bytes, no shared file system needed
            xmlrpc.client.Binary(docx),
            None,  # outpath: the PDF comes back as bytes
            "pdf",
            PDF_EXPORT_FILTER,
            [],
            False,  # update_index: quotations have no table of contents to refresh
            None,
            None,
        )
    if not isinstance(result, xmlrpc.client.Binary):
        raise xmlrpc.client.Fault(0, f"unexpected reply of type {type(result).__name__}")
    return result.data


# What a dead or dying server looks like from the client side.
CONNECTION_ERRORS = (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError)
