"""Keyset pages: opaque cursors, and the newest-first page every list of events uses.

A cursor is the id after which the next page starts (``c123``): stable under inserts, unlike an
offset, and one indexed range scan per page however deep the client reads.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from service.errors import InvalidInput

CURSOR_PATTERN = r"^(c[0-9]{1,18})?$"

Row = TypeVar("Row")


def encode_cursor(last_id: int) -> str:
    """Keyset cursor: the position after which the next page starts (opaque to clients)."""
    return f"c{last_id}"


def decode_cursor(cursor: str | None) -> int:
    """The id a cursor stands for; 0 for none (the first page)."""
    if not cursor:
        return 0
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise InvalidInput(
            "cursor is not valid; use the next_cursor of a previous page", loc=["query", "cursor"]
        )
    return int(cursor[1:])


def newest_first(
    session: Session,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[int],
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """One page of ``stmt``'s entities, newest (highest id) first, after ``cursor``, and the
    cursor of the next page (None on the last). One row more than the page is read to know
    whether another page follows."""
    before = decode_cursor(cursor)
    if before:
        stmt = stmt.where(id_column < before)
    rows = list(session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id) if more and rows else None
