"""The development SECRET_KEY against the real web server: refused before any worker starts,
once, whenever the server listens beyond loopback, whatever PUBLIC_BASE_URL says; accepted on
loopback, so the demo and the tests need no configuration."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from quote_service.config import DEVELOPMENT_SECRET_KEY
from quote_service.demo import start, stop, wait_until
from tests.support.ports import free_port
from tests.support.stack import BIN

pytestmark = pytest.mark.acceptance

STRONG_KEY = "k" * 48


def web_server(bind: str) -> list[str]:
    return [str(BIN / "quote-service"), "serve", "--bind", bind, "--workers", "2"]


def environment(settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "PUBLIC_BASE_URL", "TRUSTED_PROXIES")}
    return {**env, "DATABASE_URL": settings.database_url, **extra}


def forged_admin_cookie(user_id: int) -> str:
    """What the attack did: a session cookie signed with the public development key, naming
    a user (as it did before sessions were rows) and a session id (as it would now)."""
    interface = SecureCookieSessionInterface()
    serializer = URLSafeTimedSerializer(DEVELOPMENT_SECRET_KEY, salt=interface.salt,
                                        serializer=interface.serializer,
                                        signer_kwargs={"key_derivation": "hmac",
                                                       "digest_method": interface.digest_method})
    return serializer.dumps({"user_id": user_id, "user_version": 1,
                             "signed_in_at": int(time.time()), "sid": "guessed"})


@pytest.mark.parametrize("bind_host", ["0.0.0.0", "[::]"])
def test_the_development_key_stops_a_server_listening_beyond_loopback(settings, bind_host):
    result = subprocess.run(web_server(f"{bind_host}:{free_port()}"),
                            env=environment(settings), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("configuration error: SECRET_KEY is unset or the public "
                                "development value while the server listens on")
    assert "Spawning worker" not in result.stderr and "Traceback" not in result.stderr


def test_a_short_key_is_refused_too(settings):
    result = subprocess.run(web_server(f"0.0.0.0:{free_port()}"),
                            env=environment(settings, SECRET_KEY="x" * 31),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY is too short (at least 32 characters)" in result.stderr


@pytest.mark.parametrize("key", [None, STRONG_KEY])
def test_loopback_takes_any_key_and_a_real_key_serves_everywhere(settings, tmp_path, key,
                                                                 make_user):
    port = free_port()
    bind = "127.0.0.1" if key is None else "0.0.0.0"
    env = environment(settings, **({"SECRET_KEY": key} if key else {}))
    web = start(web_server(f"{bind}:{port}"), tmp_path / "web.log", env)
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: urllib.request.urlopen(f"{base}/healthz").status == 200, 30), \
            (tmp_path / "web.log").read_text()
        # The forged cookie of the attack opens nothing, even where the key is the public one:
        # a session is a row in the database, not only a signature.
        admin = make_user("admin")
        request = urllib.request.Request(f"{base}/dashboard", headers={
            "Cookie": f"session={forged_admin_cookie(admin.id)}"})

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            status = opener.open(request).status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == 302
    finally:
        stop(web)
