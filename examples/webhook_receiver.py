#!/usr/bin/env python3
"""A minimal partnership-matchmaker webhook receiver (Python standard library only).

    python examples/webhook_receiver.py --port 8001 --secret whsec_...

It checks each delivery's signature, answers 2xx once it has the event (so it is not sent
again), skips events it has already seen (delivery is at least once: the same event id can
arrive more than once) and prints each new event as one JSON line on stdout.

The signature header is ``X-Matchmaker-Signature: t=<unix seconds>,v1=<hex>``, where the hex is
HMAC-SHA256 with the webhook's secret over ``f"{t}.{raw body}"``. Verify the raw bytes, before
parsing them, and refuse old timestamps so a captured request cannot be replayed later.

The event ids seen are kept in memory here; a real receiver keeps them where it stores the
events (a unique key on the event id), in the same transaction as its own handling.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret: str, header: str | None, body: bytes, tolerance_s: float = 300) -> bool:
    """True when ``header`` is a valid signature of ``body`` made within ``tolerance_s``."""
    if not header:
        return False
    fields = [part.strip().partition("=") for part in header.split(",")]
    stamps = [v for k, _, v in fields if k == "t" and v.isdigit()]
    signatures = [v for k, _, v in fields if k == "v1"]
    if not stamps or not signatures or abs(time.time() - int(stamps[0])) > tolerance_s:
        return False
    message = stamps[0].encode() + b"." + body
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures)


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], secret: str, tolerance_s: float) -> None:
        super().__init__(address, Handler)
        self.secret = secret
        self.tolerance_s = tolerance_s
        self.seen: set[str] = set()
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1_000_000:
            return self.answer(413)
        body = self.rfile.read(length)
        signature = self.headers.get("X-Matchmaker-Signature")
        if not verify(self.server.secret, signature, body, self.server.tolerance_s):
            return self.answer(400, "invalid signature")
        event = json.loads(body)
        if event.get("id") != self.headers.get("X-Matchmaker-Event-Id"):
            return self.answer(400, "event id header does not match the body")
        with self.server.lock:
            duplicate = event["id"] in self.server.seen
            self.server.seen.add(event["id"])
        if not duplicate:
            print(json.dumps(event, ensure_ascii=False), flush=True)
        # 200 for a duplicate too: the sender only needs to know it arrived.
        self.answer(200)

    def answer(self, status: int, message: str = "") -> None:
        data = message.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--secret",
        default=os.environ.get("MATCHMAKER_WEBHOOK_SECRET"),
        help="the webhook's secret (whsec_...); default: $MATCHMAKER_WEBHOOK_SECRET",
    )
    parser.add_argument("--tolerance", type=float, default=300, help="seconds of clock skew")
    args = parser.parse_args()
    if not args.secret:
        parser.error("--secret is required")
    server = Receiver((args.host, args.port), args.secret, args.tolerance)
    print(f"listening on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
