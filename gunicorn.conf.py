"""gunicorn settings read from the project root. Configuration is validated in the master
before any worker forks: bad settings stop the server once, with one line, instead of
gunicorn restarting workers that fail to boot."""

import sys

from quote_service.config import ConfigError, Settings, load_dotenv_file


def on_starting(server):
    load_dotenv_file()
    try:
        Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(1)
