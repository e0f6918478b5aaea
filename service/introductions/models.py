"""Interests, introductions, outcomes and contact reveals: what happens after a match.

An *interest* goes from one profile to another (or, when an official brokers, to each side of a
proposed introduction). An *introduction* exists once both sides agreed; only then does each
side see the other's contact details, and every time it does is recorded as a *reveal*.
*Outcomes* are the stages either side reports afterwards; every report is kept.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, BigIntPK, UTCDateTime, utcnow

# The states of an interest; ``pending`` is the only open one.
INTEREST_STATES = ("pending", "accepted", "declined", "withdrawn", "expired")
DECLINE_REASONS = ("not_relevant", "competitor", "not_now", "already_in_contact", "other")
# An introduction a broker proposed waits in ``proposed`` until both sides accept.
INTRODUCTION_STATES = ("proposed", "active", "declined", "expired")
# Outcome stages in the order a partnership moves through them (``no_further_contact`` ends it).
OUTCOME_STAGES = ("meeting_held", "negotiating", "agreement_signed", "no_further_contact")


class Interest(Base):
    __tablename__ = "interests"
    __table_args__ = (
        # One open direct interest per ordered pair, enforced by the database so that two
        # concurrent requests cannot both pass the check.
        Index(
            "uq_interests_open_pair",
            "from_profile_id",
            "to_profile_id",
            unique=True,
            sqlite_where=text("state = 'pending' AND introduction_id IS NULL"),
            postgresql_where=text("state = 'pending' AND introduction_id IS NULL"),
        ),
        Index("ix_interests_to_state", "to_profile_id", "state"),
        Index("ix_interests_state_expires", "state", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    from_profile_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("profiles.id", ondelete="CASCADE"), index=True
    )
    to_profile_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("profiles.id", ondelete="CASCADE")
    )
    # Set when an official brokered it: the proposed introduction it belongs to, and who.
    introduction_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("introductions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    broker_key_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    partnership_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    decline_reason: Mapped[str | None] = mapped_column(String(24), nullable=True)
    decline_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Introduction(Base):
    __tablename__ = "introductions"
    __table_args__ = (UniqueConstraint("low_profile_id", "high_profile_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    # The pair, lower internal id first, so one pair has one introduction.
    low_profile_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("profiles.id", ondelete="CASCADE")
    )
    high_profile_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("profiles.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(12))
    broker_key_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    introduced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Outcome(Base):
    __tablename__ = "introduction_outcomes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    introduction_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("introductions.id", ondelete="CASCADE"), index=True
    )
    profile_id: Mapped[int] = mapped_column(BigInteger)  # the reporting side
    stage: Mapped[str] = mapped_column(String(24))
    happened_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContactReveal(Base):
    """One showing of a profile's contact details to the other side of an introduction."""

    __tablename__ = "contact_reveals"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    introduction_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("introductions.id", ondelete="CASCADE"), index=True
    )
    viewer_profile_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revealed_profile_id: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revealed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
