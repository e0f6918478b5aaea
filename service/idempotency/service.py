"""Idempotent POSTs: a retry with the same ``Idempotency-Key`` gets the first response again.

A client whose connection broke after the server committed a registration, but before the
response arrived, used to get 409 (duplicate organisation) on retry and never learn its owner
key. With an ``Idempotency-Key`` (a UUID, say) on ``POST /v1/profiles``, ``/v1/profiles/bulk``
or ``/v1/exports``, as payment APIs have it:

- the response of a successful request is stored in the request's own transaction
  (``remember``), so it exists exactly when the write does;
- the same principal sending the same key, method, path and body within the retention time
  (``MATCHMAKER_IDEMPOTENCY_TTL_HOURS``) gets that response again (status, body, ``Location``)
  with ``Idempotent-Replayed: true``, and nothing is written; the same key with another request
  is 422;
- failures are not stored (they wrote nothing): a retry runs again.

The stored response may hold owner keys, which the database otherwise keeps only as hashes.
So the row holds no key and no plain response: it is found by a SHA-256 of the principal and
the Idempotency-Key, and the response is sealed with AES-GCM under a key derived (HKDF-SHA256)
from the Idempotency-Key and the request. Only a retry with the same key and body can open it;
someone reading the database (or a backup) cannot. That is why keys must be 16 to 255 visible
ASCII characters: a random UUID is the intended kind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from service.core.threads import BackgroundLoop
from service.db import transaction, utcnow
from service.errors import InvalidInput
from service.idempotency.models import IdempotentResponse

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[!-~]{16,255}$"
REPLAYED_HEADER = "Idempotent-Replayed"
# Response headers worth replaying (the others are the same on every response anyway).
KEPT_HEADERS = ("location",)


@dataclass(frozen=True)
class Attempt:
    """One request made with an Idempotency-Key: what finds, checks and seals its response."""

    lookup: str
    fingerprint: str
    secret: bytes = b""

    def __repr__(self) -> str:  # never print the secret
        return f"Attempt(lookup={self.lookup[:12]}…)"


@dataclass(frozen=True)
class Stored:
    status: int
    body: Any
    headers: dict[str, str]


def _canonical(body: bytes) -> bytes:
    """The body as sorted, compact JSON, so that a retry differing only in spacing or key
    order is the same request; anything else as it came."""
    try:
        return json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        return body


def attempt(principal: str, key: str, method: str, path: str, body: bytes) -> Attempt:
    request = hashlib.sha256(
        b"\0".join((method.encode(), path.encode("utf-8", "surrogatepass"), _canonical(body)))
    ).digest()
    raw = key.encode()
    lookup = hashlib.sha256(b"lookup\0" + principal.encode() + b"\0" + raw).hexdigest()
    fingerprint = hashlib.sha256(b"request\0" + raw + b"\0" + request).hexdigest()
    secret = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=request,
        info=b"matchmaker idempotent response v1\0" + principal.encode(),
    ).derive(raw)
    return Attempt(lookup, fingerprint, secret)


def find(session: Session, attempt: Attempt) -> Stored | None:
    """The stored response of an earlier request with this key, if it has not expired; 422
    if that request was another one."""
    row = session.get(IdempotentResponse, attempt.lookup, populate_existing=True)
    if row is None or row.expires_at <= utcnow():
        return None
    if row.fingerprint != attempt.fingerprint:
        raise InvalidInput(
            "this Idempotency-Key was already used for a different request (another method, "
            "path or body); send a new key with a new request",
            loc=["header", HEADER],
        )
    nonce, sealed = row.sealed[:12], row.sealed[12:]
    opened = json.loads(AESGCM(attempt.secret).decrypt(nonce, sealed, attempt.lookup.encode()))
    return Stored(row.status, opened["body"], opened["headers"])


def remember(
    session: Session,
    attempt: Attempt | None,
    status: int,
    content: BaseModel,
    headers: Mapping[str, str],
    ttl: timedelta,
) -> None:
    """Store the response to ``attempt`` (nothing without one) in the request's transaction.

    A concurrent request with the same key that committed first makes the flush raise
    IntegrityError; the request dependency then answers with that request's response.
    """
    if attempt is None:
        return
    kept = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    plain = json.dumps({"body": content.model_dump(mode="json", by_alias=True), "headers": kept})
    nonce = os.urandom(12)
    sealed = AESGCM(attempt.secret).encrypt(nonce, plain.encode(), attempt.lookup.encode())
    # An expired row of the same key may not have been swept yet: the key is free again.
    session.execute(
        delete(IdempotentResponse)
        .where(IdempotentResponse.lookup == attempt.lookup)
        .where(IdempotentResponse.expires_at <= utcnow())
    )
    session.add(
        IdempotentResponse(
            lookup=attempt.lookup,
            fingerprint=attempt.fingerprint,
            status=status,
            sealed=nonce + sealed,
            expires_at=utcnow() + ttl,
        )
    )
    session.flush()


def purge_expired(session: Session) -> int:
    res = session.execute(
        delete(IdempotentResponse).where(IdempotentResponse.expires_at <= utcnow())
    )
    return res.rowcount or 0


class ExpiredResponseSweeper(BackgroundLoop):
    """Deletes expired stored responses now and then (each worker; deleting twice is
    harmless). Lookups ignore expired rows anyway: this only keeps the table small."""

    name = "idempotency-sweeper"

    def __init__(self, sessions: sessionmaker[Session], interval: float = 600.0) -> None:
        super().__init__(interval)
        self.sessions = sessions

    def step(self) -> None:
        with transaction(self.sessions) as session:
            n = purge_expired(session)
        if n:
            log.info("deleted %d expired idempotent responses", n)
