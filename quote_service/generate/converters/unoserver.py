"""Warm conversion: a pool of persistent LibreOffice instances, one per concurrent slot.

Starting LibreOffice costs about a second per document; a warm instance converts a one-page
quotation in about a tenth of that. Worker threads take a free instance from a queue, so one
LibreOffice never sees two documents at once. An instance that runs past the timeout is killed
(whole process group) and restarted in the background while the caller gets ConversionTimeout
and its job is retried; an instance is also restarted after `max_conversions` documents to bound
LibreOffice's memory growth. Nothing starts at import: `start()` or the first conversion does.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

from quote_service.config import Settings
from quote_service.generate.converter import ConversionError
from quote_service.generate.converters.instance import SERVER_MODULE, Instance

log = logging.getLogger(__name__)


def default_runtime_dir() -> Path:
    """Per-user folder for profiles, logs, pid files and port locks; stable across runs so a
    later process finds the orphans of a killed one."""
    return Path(tempfile.gettempdir()) / f"quote-service-{os.getuid()}" / "libreoffice"


def _close_all(instances: list[Instance]) -> None:
    for instance in instances:
        try:
            instance.close()
        except Exception:  # keep stopping the others
            log.exception("could not stop LibreOffice instance %d", instance.index)


class UnoserverConverter:
    """Converter backed by `slots` warm unoserver/LibreOffice instances."""

    name = "unoserver"

    def __init__(
        self,
        *,
        slots: int = 1,
        timeout: float = 60.0,
        max_conversions: int = 200,
        base_port: int = 2003,
        soffice_path: str = "soffice",
        runtime_dir: Path | None = None,
        python: str | None = None,
        start_timeout: float = 60.0,
        grace: float = 3.0,
    ) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.timeout = timeout
        self.max_conversions = max_conversions
        self.start_timeout = start_timeout
        self.python = python or sys.executable
        self.soffice_path = soffice_path
        self._instances = [
            Instance(
                index=i,
                base_port=base_port,
                runtime_dir=runtime_dir or default_runtime_dir(),
                soffice_path=soffice_path,
                python=self.python,
                start_timeout=start_timeout,
                grace=grace,
            )
            for i in range(slots)
        ]
        self._free: queue.Queue[Instance] = queue.Queue()
        for instance in self._instances:
            self._free.put(instance)
        self._restarts: set[threading.Thread] = set()
        self._warming: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        # A worker that exits without close() must not leave LibreOffice behind.
        self._finalizer = weakref.finalize(self, _close_all, self._instances)

    @classmethod
    def from_settings(cls, settings: Settings) -> UnoserverConverter:
        return cls(
            slots=settings.converter_slots,
            timeout=settings.convert_timeout,
            max_conversions=settings.converter_max_conversions,
            base_port=settings.converter_base_port,
            soffice_path=settings.soffice_path,
        )

    @property
    def instances(self) -> tuple[Instance, ...]:
        """The slots, for inspection (ports, process groups, conversion counts)."""
        return tuple(self._instances)

    def check(self) -> None:
        """Cheap preflight: can this Python run unoserver's server at all? Raise if not."""
        if shutil.which(self.soffice_path) is None:
            raise ConversionError(f"LibreOffice executable {self.soffice_path!r} not found")
        probe = subprocess.run(
            [self.python, "-c", f"import {SERVER_MODULE}"],
            capture_output=True, text=True, timeout=30, check=False,
        )
        if probe.returncode != 0:
            reason = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise ConversionError(f"{self.python} cannot run unoserver: {reason}")

    def start(self) -> None:
        """Start every free instance now, in parallel, instead of on first use; raise on
        failure. Each is out of the free slots while it starts, so a conversion asked for
        meanwhile waits for it instead of starting it a second time."""
        errors = self._start_each(self._take_all_free())
        if errors:
            raise errors[0]

    def warm_up(self) -> None:
        """Be ready to convert when this returns, soon: the first free instance starts now
        (ConversionError when it cannot), the others in the background. What a worker does as
        it starts: on two cores, LibreOffices started side by side each take twice as long,
        and the first quotation needs only one."""
        free = self._take_all_free()
        if not free:
            return
        first, rest = free[0], free[1:]
        errors = self._start_each([first])
        if errors:
            for instance in rest:
                self._give_back(instance)
            raise errors[0]
        if rest:
            self._warming = threading.Thread(target=self._start_each, args=(rest,),
                                             daemon=True, name="libreoffice-warm-up")
            self._warming.start()

    def wait_warm(self, timeout: float | None = None) -> None:
        """Wait until the instances `warm_up` left to the background have started."""
        if self._warming is not None:
            self._warming.join(timeout)

    def _take_all_free(self) -> list[Instance]:
        taken: list[Instance] = []
        while True:
            try:
                taken.append(self._free.get_nowait())
            except queue.Empty:
                return taken

    def _start_each(self, instances: list[Instance]) -> list[ConversionError]:
        """Start these (taken) instances in parallel and give each back when it is done."""
        errors: list[ConversionError] = []

        def start_one(instance: Instance) -> None:
            try:
                if not instance.running:
                    instance.start()
            except ConversionError as exc:
                errors.append(exc)
            finally:
                self._give_back(instance)

        threads = [threading.Thread(target=start_one, args=(i,)) for i in instances]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return errors

    def convert(self, docx: bytes, *, timeout: float | None = None) -> bytes:
        """Return the PDF of `docx` from a free warm instance; raise ConversionError/Timeout."""
        limit = self.timeout if timeout is None else timeout
        instance = self._take(limit)
        try:
            if not instance.running:
                instance.start()
            return instance.convert(docx, limit)
        finally:
            self._give_back(instance)

    def _take(self, limit: float) -> Instance:
        # A slot frees up within one conversion timeout plus one restart at worst.
        wait = limit + self.start_timeout + 10
        deadline = time.monotonic() + wait
        while not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConversionError(f"no LibreOffice instance became free within {wait:g} s")
            try:
                return self._free.get(timeout=min(1.0, remaining))
            except queue.Empty:
                continue
        raise ConversionError("converter is closed")

    def _give_back(self, instance: Instance) -> None:
        with self._lock:
            if self._closed:
                instance.close()
                return
            worn_out = instance.conversions >= self.max_conversions
            if not (instance.broken or worn_out):
                self._free.put(instance)
                return
            reason = "it failed" if instance.broken else f"{instance.conversions} conversions"
            thread = threading.Thread(
                target=self._restart, args=(instance, reason), daemon=True,
                name=f"libreoffice-restart-{instance.index}",
            )
            self._restarts.add(thread)
        thread.start()

    def _restart(self, instance: Instance, reason: str) -> None:
        """Restart off the caller's path, then hand the instance back (even if it failed:
        the next caller retries the start and gets the error)."""
        log.info("restarting LibreOffice instance %d after %s", instance.index, reason)
        try:
            instance.stop()
            instance.start()
        except ConversionError as exc:
            log.error("LibreOffice instance %d failed to restart: %s", instance.index, exc)
        finally:
            with self._lock:
                self._restarts.discard(threading.current_thread())
                if self._closed:
                    instance.close()
                else:
                    self._free.put(instance)

    def close(self) -> None:
        """Stop every instance by process group (grace, then SIGKILL) and release its ports."""
        with self._lock:
            self._closed = True
            restarts = list(self._restarts)
        self._finalizer()  # closes every instance, once
        for thread in restarts:
            thread.join(timeout=self.start_timeout)

    def __enter__(self) -> UnoserverConverter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
