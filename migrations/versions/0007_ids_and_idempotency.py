"""ids are never reused on SQLite; stored responses of idempotent POSTs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 10:00:00

Without AUTOINCREMENT SQLite gives a new row ``max(id) + 1``: after the newest profile, key
or change-log row was deleted, the next one got its id. ``profiles``, ``api_keys`` and
``profile_changes`` are rebuilt with the ``AUTOINCREMENT`` keyword (batch mode copies every
row; ``migrations/env.py`` turns SQLite's foreign keys off around the run so that dropping the
old ``profiles`` cannot cascade to its embeddings and keys, and checks them afterwards). On
PostgreSQL the rebuild is skipped: sequences never hand out a number twice.

``idempotent_responses``: the sealed response of each POST sent with an ``Idempotency-Key``
(``service.idempotency``), kept for ``MATCHMAKER_IDEMPOTENCY_TTL_HOURS``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("profiles", "api_keys", "profile_changes")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)
    op.create_table(
        "idempotent_responses",
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lookup", name=op.f("pk_idempotent_responses")),
    )
    with op.batch_alter_table("idempotent_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotent_responses_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("idempotent_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotent_responses_expires_at"))
    op.drop_table("idempotent_responses")
    _rebuild(False)
