"""What a worker process builds once, whichever of its task threads asks for it first."""

from __future__ import annotations

import threading
import time

from jobs import application

THREADS = 8


def test_threads_asking_at_once_share_one_pool_closed_at_exit(monkeypatch):
    built = []
    registered = []

    class SlowServices:
        """Slow to build, as a real one opening its pool is: the window two threads race in."""

        def __init__(self, settings, **pool_options):
            time.sleep(0.05)
            built.append(self)

        def close(self) -> None:
            pass

    monkeypatch.setattr(application, "Services", SlowServices)
    monkeypatch.setattr(application, "_services", None, raising=False)
    monkeypatch.setattr(application.atexit, "register", registered.append)
    start = threading.Barrier(THREADS)
    got = []

    def task_thread() -> None:
        start.wait()
        got.append(application.services())

    threads = [threading.Thread(target=task_thread) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(built) == 1
    assert all(services is built[0] for services in got) and len(got) == THREADS
    assert registered == [built[0].close]
