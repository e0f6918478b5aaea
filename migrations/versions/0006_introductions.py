"""the workflow after a match: interests, introductions, outcomes, contact reveals

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 12:49:55.554689
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "introductions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("low_profile_id", sa.BigInteger(), nullable=False),
        sa.Column("high_profile_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("broker_key_id", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("introduced_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["high_profile_id"],
            ["profiles.id"],
            name=op.f("fk_introductions_high_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["low_profile_id"],
            ["profiles.id"],
            name=op.f("fk_introductions_low_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_introductions")),
        sa.UniqueConstraint(
            "low_profile_id", "high_profile_id", name=op.f("uq_introductions_low_profile_id")
        ),
        sa.UniqueConstraint("public_id", name=op.f("uq_introductions_public_id")),
    )
    with op.batch_alter_table("introductions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_introductions_high_profile_id"), ["high_profile_id"], unique=False
        )

    op.create_table(
        "contact_reveals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("introduction_id", sa.BigInteger(), nullable=False),
        sa.Column("viewer_profile_id", sa.BigInteger(), nullable=True),
        sa.Column("revealed_profile_id", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.BigInteger(), nullable=True),
        sa.Column("revealed_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["introduction_id"],
            ["introductions.id"],
            name=op.f("fk_contact_reveals_introduction_id_introductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_reveals")),
    )
    with op.batch_alter_table("contact_reveals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_reveals_introduction_id"), ["introduction_id"], unique=False
        )

    op.create_table(
        "interests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("from_profile_id", sa.BigInteger(), nullable=False),
        sa.Column("to_profile_id", sa.BigInteger(), nullable=False),
        sa.Column("introduction_id", sa.BigInteger(), nullable=True),
        sa.Column("broker_key_id", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("partnership_type", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("decline_reason", sa.String(length=24), nullable=True),
        sa.Column("decline_note", sa.Text(), nullable=True),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_profile_id"],
            ["profiles.id"],
            name=op.f("fk_interests_from_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["introduction_id"],
            ["introductions.id"],
            name=op.f("fk_interests_introduction_id_introductions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_profile_id"],
            ["profiles.id"],
            name=op.f("fk_interests_to_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interests")),
        sa.UniqueConstraint("public_id", name=op.f("uq_interests_public_id")),
    )
    with op.batch_alter_table("interests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interests_from_profile_id"), ["from_profile_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interests_introduction_id"), ["introduction_id"], unique=False
        )
        batch_op.create_index("ix_interests_state_expires", ["state", "expires_at"], unique=False)
        batch_op.create_index("ix_interests_to_state", ["to_profile_id", "state"], unique=False)
        batch_op.create_index(
            "uq_interests_open_pair",
            ["from_profile_id", "to_profile_id"],
            unique=True,
            sqlite_where=sa.text("state = 'pending' AND introduction_id IS NULL"),
            postgresql_where=sa.text("state = 'pending' AND introduction_id IS NULL"),
        )

    op.create_table(
        "introduction_outcomes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("introduction_id", sa.BigInteger(), nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("happened_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reported_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["introduction_id"],
            ["introductions.id"],
            name=op.f("fk_introduction_outcomes_introduction_id_introductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_introduction_outcomes")),
    )
    with op.batch_alter_table("introduction_outcomes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_introduction_outcomes_introduction_id"),
            ["introduction_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("introduction_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_introduction_outcomes_introduction_id"))

    op.drop_table("introduction_outcomes")
    with op.batch_alter_table("interests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_interests_open_pair",
            sqlite_where=sa.text("state = 'pending' AND introduction_id IS NULL"),
            postgresql_where=sa.text("state = 'pending' AND introduction_id IS NULL"),
        )
        batch_op.drop_index("ix_interests_to_state")
        batch_op.drop_index("ix_interests_state_expires")
        batch_op.drop_index(batch_op.f("ix_interests_introduction_id"))
        batch_op.drop_index(batch_op.f("ix_interests_from_profile_id"))

    op.drop_table("interests")
    with op.batch_alter_table("contact_reveals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_reveals_introduction_id"))

    op.drop_table("contact_reveals")
    with op.batch_alter_table("introductions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_introductions_high_profile_id"))

    op.drop_table("introductions")
