"""duplicate keys of names by their Unicode fold

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 14:00:00

``profiles.name_key`` was the name case- and space-folded; it is now the SHA-256 of the name's
Unicode fold (NFKC, case folding, format characters removed, confusable skeleton:
``service.core.text.name_key``). Every row's key is recomputed, and its name put in NFC, as new
registrations store it.

Rows registered before that now fold to the same key as an earlier row of their country (a
name written with a zero-width space, full-width letters or a Cyrillic look-alike) are kept,
not deleted: their key gets ``:<public id>`` appended, so they stay unique and reachable, and
they are listed in the migration's log for a person to review. A later registration of the same
name still collides with the first row.

Downgrade restores the old fold (from the NFC names).
"""

import logging
import re
import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from service.core.text import name_key

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")
_SPACE = re.compile(r"\s+")

profiles = sa.table(
    "profiles",
    sa.column("id", sa.BigInteger),
    sa.column("public_id", sa.String),
    sa.column("name", sa.String),
    sa.column("name_key", sa.String),
    sa.column("country", sa.String),
)


def _old_key(name: str) -> str:
    return _SPACE.sub(" ", name).strip().casefold()


def _rewrite(key_of: Callable[[str], str]) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            profiles.c.id, profiles.c.public_id, profiles.c.name, profiles.c.country
        ).order_by(profiles.c.id)
    ).all()
    seen: set[tuple[str, str]] = set()
    params = []
    for pid, public_id, name, country in rows:
        name = unicodedata.normalize("NFC", name)
        key = key_of(name)
        if (country, key) in seen:
            log.warning(
                "profile %s (%s) folds to the name of an earlier profile; kept with a key of "
                "its own, review it",
                public_id,
                country,
            )
            key = f"{key}:{public_id}"
        seen.add((country, key))
        params.append({"pid": pid, "n": name, "k": key})
    if not params:
        return
    # Two passes, the first parking every row on a key no fold produces (a tab): a key written
    # in one pass could otherwise equal another row's key not yet rewritten, and the unique
    # index is checked row by row.
    update = (
        profiles.update()
        .where(profiles.c.id == sa.bindparam("pid"))
        .values(name=sa.bindparam("n"), name_key=sa.bindparam("k"))
    )
    conn.execute(update, [{**p, "k": f"\t{p['pid']}"} for p in params])
    conn.execute(update, params)


def upgrade() -> None:
    _rewrite(name_key)


def downgrade() -> None:
    _rewrite(_old_key)
