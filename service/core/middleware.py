"""Pure ASGI middleware: body size limit, security headers, request metrics."""

from __future__ import annotations

import json
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def _reject(send: Send, status: int, detail: str, code: str) -> None:
    body = json.dumps({"detail": detail, "code": code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """413 for bodies over the limit, before any parsing (by header, or by reading a chunked
    body up to the limit)."""

    def __init__(self, app: ASGIApp, default_limit: int, path_limits: dict[str, int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.path_limits = path_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.default_limit)
        msg = f"request body exceeds {limit} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    await _reject(send, 400, "invalid Content-Length header", "bad_request")
                    return
                if too_big:
                    await _reject(send, 413, msg, "payload_too_large")
                    return
                # The server delivers exactly the declared length, no more.
                await self.app(scope, receive, send)
                return
        # No Content-Length: a chunked body, whose size shows only by reading it. It is read
        # here, up to the limit, before the app sees any of it: counting as the app read it
        # raised inside FastAPI's body parsing, which turned it into "400 There was an error
        # parsing the body". The app reads whole bodies anyway, so this holds no more memory.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await _reject(send, 413, msg, "payload_too_large")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives ``messages`` first, then whatever ``receive`` gives (a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
# The interactive docs page needs scripts; everything else is JSON or a file download.
STRICT_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# The console's pages: scripts, styles and images from this service only, never inline script
# (SVG pictures are inline markup, styled by the console's stylesheet); forms post only here.
CONSOLE_CSP = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in ("/docs", "/redoc", "/docs/oauth2-redirect")
        console = scope["path"] == "/console" or scope["path"].startswith("/console/")

        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                csp = [] if docs else [CONSOLE_CSP if console else STRICT_CSP]
                extra = SECURITY_HEADERS + csp
                headers += [(k, v) for k, v in extra if k not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            # An unhandled error reaches Starlette's outermost middleware, which answers 500
            # itself, outside this one, and so without these headers: the 500 is sent here,
            # with them. Re-raised so the server still logs it (and does nothing more, as the
            # response has started).
            if not started:
                await _reject(with_headers, 500, "internal server error", "internal_error")
            raise


def sample_value(text: str, name: str, default: float | None = None, **labels: str) -> float | None:
    """The value of sample ``name`` with ``labels`` in a /metrics body (``default`` if absent):
    for tests and benchmarks, which read what this service exposes."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    return default


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "matchmaker_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "matchmaker_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.encoded = Gauge(
            "matchmaker_encoded_sentences",
            "Sentences this process ran through the encoder",
            registry=self.registry,
        )
        self.sentence_cache = Gauge(
            "matchmaker_sentence_cache_lookups",
            "Texts looked up in this process's sentence cache for quoting in explanations, by "
            "result (a miss reads the database); a low hit share under load calls for a larger "
            "MATCHMAKER_SENTENCE_CACHE_SIZE",
            ["result"],
            registry=self.registry,
        )
        self.export_jobs = Counter(
            "matchmaker_export_jobs",
            "Export jobs this process ran to the end, by outcome (done, failed); servers on one "
            "database share the queue, so each job counts on the one process that ran it",
            ["outcome"],
            registry=self.registry,
        )
        self.indexed = Gauge(
            "matchmaker_indexed_profiles",
            "Profiles in this process's search index",
            ["country"],
            registry=self.registry,
        )


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            # Route templates, not raw paths, so label cardinality stays bounded.
            name = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(scope["method"], name).observe(time.perf_counter() - start)
