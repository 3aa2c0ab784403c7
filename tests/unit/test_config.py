import pytest

from quote_service.config import ConfigError, Settings


def test_defaults_are_the_embedded_backends():
    settings = Settings.from_env({})
    assert (settings.storage_backend, settings.mail_backend, settings.converter) == (
        "local", "outbox", "auto")
    assert settings.database_url == "postgresql:///quote_service"
    assert (settings.job_retention_hours, settings.trusted_proxies, settings.metrics_token) == (
        168, 0, None)


@pytest.mark.parametrize(("env", "variable"), [
    ({"STORAGE_BACKEND": "s3"}, "STORAGE_BACKEND"),
    ({"STORAGE_BACKEND": "gcs"}, "GCS_BUCKET"),
    ({"MAIL_BACKEND": "sendgrid"}, "SENDGRID_API_KEY"),
    ({"CONVERTER": "word"}, "CONVERTER"),
    ({"CONVERT_TIMEOUT": "soon"}, "CONVERT_TIMEOUT"),
    ({"JOB_MAX_ATTEMPTS": "0"}, "JOB_MAX_ATTEMPTS"),
    ({"DATABASE_URL": "http://x y"}, "DATABASE_URL"),
    ({"MAIL_FROM": "nobody"}, "MAIL_FROM"),
    ({"STALLED_CHECK_SECONDS": "0"}, "STALLED_CHECK_SECONDS"),
    ({"STALLED_WORKER_SECONDS": "8", "WORKER_HEARTBEAT_SECONDS": "5"}, "STALLED_WORKER_SECONDS"),
    ({"STORAGE_BACKEND": "gcs", "GCS_BUCKET": "b", "SIGNED_URL_SECONDS": "700000"},
     "SIGNED_URL_SECONDS"),
    ({"SENDGRID_WEBHOOK_PUBLIC_KEY": "not a key"}, "SENDGRID_WEBHOOK_PUBLIC_KEY"),
    ({"JOB_RETENTION_HOURS": "0"}, "JOB_RETENTION_HOURS"),
    ({"JOB_RETENTION_HOURS": "1.5"}, "JOB_RETENTION_HOURS"),
    ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES"),
    ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE"),
])
def test_bad_configuration_fails_with_one_line_naming_the_variable(env, variable):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = str(info.value)
    assert message.startswith(variable) and "\n" not in message


STRONG_KEY = "x" * 32


@pytest.mark.parametrize("env", [
    {"PUBLIC_BASE_URL": "https://quotes.example.com"},
    {"PUBLIC_BASE_URL": "https://quotes.example.com", "SECRET_KEY": "dev-only-not-secret"},
    {"PUBLIC_BASE_URL": "https://quotes.example.com", "SECRET_KEY": "x" * 31},
    {"PUBLIC_BASE_URL": "http://10.0.0.5:8000", "SECRET_KEY": " " * 40},
    {"PUBLIC_BASE_URL": "http://0.0.0.0:8000"},
    {"PUBLIC_BASE_URL": "http://localhost.example.com"},
    {"TRUSTED_PROXIES": "1"},
])
def test_a_public_address_needs_a_real_secret_key(env):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = str(info.value)
    assert message.startswith("SECRET_KEY") and "\n" not in message
    assert "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'" in message


@pytest.mark.parametrize("env", [
    {},
    {"PUBLIC_BASE_URL": "http://127.0.0.1:8123"},
    {"PUBLIC_BASE_URL": "http://[::1]:8000"},
    {"PUBLIC_BASE_URL": "http://app.localhost:8000", "SECRET_KEY": "short"},
    {"PUBLIC_BASE_URL": "https://quotes.example.com", "SECRET_KEY": STRONG_KEY},
])
def test_the_development_key_is_accepted_on_this_machine_only(env):
    assert Settings.from_env(env).public_base_url


@pytest.mark.parametrize("addresses, shown", [
    ([("0.0.0.0", 8000)], "0.0.0.0:8000"),
    ([("127.0.0.1", 8000), ("192.0.2.10", 8000)], "192.0.2.10:8000"),
    ([("::", 8000, 0, 0)], "[::]:8000"),
    (["/run/quote-service.sock"], "unix:/run/quote-service.sock"),
])
def test_the_development_key_is_refused_when_listening_beyond_loopback(addresses, shown):
    settings = Settings.from_env({})  # PUBLIC_BASE_URL left at its local default
    with pytest.raises(ConfigError) as info:
        settings.check_listening(addresses)
    assert str(info.value).startswith("SECRET_KEY is unset or the public development value")
    assert f"listens on {shown}" in str(info.value)
    with pytest.raises(ConfigError, match="too short"):
        Settings.from_env({"SECRET_KEY": "x" * 31}).check_listening(addresses)
    Settings.from_env({"SECRET_KEY": STRONG_KEY}).check_listening(addresses)


def test_loopback_sockets_take_the_development_key():
    Settings.from_env({}).check_listening([("127.0.0.1", 8000), ("::1", 8000, 0, 0),
                                           ("::ffff:127.0.0.1", 8000, 0, 0)])
