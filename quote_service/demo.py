"""`quote-service demo`: the whole path on the embedded defaults, with real processes.

It starts the web server (`quote-service serve`) and a `procrastinate worker`, submits a
sample quotation over HTTP, waits until it is sent (or failed), prints its number and where its
PDF and email are, then stops both processes (whole process groups, so no LibreOffice is left behind).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from quote_service import db
from quote_service.accounts import tokens, users
from quote_service.config import PROJECT_ROOT, Settings

DEMO_ADMIN = "admin@example.com"

SAMPLE = {
    "customer": {"name": "Smith & Sons <Ltd>", "email": "buyer@example.com",
                 "company": "Smith & Sons Ltd", "address": "1 Main St\nSpringfield"},
    "currency": "EUR",
    "notes": "Prices include installation. Typed by a user: {{ 7*7 }}",
    "lines": [
        {"description": "Industrial widget, stainless", "quantity": "2", "unit_price": "99.50",
         "tax_rate": "20"},
        {"description": "Mounting kit", "quantity": "3", "unit_price": "0.335", "tax_rate": "20"},
        {"description": "On-site installation (hours)", "quantity": "4", "unit_price": "65",
         "tax_rate": "20", "discount_pct": "10"},
    ],
}


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start a process in its own process group, output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after `grace` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def http_json(method: str, url: str, body: dict | None = None, headers: dict | None = None
              ) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(interval)
    return False


def demo_token(settings: Settings, echo) -> tuple[str, int]:
    """An API token of the demo admin, created (with a printed password) on first use."""
    with db.connect(settings.database_url) as conn:
        user = users.get_by_email(conn, DEMO_ADMIN)
        if user is None:
            password = secrets.token_urlsafe(12)
            user = users.create(conn, DEMO_ADMIN, role="admin", password=password,
                                name="Demo admin")
            echo(f"created the admin {DEMO_ADMIN} with password {password} (shown once)")
        return tokens.create(conn, user, "demo")


def run_demo(settings: Settings, *, port: int, timeout: float, echo=print,
             locale: str | None = None) -> int:
    """`locale`: the sample's own, or None for the service's LOCALE."""
    base = f"http://127.0.0.1:{port}"
    token, token_id = demo_token(settings, echo)
    auth = {"Authorization": f"Bearer {token}"}
    logs = PROJECT_ROOT / "var" / "log"
    env = {**os.environ, "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", base)}
    echo(f"starting the web server on {base} and a worker (logs in {logs})")
    web = start([_bin("quote-service"), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                 "--threads", "4", "--access-log"], logs / "demo-web.log", env)
    worker = start([_bin("procrastinate"), "--app=jobs.app", "worker", "--concurrency", "1"],
                   logs / "demo-worker.log", env)
    try:
        if not wait_until(lambda: http_json("GET", f"{base}/readyz")[0] == 200, 30):
            echo("the web server did not become ready; see var/log/demo-web.log")
            return 1
        started = time.monotonic()
        sample = SAMPLE if locale is None else {**SAMPLE, "locale": locale}
        status, body = http_json("POST", f"{base}/api/quotations", sample,
                                 {**auth, "Idempotency-Key": f"demo-{dt.datetime.now():%Y%m%d%H%M%S%f}"})
        if status != 202:
            echo(f"submission refused: {status} {body}")
            return 1
        echo(f"submitted {body['number']} (total {body['total']} EUR), waiting for the worker")
        detail: dict = {}

        def finished() -> bool:
            nonlocal detail
            detail = http_json("GET", f"{base}{body['links']['self']}", headers=auth)[1]
            return detail.get("status") in ("sent", "failed")

        if not wait_until(finished, timeout, 0.1):
            echo(f"still {detail.get('status')} after {timeout:.0f} s; see var/log/demo-worker.log")
            return 1
        elapsed = time.monotonic() - started
        if detail["status"] == "failed":
            echo(f"{detail['number']} failed: {detail['last_error']}")
            return 1
        delivery = detail["deliveries"][-1]
        echo(f"number:  {detail['number']}  (submit to email: {elapsed:.1f} s)")
        key = detail["pdf"]["key"]
        echo("pdf:     " + (str(settings.storage_dir / key) if settings.storage_backend == "local"
                            else f"gs://{settings.gcs_bucket}/{key}"))
        if settings.mail_backend == "outbox":
            eml = settings.outbox_dir / f"delivery-{delivery['id']}.eml"
            echo(f"email:   {eml}")
        else:
            echo(f"email:   accepted by SendGrid as {delivery['provider_message_id']}")
        echo(f"page:    {base}/quotations/{detail['id']}")
        return 0
    finally:
        stop(worker)
        stop(web)
        with db.connect(settings.database_url) as conn:
            tokens.revoke(conn, token_id)
        echo("stopped the web server and the worker")
