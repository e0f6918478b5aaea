"""``serve --workers N``: one process accepts, N uvicorn workers serve, least-connections first.

uvicorn's own multi-worker mode lets every worker accept from one shared socket, so the kernel
decides which worker keeps each keep-alive connection. 32 clients connecting at once came out
as 21/11: the worker with 21 queued on its one GIL while the other had CPU to spare, and the
match p99 followed the busier worker. Here the parent process accepts every connection and
passes its file descriptor (``SCM_RIGHTS`` over a Unix socket pair) to the worker holding the
fewest open connections, round-robin among equals, as Node's cluster module does. A
connection stays with one worker for its whole life: one hand-off per connection is all the
parent adds.

Counting: the parent knows how many connections it handed to each worker; each worker counts
the ones it has closed in a shared array (one writer per slot, so no lock). Open = handed -
closed, which also counts a connection still in flight to the worker, so a burst of connects
is spread evenly rather than all sent to whoever looked idle a moment ago.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import selectors
import signal
import socket
import sys
import time
from collections import deque
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")
_spawn = multiprocessing.get_context("spawn")
_READY = b"R"
_TAKEN = b"t"
_MAX_FDS_PER_MESSAGE = 64
# A shared ctypes int64 array, one slot per worker: connections that worker has closed.
ClosedCounts = Any


class _HandoffServer(uvicorn.Server):
    """A uvicorn server with no listening socket: connections arrive over ``channel``."""

    def __init__(
        self, config: uvicorn.Config, slot: int, channel: socket.socket, closed: ClosedCounts
    ) -> None:
        super().__init__(config)
        self.slot = slot
        self.channel = channel
        self.closed = closed

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # runs the app's lifespan: index loaded, then ready
        if self.should_exit or not self.started:
            return
        loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive, loop, self._protocol_factory())
        self.channel.send(_READY)

    def _protocol_factory(self):  # noqa: ANN202
        closed, slot = self.closed, self.slot

        class Counted(self.config.http_protocol_class):  # type: ignore[name-defined, misc]
            def connection_lost(self, exc: Exception | None) -> None:
                super().connection_lost(exc)
                closed[slot] += 1

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return Counted(
                config=self.config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=_loop,
            )

        return create_protocol

    def _receive(self, loop: asyncio.AbstractEventLoop, create_protocol) -> None:  # noqa: ANN001
        try:
            msg, fds, _, _ = socket.recv_fds(
                self.channel, _MAX_FDS_PER_MESSAGE, _MAX_FDS_PER_MESSAGE
            )
        except BlockingIOError:
            return
        except OSError:
            msg, fds = b"", []
        if not msg and not fds:  # the parent is gone: nobody can reach us any more
            loop.remove_reader(self.channel.fileno())
            self.should_exit = True
            return
        for fd in fds:
            sock = socket.socket(fileno=fd)
            sock.setblocking(False)
            task = loop.create_task(loop.connect_accepted_socket(create_protocol, sock))
            task.add_done_callback(self._handoff_done)
        with contextlib.suppress(OSError):  # the parent may let go of its copies now
            self.channel.send(_TAKEN * len(fds))

    def _handoff_done(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is not None:
            self.closed[self.slot] += 1  # it never opened, so connection_lost will not count it
            logger.warning(
                "a handed-over connection could not be set up: %r",
                None if task.cancelled() else task.exception(),
            )

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets=None)


def _worker_main(
    config: uvicorn.Config, slot: int, channel: socket.socket, closed: ClosedCounts
) -> None:
    config.configure_logging()
    with contextlib.suppress(KeyboardInterrupt):
        _HandoffServer(config, slot, channel, closed).run()


class _Worker:
    def __init__(self, config: uvicorn.Config, slot: int, closed: ClosedCounts) -> None:
        self.slot = slot
        self.channel, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.channel.setblocking(False)  # a stalled worker must not stall the accept loop
        closed[slot] = 0
        self.closed = closed
        self.handed = 0
        self.ready = False
        # Handed over but not yet confirmed taken, oldest first: if the worker dies before it
        # takes them, they go to another worker instead of being reset with it.
        self.in_flight: deque[socket.socket] = deque()
        self.process = _spawn.Process(
            target=_worker_main,
            args=(config, slot, child_end, closed),
            name=f"matchmaker-worker-{slot}",
        )
        self.process.start()
        child_end.close()

    def open_connections(self) -> int:
        return self.handed - self.closed[self.slot]


class Supervisor:
    """The parent of ``serve --workers N``: accepts, balances, restarts workers that die."""

    def __init__(self, config: uvicorn.Config, workers: int) -> None:
        self.config = config
        self.n = workers
        self.should_exit = False
        self.exit_code = 0
        self.turn = 0
        self.unplaced: list[socket.socket] = []  # no worker could take them yet

    def run(self) -> int:
        listener = self.config.bind_socket()  # bound; uvicorn leaves listen() to the server
        listener.listen(self.config.backlog)
        listener.setblocking(False)
        self.closed = _spawn.Array("q", self.n, lock=False)
        self.workers = [_Worker(self.config, i, self.closed) for i in range(self.n)]
        sel = selectors.DefaultSelector()
        for w in self.workers:
            self._watch(sel, w)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        listening = False
        logger.info(
            "Started parent process [%d]: %d workers, least-connections hand-off",
            os.getpid(),
            self.n,
        )
        try:
            while not self.should_exit:
                want = any(w.ready for w in self.workers)
                if want != listening:  # connections wait in the backlog until a worker is ready
                    (sel.register if want else sel.unregister)(listener, selectors.EVENT_READ)
                    listening = want
                for key, _ in sel.select(timeout=0.5):
                    if key.fileobj is listener:
                        self._accept(listener)
                    elif key.data is not None:
                        self._worker_event(sel, key.data)
        finally:
            self._stop(sel, listener)
        return self.exit_code

    def _on_signal(self, sig: int, frame: object) -> None:
        self.should_exit = True

    def _watch(self, sel: selectors.BaseSelector, w: _Worker) -> None:
        sel.register(w.channel, selectors.EVENT_READ, w)
        sel.register(w.process.sentinel, selectors.EVENT_READ, w)

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(_MAX_FDS_PER_MESSAGE):
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: leave the rest in the backlog for a moment
                logger.warning("accept failed: %s", exc)
                time.sleep(0.1)
                return
            # Small responses on keep-alive connections must not wait for Nagle.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._hand_over(conn)

    def _hand_over(self, conn: socket.socket) -> None:
        # is_alive() (a waitpid) skips a worker that died since the last select.
        ready = [w for w in self.workers if w.ready and w.process.is_alive()]
        # Ties go round-robin, so one-request connections are shared out too.
        ready.sort(key=lambda w: (w.open_connections(), (w.slot - self.turn) % self.n))
        for w in ready:
            try:
                socket.send_fds(w.channel, [b"c"], [conn.fileno()])
            except BlockingIOError:  # its event loop is behind on reading: try the next
                continue
            except OSError as exc:  # that worker is going away: try the next one
                logger.warning("hand-off to worker %d failed: %s", w.slot, exc)
                w.ready = False
                continue
            w.handed += 1
            w.in_flight.append(conn)
            self.turn = w.slot + 1
            return
        self.unplaced.append(conn)

    def _worker_event(self, sel: selectors.BaseSelector, w: _Worker) -> None:
        if self.workers[w.slot] is not w:  # its channel and its sentinel both fired: done
            return
        if w.process.is_alive():
            try:
                data = w.channel.recv(4096)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            for _ in range(data.count(_TAKEN)):
                w.in_flight.popleft().close()
            if _READY in data:
                w.ready = True
                logger.info("worker %d [%d] ready", w.slot, w.process.pid)
                waiting, self.unplaced = self.unplaced, []
                for conn in waiting:
                    self._hand_over(conn)
            if data:
                return
        # The worker's channel closed or the process ended: replace it.
        w.ready = False
        for obj in (w.channel, w.process.sentinel):
            with contextlib.suppress(KeyError, ValueError):
                sel.unregister(obj)
        w.process.join(timeout=5)
        if w.process.is_alive():  # it hung up on us but lives on: it must not linger
            w.process.kill()
            w.process.join()
        w.channel.close()
        code = w.process.exitcode
        if self.should_exit:
            return
        if code == STARTUP_FAILURE and not w.handed:
            logger.error("worker %d failed to start (exit %s): stopping", w.slot, code)
            self.exit_code = STARTUP_FAILURE
            self.should_exit = True
            return
        logger.warning(
            "worker %d [%s] ended (exit %s): starting another; %d connections it "
            "had not taken go elsewhere",
            w.slot,
            w.process.pid,
            code,
            len(w.in_flight),
        )
        new = _Worker(self.config, w.slot, self.closed)
        self.workers[w.slot] = new
        self._watch(sel, new)
        for conn in w.in_flight:
            self._hand_over(conn)

    def _stop(self, sel: selectors.BaseSelector, listener: socket.socket) -> None:
        listener.close()  # new connections are refused; the workers finish what they hold
        for conn in self.unplaced:
            conn.close()
        for w in self.workers:
            if w.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 30) + 60
        for w in self.workers:
            w.process.join(timeout=max(0.1, deadline - time.monotonic()))
            if w.process.is_alive():
                logger.error("worker %d [%d] did not stop: killing it", w.slot, w.process.pid)
                w.process.kill()
                w.process.join()
            w.channel.close()
            for conn in w.in_flight:
                conn.close()
        sel.close()
        logger.info("Stopping parent process [%d]", os.getpid())


def serve_balanced(config: uvicorn.Config, workers: int) -> None:
    config.workers = workers
    sys.exit(Supervisor(config, workers).run())
