"""export jobs: owner key and skipped pairs

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-05 13:00:00

``export_jobs.skipped_pairs``: candidate pairs an export left out because a profile was
deleted while it ran. ``export_jobs.owner_key_id``: the key that created the job; only that key
and admins may read the job and its file. Jobs made before this revision keep a NULL owner,
so only admins can read them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("skipped_pairs", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_column("skipped_pairs")
