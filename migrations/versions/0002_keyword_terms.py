"""keyword terms of every stored text

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 10:30:00

Adds ``profile_embeddings.terms`` (``embeddings.lexical.pack``) and fills it for every stored
text, in batches, from the profile's own text.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from embeddings import lexical

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("profile_embeddings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("terms", sa.LargeBinary(), nullable=True))
    conn = op.get_bind()
    emb = sa.table(
        "profile_embeddings",
        sa.column("profile_id", sa.BigInteger),
        sa.column("field", sa.String),
        sa.column("terms", sa.LargeBinary),
    )
    prof = sa.table(
        "profiles",
        sa.column("id", sa.BigInteger),
        sa.column("capabilities", sa.Text),
        sa.column("needs", sa.Text),
    )
    update = (
        emb.update()
        .where(emb.c.profile_id == sa.bindparam("pid"), emb.c.field == sa.bindparam("f"))
        .values(terms=sa.bindparam("t"))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(prof.c.id, prof.c.capabilities, prof.c.needs)
            .where(prof.c.id > last)
            .order_by(prof.c.id)
            .limit(2000)
        ).all()
        if not rows:
            break
        params = [
            {"pid": pid, "f": field, "t": lexical.pack(*lexical.terms(text))}
            for pid, caps, needs in rows
            for field, text in (("capabilities", caps), ("needs", needs))
        ]
        conn.execute(update, params)
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("profile_embeddings", schema=None) as batch_op:
        batch_op.drop_column("terms")
