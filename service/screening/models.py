"""What screening stores: each profile's automatic flags, and officials' decisions on pairs.

A profile's *declared* categories live on the profile (``profiles.controlled_technologies``);
its *flags* (category, the sentence that raised it, a confidence) are recomputed here whenever
its text or the vocabulary version changes. A *decision* is an official's ruling on one pair
(cleared, or refused with a reason); every decision is kept (the audit trail), the latest
counts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, BigIntPK, UTCDateTime, utcnow

DECISIONS = ("cleared", "refused")


class ScreeningResult(Base):
    __tablename__ = "screening_results"

    profile_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True
    )
    vocabulary_version: Mapped[str] = mapped_column(String(32))
    # Hash of the capabilities text screened (embeddings.text.text_hash).
    text_hash: Mapped[str] = mapped_column(String(64))
    # [{"code", "sentence", "confidence"}], best first.
    flags: Mapped[list[dict]] = mapped_column(JSON)
    screened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScreeningDecision(Base):
    __tablename__ = "screening_decisions"
    __table_args__ = (Index("ix_screening_decisions_pair", "low_profile_id", "high_profile_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    low_profile_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("profiles.id", ondelete="CASCADE")
    )
    high_profile_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("profiles.id", ondelete="CASCADE")
    )
    decision: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    key_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # who
    vocabulary_version: Mapped[str] = mapped_column(String(32))
    categories: Mapped[list[str]] = mapped_column(JSON)  # what was under review
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
