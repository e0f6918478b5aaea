"""Threads that yield the CPU to request threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from service.errors import Busy

log = logging.getLogger(__name__)
T = TypeVar("T")


def lower_this_thread(nice: int) -> None:
    """Raise the calling thread's nice value by ``nice`` (for good: only a privileged process
    may lower it again, so only threads that keep doing background work call this)."""
    if sys.platform == "linux":  # elsewhere the id would name the whole process
        tid = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
        except OSError:
            log.debug("could not lower the priority of a background thread", exc_info=True)


def run_at_low_priority(fn: Callable[[], object], nice: int = 10) -> None:
    """Run ``fn`` in a thread of its own whose nice value is raised by ``nice``, and wait.

    Linux gives each thread its own nice value: background file writing and checksumming then
    yield the CPU to request threads instead of taking turns with them.
    """
    failed: list[BaseException] = []

    def target() -> None:
        lower_this_thread(nice)
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


class Lane:
    """Bounded concurrency with a bounded queue for one kind of heavy request work.

    Whole-registry work (pairings, bulk registration) runs in ``concurrency`` threads of its
    own, each at a raised nice value, so the scheduler gives the CPU to request threads
    (registrations, ``/matches``) first and such work cannot crowd them out however much of it
    one key sends. At most ``queue`` requests wait for a thread; one more is refused at once
    (503, ``Busy``, with a Retry-After from the lane's recent run times), and a request still
    waiting after ``wait_s`` is refused the same way without having run. Requests are taken in
    arrival order.
    """

    def __init__(
        self, name: str, *, concurrency: int, queue: int, wait_s: float, nice: int = 19
    ) -> None:
        self.name = name
        self.concurrency = concurrency
        self.queue = queue
        self.wait_s = wait_s
        self._executor = concurrent.futures.ThreadPoolExecutor(
            concurrency,
            thread_name_prefix=f"lane-{name}",
            initializer=lower_this_thread,
            initargs=(nice,),
        )
        self._lock = threading.Lock()
        self._admitted = 0  # running and waiting
        self._mean_s = 1.0  # moving mean of run times, for Retry-After

    @property
    def admitted(self) -> int:
        return self._admitted

    def retry_after(self) -> int:
        """Seconds until the lane has likely worked through what it holds now."""
        ahead = self._admitted / self.concurrency
        return max(1, min(600, math.ceil(self._mean_s * max(1.0, ahead))))

    def _refuse(self, why: str) -> Busy:
        return Busy(
            f"too much {self.name} work in progress on this worker ({why}); retry later",
            retry_after=self.retry_after(),
        )

    async def run(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self._admitted >= self.concurrency + self.queue:
                raise self._refuse(f"{self.concurrency} running, {self.queue} waiting")
            self._admitted += 1
        started = threading.Event()

        def timed() -> T:
            started.set()
            t0 = time.perf_counter()
            try:
                return fn()
            finally:
                self._mean_s = 0.7 * self._mean_s + 0.3 * (time.perf_counter() - t0)

        try:
            future = self._executor.submit(timed)
            waiting = asyncio.wrap_future(future)
            try:
                done, _ = await asyncio.wait({waiting}, timeout=self.wait_s)
            except asyncio.CancelledError:  # the client went away
                if not future.cancel():
                    await _finish_shielded(waiting)
                raise
            if not done and not started.is_set() and future.cancel():
                raise self._refuse(f"waited {self.wait_s:g} s for a turn")
            return await _finish_shielded(waiting)
        finally:
            with self._lock:
                self._admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


async def _finish_shielded(waiting: asyncio.Future[T]) -> T:
    """The work has started in its thread, which uses the request's session: the request must
    not end (and close that session) before the thread does, even if the client hangs up."""
    try:
        return await asyncio.shield(waiting)
    except asyncio.CancelledError:
        await asyncio.wait({waiting})
        raise
