from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow


class IdempotentResponse(Base):
    """The response of a POST made with an ``Idempotency-Key``, written in the transaction of
    the POST's own writes, so that neither can exist without the other.

    Nothing here reveals the key or the response: the row is found by a hash of the key (and
    its principal), and the response (which can hold owner keys) is encrypted with a key derived
    from the Idempotency-Key and the request (``service.idempotency.service``).
    """

    __tablename__ = "idempotent_responses"

    # SHA-256 (hex) of the principal and the Idempotency-Key.
    lookup: Mapped[str] = mapped_column(String(64), primary_key=True)
    # SHA-256 (hex) of the key, method, path and body: the same key with another request is 422.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    # AES-GCM nonce and ciphertext of {"body": ..., "headers": ...}.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
