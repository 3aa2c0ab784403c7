"""The production web server: granian serving the Flask app, configuration checked first.

granian (HTTP in Rust, the app in a pool of Python threads per worker process) measured half
the web server CPU of gunicorn's threaded workers per submission on this service, and serves
over a thousand submissions a second where gunicorn's best setting served under eight
hundred (docs/benchmarks.md, "Web servers"). Slow clients cost it no Python thread: a request
reaches the app once it has arrived, and the answer leaves without one.

What gunicorn's master once did for us happens here before any worker starts: the
configuration is validated, and a weak SECRET_KEY is refused unless the server
listens on loopback alone, each with one line and exit status 1, never a worker restarted
forever on a configuration that cannot work.
"""

from __future__ import annotations

import sys

from quote_service.config import ConfigError, Settings, load_dotenv_file

# Two processes (one per core here) of sixteen threads: a thread waiting for the database
# costs little, and the more of them wait at once, the larger the group commits of their
# submissions (submit/group_commit.py).
WORKERS = 2
THREADS = 16
# On SIGTERM the requests in flight get this long to finish (systemd's TimeoutStopSec is 40).
GRACE_SECONDS = 30


def listening_address(bind: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 in brackets: `[::]:8000`) as (host, port); ValueError otherwise."""
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--bind {bind!r} is not HOST:PORT")
    return host.removeprefix("[").removesuffix("]"), int(port)


def serve(bind: str, *, workers: int = WORKERS, threads: int = THREADS,
          access_log: bool = False) -> None:
    """Check the configuration, then serve `quote_service.app:create_app` on `bind` until
    SIGTERM or SIGINT (SIGHUP restarts the workers, to pick up a new release)."""
    load_dotenv_file()
    try:
        host, port = listening_address(bind)
        Settings.from_env().check_listening([(host, port)])
    except (ConfigError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)

    from granian import Granian
    from granian.constants import Interfaces

    Granian("quote_service.app:create_app", factory=True, interface=Interfaces.WSGI,
            address=host, port=port, workers=workers, blocking_threads=threads,
            respawn_failed_workers=True, workers_kill_timeout=GRACE_SECONDS,
            log_access=access_log).serve()
