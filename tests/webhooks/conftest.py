"""A real HTTP receiver on 127.0.0.1 for webhook tests, and a fast-retrying app."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from service.config import Settings, WebhookSettings
from service.db import transaction
from service.profiles import service as profiles
from service.webhooks import outbox
from tests.conftest import make_settings, wipe

FAST = dict(
    timeout_s=2.0,
    max_attempts=4,
    backoff_base_s=0.3,
    backoff_max_s=1.0,
    poll_interval_s=0.1,
    lease_s=5.0,
    concurrency=4,
)


@dataclass
class Received:
    """One request as the receiver saw it, and what it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def event_id(self) -> str:
        return self.headers.get("x-matchmaker-event-id", "")

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every request; answers ``status`` (settable); can be stopped and started again
    on the same port (refusing connections meanwhile)."""

    status: int = 200
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    # Serve https with this context (a certificate for ``host``), instead of plain http.
    tls: ssl.SSLContext | None = None
    host: str = "127.0.0.1"
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.status
                # Recorded on arrival: a request whose sender dies while this one is held
                # (``delay``) was still received, as a real receiver would have processed it.
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            status,
                            time.monotonic(),
                        )
                    )
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def to(self, event_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.event_id == event_id]

    def accepted_ids(self) -> set[str]:
        """Event ids answered 2xx: what a receiver deduplicating by event id processed."""
        with self._lock:
            return {r.event_id for r in self.requests if 200 <= r.status < 300}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Iterator[Settings]:
    """The app's settings with retries fast enough for tests."""
    yield make_settings(tmp_path / "data", database_url, webhook=WebhookSettings(**FAST))
    wipe(database_url)


def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def emit(sessions, profile_public_id: str, type: str = "interest.received", **data) -> str:  # noqa: ANN001
    """Emit an event as domain code does: in a transaction of its own, committed here."""
    with transaction(sessions) as session:
        pid = profiles.get(session, profile_public_id).id
        return outbox.emit(session, pid, type, data or {"n": 1})
