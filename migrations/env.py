from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import text

from service.config import Settings
from service.db import create_db_engine
from service.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or Settings().resolved_database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # noqa: ANN001
    # Batch mode lets ALTERs work on SQLite, which cannot alter columns in place.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by copying it and dropping the old one, and with foreign
        # keys on SQLite's DROP TABLE first deletes every row, cascading: rebuilding `profiles`
        # emptied `profile_embeddings` and `api_keys`. The pragma only works outside a
        # transaction, so it is set before the migrations' transaction, and the keys are
        # checked after it.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Servers sharing one database each migrate at start: one at a time, and the next
            # finds the schema current (it reads the version after the first committed).
            # Without it, two servers started together on a fresh database both created the
            # tables and one died (UniqueViolation). A SQLite file serves one `serve`, which
            # migrates once before starting its workers.
            connection.execute(text("SELECT pg_advisory_xact_lock(727102)"))
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:10]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
