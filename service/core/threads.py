"""Threads that yield the CPU to request threads."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def run_at_low_priority(fn: Callable[[], object], nice: int = 10) -> None:
    """Run ``fn`` in a thread of its own whose nice value is raised by ``nice``, and wait.

    Linux gives each thread its own nice value: background file writing and checksumming then
    yield the CPU to request threads instead of taking turns with them.
    """
    failed: list[BaseException] = []

    def target() -> None:
        if sys.platform == "linux":  # elsewhere the id would name the whole process
            tid = threading.get_native_id()
            try:
                os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
            except OSError:
                log.debug("could not lower the priority of a background thread", exc_info=True)
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failed.append(exc)

    worker = threading.Thread(target=target, name="low-priority")
    worker.start()
    worker.join()
    if failed:
        raise failed[0]


class BackgroundLoop:
    """A daemon thread that calls ``step()`` every ``interval`` seconds until stopped.

    ``wake()`` runs the next step at once. A step that raises is logged and the loop goes on:
    the database may be down for a moment, and a background job must outlive that. A step that
    returns True is run again at once (it found work and there may be more).
    """

    name = "background"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def step(self) -> bool | None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def wake(self) -> None:
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.step():
                    continue
            except Exception:  # noqa: BLE001 - see the class docstring
                log.warning("%s: step failed; will retry", self.name, exc_info=True)
            self._wake.wait(self.interval)
            self._wake.clear()
