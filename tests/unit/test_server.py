"""`quote-service serve --bind`: what it listens on, as the SECRET_KEY check reads it."""

import pytest

from quote_service.web.server import listening_address


@pytest.mark.parametrize(("bind", "address"), [
    ("127.0.0.1:8000", ("127.0.0.1", 8000)),
    ("0.0.0.0:80", ("0.0.0.0", 80)),
    ("[::]:8000", ("::", 8000)),
    ("[::1]:9", ("::1", 9)),
])
def test_a_bind_is_host_and_port(bind, address):
    assert listening_address(bind) == address


@pytest.mark.parametrize("bind", ["8000", ":8000", "host:", "host:http", "host:0", "h:65536"])
def test_anything_else_is_refused(bind):
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        listening_address(bind)
