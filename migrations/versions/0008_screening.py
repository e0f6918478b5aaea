"""sensitive-technology screening: declared categories, flags, decisions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 13:25:27.815936
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "screening_decisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("low_profile_id", sa.BigInteger(), nullable=False),
        sa.Column("high_profile_id", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("key_id", sa.BigInteger(), nullable=True),
        sa.Column("vocabulary_version", sa.String(length=32), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("decided_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["high_profile_id"],
            ["profiles.id"],
            name=op.f("fk_screening_decisions_high_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["low_profile_id"],
            ["profiles.id"],
            name=op.f("fk_screening_decisions_low_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_decisions")),
        sa.UniqueConstraint("public_id", name=op.f("uq_screening_decisions_public_id")),
    )
    with op.batch_alter_table("screening_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_screening_decisions_pair", ["low_profile_id", "high_profile_id"], unique=False
        )

    op.create_table(
        "screening_results",
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("vocabulary_version", sa.String(length=32), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("screened_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_screening_results_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", name=op.f("pk_screening_results")),
    )
    # Rebuilt on SQLite: keep the table's AUTOINCREMENT (0007), or ids would be reused again.
    with op.batch_alter_table(
        "profiles", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        # Existing profiles declare nothing; the server default fills their rows.
        batch_op.add_column(
            sa.Column(
                "controlled_technologies", sa.JSON(), nullable=False, server_default=sa.text("'[]'")
            )
        )


def downgrade() -> None:
    # Rebuilt on SQLite: keep the table's AUTOINCREMENT (0007), or ids would be reused again.
    with op.batch_alter_table(
        "profiles", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("controlled_technologies")

    op.drop_table("screening_results")
    with op.batch_alter_table("screening_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_screening_decisions_pair")

    op.drop_table("screening_decisions")
