from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import NEVER_REUSE_IDS, Base, BigIntPK, UTCDateTime, utcnow

# The two texts every profile has, each embedded and indexed.
TEXT_FIELDS = ("capabilities", "needs")


class Profile(Base):
    __tablename__ = "profiles"
    __table_args__ = (
        UniqueConstraint("country", "name_key", name="uq_profiles_country_name_key"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The duplicate key of the name (service.core.text.name_key: SHA-256 of its Unicode fold).
    name_key: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), index=True)
    org_type: Mapped[str] = mapped_column(String(32))
    sectors: Mapped[list[str]] = mapped_column(JSON)
    # Bitmask of sectors (service.sectors.SECTOR_BIT) so filters work the same on SQLite and PG.
    sector_mask: Mapped[int] = mapped_column(Integer, index=True)
    capabilities: Mapped[str] = mapped_column(Text)
    needs: Mapped[str] = mapped_column(Text)
    partnership_types: Mapped[list[str]] = mapped_column(JSON)
    employees: Mapped[int | None] = mapped_column(Integer, nullable=True)
    city: Mapped[str | None] = mapped_column(String(100), nullable=True)
    website: Mapped[str | None] = mapped_column(String(500), nullable=True)
    contact_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON)
    # Export-control category codes the firm declares (service.controls); [] for none.
    controlled_technologies: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    embeddings: Mapped[list[ProfileEmbedding]] = relationship(
        back_populates="profile", cascade="all, delete-orphan", passive_deletes=True
    )


class ProfileEmbedding(Base):
    """Vectors of one text field of a profile: the source of truth the index is built from."""

    __tablename__ = "profile_embeddings"

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(16), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    text_hash: Mapped[str] = mapped_column(String(64))
    # float32 pooled vector (normalised mean of the sentence vectors).
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    sentences: Mapped[list[str]] = mapped_column(JSON)
    # float16 matrix, one row per sentence, for quoting the sentences that match.
    sentence_vectors: Mapped[bytes] = mapped_column(LargeBinary)
    # Keyword terms of the text (embeddings.lexical.pack: term hashes, then counts).
    terms: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    profile: Mapped[Profile] = relationship(back_populates="embeddings")
