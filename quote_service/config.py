"""Configuration read from the environment (and an optional `.env` file).

Everything is validated once, at start, so that bad configuration fails with one clear line
naming the variable instead of a traceback deep inside a job.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from quote_service.domain.locales import DEFAULT_LOCALE, SUPPORTED_LOCALES, canonical

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_SECRET_KEY = "dev-only-not-secret"
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(Exception):
    """A configuration variable is missing or invalid; the message names it."""


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is invalid: expected one of {', '.join(allowed)}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    return _choice(env, name, "false", ("true", "false", "1", "0", "yes", "no")) in (
        "true", "1", "yes")


def _number(env: Mapping[str, str], name: str, default: float, cast=float, minimum: float = 0):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return cast(default)
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is invalid: expected a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} is invalid: must be at least {minimum}")
    return value


def _is_loopback(url: str) -> bool:
    """Whether `url` names this machine only (localhost, 127.0.0.0/8, ::1): a service reachable
    under another name is reachable by others."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return _is_loopback_host(host or "")


def _is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        # "::ffff:127.0.0.1" (an IPv4 loopback seen through an IPv6 socket) is loopback too.
        address = ipaddress.ip_address(host.split("%")[0])
        return address.is_loopback or bool(getattr(address, "ipv4_mapped", None)
                                            and address.ipv4_mapped.is_loopback)
    except ValueError:
        return False


def _socket_name(address: Any) -> str:
    if not isinstance(address, tuple):
        return f"unix:{address}"
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _time_zone(env: Mapping[str, str]) -> str:
    """TIME_ZONE: an IANA name (Europe/Berlin); a quotation expires at the end of its
    valid_until day there."""
    name = (env.get("TIME_ZONE") or "UTC").strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIME_ZONE={name!r} is invalid: expected a time zone such as "
                          "Europe/Berlin or UTC") from None
    return name


def _locale(env: Mapping[str, str]) -> str:
    """LOCALE: what a quotation that names no locale of its own is written in."""
    raw = env.get("LOCALE") or DEFAULT_LOCALE
    found = canonical(raw)
    if found is None:
        raise ConfigError(f"LOCALE={raw.strip()!r} is invalid: expected one of "
                          f"{', '.join(SUPPORTED_LOCALES)}")
    return found


