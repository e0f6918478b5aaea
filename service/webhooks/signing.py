"""Webhook signatures, Stripe-style.

Each delivery carries ``X-Matchmaker-Signature: t=<unix seconds>,v1=<hex>``, where the hex is
HMAC-SHA256, keyed with the webhook's secret, of ``f"{t}.{raw body}"``. Signing the timestamp
with the body lets a receiver refuse replays of an old, captured request (``tolerance_s``).
Standard library only, so ``examples/webhook_receiver.py`` can do the same in a few lines.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Matchmaker-Signature"
EVENT_ID_HEADER = "X-Matchmaker-Event-Id"
EVENT_TYPE_HEADER = "X-Matchmaker-Event-Type"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The value of the signature header for ``body`` sent at ``timestamp`` (default now)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(secret, t, body)}"


def headers(secret: str, body: bytes, event_id: str, event_type: str) -> dict[str, str]:
    """Every header of a delivery."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body),
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
    }


def verify(
    secret: str, header: str | None, body: bytes, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """True when ``header`` signs exactly ``body`` with ``secret`` within ``tolerance_s``
    seconds of ``now``. Several ``v1`` values are accepted (any one may match), so a sender
    could sign with an old and a new secret during a rotation."""
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, timestamp, body)
    # compare_digest: the time taken says nothing about how much of a forgery was right.
    return any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates)
