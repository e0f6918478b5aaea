"""The profile change log: the one record of which profiles changed, in commit order.

Every write to a profile appends a row here in the same transaction (``record``). Readers (each
worker's search index) apply the log in ``seq`` order, so a write acknowledged by any worker is
visible to any other. Two rules keep that true, and both live in this module:

- ``seq`` order equals commit order: writers of the log are serialised until commit (``lock``).
- Readers that must see a write at once subscribe with ``after_commit``: the listener runs in
  the committing thread, after the commit and before the request's response is sent.

Profiles owns the log; the index depends on it, never the reverse.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import BigInteger, String, bindparam, event, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column, sessionmaker

from service.db import NEVER_REUSE_IDS, Base, BigIntPK, UTCDateTime, utcnow

log = logging.getLogger(__name__)

# session.info key: this transaction appended to the log (private to this module).
_WROTE = "profile_changes_written"


class ProfileChange(Base):
    """Append-only change log; every worker's index catches up from it by ``seq``."""

    __tablename__ = "profile_changes"
    __table_args__ = NEVER_REUSE_IDS

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    profile_id: Mapped[int] = mapped_column(BigInteger, index=True)
    op: Mapped[str] = mapped_column(String(8))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


_change = ProfileChange.__table__.c
# Table columns, not ORM attributes: readers ask this on the request path (before every match
# list), where the ORM's compile and row-loading layers cost more CPU than the query itself.
_AFTER = (
    select(_change.seq, _change.profile_id)
    .where(_change.seq > bindparam("seq"))
    .order_by(_change.seq)
)


def lock(session: Session) -> None:
    """Serialise writers of the change log until commit, so ``seq`` order equals commit order.

    Without it, on PostgreSQL a transaction holding seq 10 could commit after one holding seq 11
    was seen, and a reader that already moved past 11 would never apply 10. SQLite already
    serialises writers.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727100)"))


def record(session: Session, profile_ids: Sequence[int], op: str) -> None:
    """Append ``op`` ("upsert" or "delete") for each profile, in the caller's transaction."""
    if not profile_ids:
        return
    lock(session)
    session.add_all(ProfileChange(profile_id=i, op=op) for i in profile_ids)
    session.flush()
    session.info[_WROTE] = True


def after(conn: Connection, seq: int) -> list:
    """Rows (seq, profile_id) of the changes after ``seq``, oldest first."""
    return conn.execute(_AFTER, {"seq": seq}).all()


def last_seq(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(ProfileChange.seq), 0))) or 0


def after_commit(sessions: sessionmaker[Session], listener: Callable[[], None]) -> None:
    """Call ``listener()`` after each commit, by a session of ``sessions``, that wrote changes.

    The hook that makes a write visible to its own worker's index before the response is sent
    (other workers see it at their next catch-up); screening follows it too. Listeners run in
    the order they subscribed. The commit has happened when they run, so a listener's failure
    is logged, not raised: the reader's own timer catches up later.
    """
    listeners = _listeners.get(sessions)
    if listeners is not None:
        listeners.append(listener)
        return
    listeners = _listeners[sessions] = [listener]

    @event.listens_for(sessions, "after_commit")
    def _committed(session: Session) -> None:
        if session.info.pop(_WROTE, False):
            for each in list(listeners):
                try:
                    each()
                except Exception:  # noqa: BLE001 - committed already; see docstring
                    log.warning("a change-log listener failed after commit", exc_info=True)

    @event.listens_for(sessions, "after_soft_rollback")
    def _rolled_back(session: Session, previous: SessionTransaction) -> None:
        if not previous.nested:  # a savepoint's rollback leaves the outer changes standing
            session.info.pop(_WROTE, None)


# The listeners of each session factory: one event hook per factory calls them all (the flag
# that a transaction wrote changes is taken once per commit).
_listeners: weakref.WeakKeyDictionary[sessionmaker, list[Callable[[], None]]] = (
    weakref.WeakKeyDictionary()
)