def _path(env: Mapping[str, str], name: str, default: str) -> Path:
    path = Path(env.get(name) or default)
    return path if path.is_absolute() else PROJECT_ROOT / path


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str = "postgresql:///quote_service"
    secret_key: str = DEVELOPMENT_SECRET_KEY
    public_base_url: str = "http://localhost:8000"

    storage_backend: str = "local"
    storage_dir: Path = PROJECT_ROOT / "var" / "storage"
    gcs_bucket: str | None = None
    gcs_credentials_file: str | None = None
    signed_url_seconds: int = 900

    mail_backend: str = "outbox"
    outbox_dir: Path = PROJECT_ROOT / "var" / "outbox"
    mail_from: str = "quotes@localhost"
    sendgrid_api_key: str | None = None
    sendgrid_api_host: str = "https://api.sendgrid.com"
    sendgrid_timeout: float = 20.0
    sendgrid_webhook_public_key: str | None = None

    converter: str = "auto"
    convert_timeout: float = 60.0
    converter_slots: int = 1
    converter_max_conversions: int = 200
    converter_base_port: int = 2003
    soffice_path: str = "soffice"

    max_attempts: int = 5
    worker_heartbeat_seconds: float = 5.0
    stalled_worker_seconds: int = 30
    stalled_check_seconds: int = 15
    retry_base_seconds: float = 2.0
    job_retention_hours: int = 168
    db_pool_timeout: float = 3.0
    trusted_proxies: int = 0
    metrics_token: str | None = None
    sales_see_team: bool = False
    resend_limit_per_quotation: int = 5
    resend_limit_per_recipient: int = 5
    resend_window_seconds: int = 3600
    pdf_link_days: int = 90
    time_zone: str = "UTC"
    locale: str = "en-GB"
    company_name: str = "Northwind Supplies Ltd"
    company_address: str = "12 Harbour Road\nBristol BS1 4XX\nUnited Kingdom"
    log_format: str = "text"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (default: the process environment); raise ConfigError."""
        env = os.environ if env is None else env
        settings = cls(
            database_url=env.get("DATABASE_URL") or cls.database_url,
            secret_key=env.get("SECRET_KEY") or cls.secret_key,
            public_base_url=(env.get("PUBLIC_BASE_URL") or cls.public_base_url).rstrip("/"),
            storage_backend=_choice(env, "STORAGE_BACKEND", "local", ("local", "gcs")),
            storage_dir=_path(env, "STORAGE_DIR", "var/storage"),
            gcs_bucket=env.get("GCS_BUCKET") or None,
            gcs_credentials_file=env.get("GOOGLE_APPLICATION_CREDENTIALS") or None,
            signed_url_seconds=_number(env, "SIGNED_URL_SECONDS", 900, int, 1),
            mail_backend=_choice(env, "MAIL_BACKEND", "outbox", ("outbox", "sendgrid")),
            outbox_dir=_path(env, "OUTBOX_DIR", "var/outbox"),
            mail_from=env.get("MAIL_FROM") or cls.mail_from,
            sendgrid_api_key=env.get("SENDGRID_API_KEY") or None,
            sendgrid_api_host=env.get("SENDGRID_API_HOST") or cls.sendgrid_api_host,
            sendgrid_timeout=_number(env, "SENDGRID_TIMEOUT", 20.0, float, 0.1),
            sendgrid_webhook_public_key=env.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
            converter=_choice(env, "CONVERTER", "auto", ("auto", "unoserver", "soffice")),
            convert_timeout=_number(env, "CONVERT_TIMEOUT", 60.0, float, 1),
            converter_slots=_number(env, "CONVERTER_SLOTS", 1, int, 1),
            converter_max_conversions=_number(env, "CONVERTER_MAX_CONVERSIONS", 200, int, 1),
            converter_base_port=_number(env, "CONVERTER_BASE_PORT", 2003, int, 1024),
            soffice_path=env.get("SOFFICE_PATH") or cls.soffice_path,
            max_attempts=_number(env, "JOB_MAX_ATTEMPTS", 5, int, 1),
            worker_heartbeat_seconds=_number(env, "WORKER_HEARTBEAT_SECONDS", 5.0, float, 0.5),
            stalled_worker_seconds=_number(env, "STALLED_WORKER_SECONDS", 30, int, 2),
            stalled_check_seconds=_number(env, "STALLED_CHECK_SECONDS", 15, int, 1),
            retry_base_seconds=_number(env, "JOB_RETRY_BASE_SECONDS", 2.0, float, 0),
            job_retention_hours=_number(env, "JOB_RETENTION_HOURS", 168, int, 1),
            db_pool_timeout=_number(env, "DB_POOL_TIMEOUT", 3.0, float, 0.1),
            trusted_proxies=_number(env, "TRUSTED_PROXIES", 0, int, 0),
            metrics_token=env.get("METRICS_TOKEN") or None,
            sales_see_team=_flag(env, "SALES_SEE_TEAM"),
            resend_limit_per_quotation=_number(env, "RESEND_LIMIT_PER_QUOTATION", 5, int, 1),
            resend_limit_per_recipient=_number(env, "RESEND_LIMIT_PER_RECIPIENT", 5, int, 1),
            resend_window_seconds=_number(env, "RESEND_WINDOW_SECONDS", 3600, int, 1),
            pdf_link_days=_number(env, "PDF_LINK_DAYS", 90, int, 1),
            time_zone=_time_zone(env),
            locale=_locale(env),
            company_name=env.get("COMPANY_NAME") or cls.company_name,
            company_address=(env.get("COMPANY_ADDRESS") or cls.company_address).replace("\\n", "\n"),
            log_format=_choice(env, "LOG_FORMAT", "text", ("text", "json")),
        )
        settings.check()
        return settings

    def today(self) -> dt.date:
        """Today's date in TIME_ZONE: what `valid_until` is compared with."""
        return dt.datetime.now(zoneinfo.ZoneInfo(self.time_zone)).date()

    def check(self) -> None:
        """Cross-field checks: a backend chosen without what it needs, a guessable secret key."""
        self._check_secret_key()
        try:
            conninfo_to_dict(self.database_url)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"DATABASE_URL is invalid: {str(exc).strip()}") from None
        if self.storage_backend == "gcs" and not self.gcs_bucket:
            raise ConfigError("GCS_BUCKET is required when STORAGE_BACKEND=gcs")
        if self.mail_backend == "sendgrid" and not self.sendgrid_api_key:
            raise ConfigError("SENDGRID_API_KEY is required when MAIL_BACKEND=sendgrid")
        if self.storage_backend == "gcs" and self.signed_url_seconds > 7 * 24 * 3600:
            raise ConfigError("SIGNED_URL_SECONDS is invalid: V4 signed URLs last at most 604800 s")
        if self.sendgrid_webhook_public_key:
            from quote_service.deliver.mail.webhook import load_public_key

            try:
                load_public_key(self.sendgrid_webhook_public_key)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if self.stalled_worker_seconds <= 2 * self.worker_heartbeat_seconds:
            raise ConfigError("STALLED_WORKER_SECONDS is invalid: must exceed two heartbeats "
                              "(WORKER_HEARTBEAT_SECONDS)")
        if "@" not in self.mail_from:
            raise ConfigError(f"MAIL_FROM={self.mail_from!r} is invalid: expected an email address")

    def _check_secret_key(self) -> None:
        """SECRET_KEY signs the session cookies: with the public development value anyone can
        forge one. Any process refuses it while PUBLIC_BASE_URL or TRUSTED_PROXIES say that
        others reach the service; `quote-service serve` also checks where it listens
        (`check_listening`), which is what decides who can send it requests."""
        if self.trusted_proxies:
            exposed = f"TRUSTED_PROXIES={self.trusted_proxies} (a proxy serves it to others)"
        elif not _is_loopback(self.public_base_url):
            exposed = f"PUBLIC_BASE_URL={self.public_base_url} is not a local address"
        else:
            return
        self._refuse_weak_secret_key(exposed)

    def check_listening(self, addresses: list[Any]) -> None:
        """Refuse a weak SECRET_KEY when the server listens on anything but loopback.
        `addresses` are the listening sockets' `getsockname()` values: (host, port, ...) for
        TCP, a path for a Unix socket (the usual way to put a proxy in front, so not local)."""
        for address in addresses:
            if not (isinstance(address, tuple) and _is_loopback_host(address[0])):
                self._refuse_weak_secret_key(f"the server listens on {_socket_name(address)}, "
                                             "which is not loopback only")

    def _refuse_weak_secret_key(self, exposed: str) -> None:
        if self.secret_key == DEVELOPMENT_SECRET_KEY:
            problem = "is unset or the public development value"
        elif len(self.secret_key.strip()) < MIN_SECRET_KEY_LENGTH:
            problem = f"is too short (at least {MIN_SECRET_KEY_LENGTH} characters)"
        else:
            return
        raise ConfigError(
            f"SECRET_KEY {problem} while {exposed}; make one with: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")


def load_dotenv_file() -> None:
    """Load `.env` from the project root if present; real environment variables win."""
    from dotenv import load_dotenv

    load_dotenv(PROJECT_ROOT / ".env", override=False)
