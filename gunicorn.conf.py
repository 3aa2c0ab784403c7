"""gunicorn settings read from the project root. Configuration is validated in the master
before any worker forks: bad settings stop the server once, with one line, instead of
gunicorn restarting workers that fail to boot."""

import sys

from quote_service.config import ConfigError, Settings, load_dotenv_file


def _fail(exc: ConfigError):
    print(f"configuration error: {exc}", file=sys.stderr, flush=True)
    sys.exit(1)


def on_starting(server):
    load_dotenv_file()
    try:
        Settings.from_env()
    except ConfigError as exc:
        _fail(exc)


def when_ready(server):
    """The sockets are bound now (from --bind, or inherited from systemd or a re-exec), so
    this is where the master knows who can reach it: a weak SECRET_KEY is refused unless every
    one of them is loopback. Still before any worker forks, so it fails once."""
    try:
        Settings.from_env().check_listening([listener.sock.getsockname()
                                             for listener in server.LISTENERS])
    except ConfigError as exc:
        _fail(exc)
