"""ids are never reused on SQLite (AUTOINCREMENT)

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-06 10:00:00

Without AUTOINCREMENT SQLite gives a new row ``max(id) + 1``: after the newest profile, key
or change-log row was deleted, the next one got its id. ``profiles``, ``api_keys`` and
``profile_changes`` are rebuilt with the ``AUTOINCREMENT`` keyword (batch mode copies every
row; ``migrations/env.py`` turns SQLite's foreign keys off around the run so that dropping the
old ``profiles`` cannot cascade to its embeddings and keys, and checks them afterwards). On
PostgreSQL this revision does nothing: sequences never hand out a number twice.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
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


def downgrade() -> None:
    _rebuild(False)
