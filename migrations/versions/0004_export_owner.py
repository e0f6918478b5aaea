"""export jobs: owner key and skipped pairs

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 13:00:00

``export_jobs.skipped_pairs``: candidate pairs an export left out because a profile was
deleted while it ran. ``export_jobs.owner_key_id``: the key that created the job; only that key
and admins may read the job and its file. Jobs made before this revision keep a NULL owner,
so only admins can read them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("skipped_pairs", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("owner_key_id", sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_export_jobs_owner_key_id_api_keys"),
            "api_keys",
            ["owner_key_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            batch_op.f("ix_export_jobs_owner_key_id"), ["owner_key_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_jobs_owner_key_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_export_jobs_owner_key_id_api_keys"), type_="foreignkey"
        )
        batch_op.drop_column("owner_key_id")
        batch_op.drop_column("skipped_pairs")
