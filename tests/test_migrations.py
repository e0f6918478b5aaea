"""Models and migrations agree; upgrade, downgrade to base and upgrade again all work."""

from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from service.migrate import downgrade, upgrade
from service.models import Base
from tests.conftest import PG_URL


def _fresh_url(tmp_path):
    if not PG_URL:
        return f"sqlite:///{tmp_path / 'mig.db'}", None
    url = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"mm_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return url.set(database=name).render_as_string(hide_password=False), (admin, name)


def test_upgrade_downgrade_upgrade_and_no_autogenerate_diff(tmp_path):
    url, cleanup = _fresh_url(tmp_path)
    try:
        upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == []
        tables = set(inspect(engine).get_table_names())
        assert {
            "profiles",
            "profile_embeddings",
            "profile_changes",
            "api_keys",
            "export_jobs",
            "webhooks",
            "webhook_events",
            "webhook_attempts",
        } <= tables
        downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(url)
        assert {"profiles"} <= set(inspect(engine).get_table_names())
        engine.dispose()
    finally:
        if cleanup:
            admin, name = cleanup
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_migrating_leaves_the_import_path_alone(tmp_path):
    """``serve`` migrates before it imports the app: had Alembic put the working directory
    first on sys.path, the rest of the service would be imported from wherever the server was
    started (found when a benchmark's pinned code ran with the checkout's ``embeddings``)."""
    import sys

    before = list(sys.path)
    upgrade(f"sqlite:///{tmp_path / 'paths.db'}")
    assert sys.path == before
