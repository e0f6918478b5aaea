"""Engine, declarative base and session factory.

Data-access code only flushes; the request's session dependency (``service.deps``) commits or
rolls back, so a request writes everything or nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from service.files import FILE_MODE

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# SQLite only autoincrements INTEGER primary keys; PostgreSQL gets a 64-bit key.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

# Table option for every table whose integer key is generated. Without AUTOINCREMENT SQLite
# hands out max(id) + 1, so deleting the newest profile (or key, or change) gave its id to
# the next row, and whatever still named the old id (the change log, a saved index, an export's
# owner key) then named the new row. PostgreSQL's sequences never go back; this is SQLite only.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset on the way back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def db_now(session: Session) -> datetime:
    """Now by the database server's clock on PostgreSQL, which every server of a cluster shares
    (their own clocks may differ by more than a heartbeat); on SQLite, one host, this process's.
    """
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(select(func.clock_timestamp()))
    return utcnow()


def create_db_engine(url: str, sqlite_synchronous: str = "NORMAL") -> Engine:
    # hide_parameters: a database error's text (and so any log line or traceback quoting it)
    # shows the SQL but never the values bound to it: clients' texts, e-mail addresses, keys.
    if url.startswith("sqlite"):
        _create_private_sqlite_file(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            # WAL lets readers proceed during a write; foreign keys make deletes cascade.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # Settings.sqlite_synchronous: NORMAL (in WAL mode) survives any process crash,
            # SIGKILL included, and may lose the last commits to a power cut or OS crash;
            # FULL syncs every commit to disk and loses none, at a cost per write.
            cur.execute(f"PRAGMA synchronous={_SYNCHRONOUS[sqlite_synchronous]}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "savepoint")
        def _begin_before_savepoint(conn, _name) -> None:  # noqa: ANN001
            # Python's sqlite3 opens a transaction only before a data change, not before a
            # SAVEPOINT: a savepoint opened first would be SQLite's outermost transaction, and
            # releasing it would commit on the spot, ahead of the session. So open the
            # transaction first (IMMEDIATE: it waits its turn for the write lock).
            dbapi_conn = conn.connection.driver_connection
            if not dbapi_conn.in_transaction:
                dbapi_conn.execute("BEGIN IMMEDIATE")

        return engine
    # pre_ping makes the pool recover by itself after the database restarts.
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
    )


_SYNCHRONOUS = {"NORMAL": "NORMAL", "FULL": "FULL"}  # never formatted into SQL from elsewhere


def _create_private_sqlite_file(url: str) -> None:
    """Create a missing SQLite database file 0600 before SQLite does (it would use the umask,
    usually 0644); SQLite gives its -wal and -shm files the database file's mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir() and not path.exists():
        # Another process may create it first: fine, it did the same.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work outside HTTP (CLI, background jobs): commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
