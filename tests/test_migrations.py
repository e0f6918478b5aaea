"""Models and migrations agree; upgrade, downgrade to base and upgrade again all work."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from service.db import create_db_engine
from service.migrate import downgrade, upgrade
from service.models import Base, Profile
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


def test_name_keys_are_recomputed_and_look_alike_duplicates_kept_apart(tmp_path):
    """0003: existing rows get the Unicode-folded key (``service.core.text.name_key``) and an
    NFC name; a row that now folds onto an earlier one of its country is kept, with a key of
    its own; downgrade restores the old case/space fold."""
    from service.core.text import name_key

    url, cleanup = _fresh_url(tmp_path)
    names = [
        ("pr_0000000000000001", "KR", "Hanbit Duplicate Test", "hanbit duplicate test"),
        # A Cyrillic "а": a different key under the old fold.
        ("pr_0000000000000002", "KR", "H\u0430nbit Duplicate Test", "h\u0430nbit duplicate test"),
        ("pr_0000000000000003", "IN", "Hanbit Duplicate Test", "hanbit duplicate test"),
        # Decomposed Hangul (NFD), stored as written before.
        ("pr_0000000000000004", "KR", "\u1112\u1161\u11ab\u1107\u1175\u11be", "\u1112\u1161\u11ab"),
    ]
    try:
        upgrade(url, "0002")
        engine = create_engine(url)
        with engine.begin() as conn:
            for i, (pid, country, name, key) in enumerate(names, 1):
                conn.execute(
                    text(
                        "INSERT INTO profiles (id, public_id, name, name_key, country, org_type,"
                        " sectors, sector_mask, capabilities, needs, partnership_types, tags,"
                        " created_at, updated_at) VALUES (:i, :p, :n, :k, :c, 'company', '[]', 0,"
                        " 'x', 'y', '[]', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"i": i, "p": pid, "n": name, "k": key, "c": country},
                )
        upgrade(url)
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT public_id, name_key FROM profiles")).all())
            hangul = conn.execute(
                text("SELECT name FROM profiles WHERE public_id = 'pr_0000000000000004'")
            ).scalar()
        assert rows["pr_0000000000000001"] == name_key("Hanbit Duplicate Test")
        assert (
            rows["pr_0000000000000002"]
            == f"{name_key('Hanbit Duplicate Test')}:pr_0000000000000002"
        )
        assert rows["pr_0000000000000003"] == name_key("Hanbit Duplicate Test")
        assert hangul == "한빛" and rows["pr_0000000000000004"] == name_key("한빛")
        downgrade(url, "0002")
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT public_id, name_key FROM profiles")).all())
        assert rows["pr_0000000000000001"] == "hanbit duplicate test"
        assert rows["pr_0000000000000002"] == "h\u0430nbit duplicate test"
        assert rows["pr_0000000000000004"] == "한빛"
        engine.dispose()
    finally:
        if cleanup:
            admin, name = cleanup
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


@pytest.mark.skipif(
    not PG_URL,
    reason="servers share a database only on PostgreSQL; a SQLite file serves one `serve`, "
    "which migrates once before its workers start",
)
def test_servers_starting_together_on_a_fresh_database_migrate_once(tmp_path):
    """Servers sharing one PostgreSQL each migrate at start. Two at once on a fresh database
    both created the tables and one died (UniqueViolation); they now take turns, and the
    second finds the schema current."""
    url, cleanup = _fresh_url(tmp_path)
    try:
        env = {**os.environ, "MATCHMAKER_DATABASE_URL": url, "MATCHMAKER_DATA_DIR": str(tmp_path)}
        cmd = [str(Path(sys.executable).parent / "matchmaker"), "db", "upgrade"]
        procs = [
            subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) for _ in range(3)
        ]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], errors
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        engine.dispose()
    finally:
        if cleanup:
            admin, name = cleanup
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_ids_of_deleted_rows_are_never_reused(client):
    """Delete the newest profile, key and change-log row, insert again: each new row gets a
    new id. SQLite without AUTOINCREMENT handed out the deleted id again (max + 1), so the
    change log's entry for the deleted profile then named the new one."""
    from sqlalchemy import delete, func, select

    from service.auth.models import ApiKey
    from service.auth.service import create_key
    from service.db import transaction
    from service.profiles.changes import ProfileChange
    from tests.conftest import create_profile

    sessions = client.app.state.matchmaker.sessions
    admin = {"X-API-Key": "test-admin-key-0123456789"}
    create_profile(client)
    newest, _ = create_profile(client)
    with transaction(sessions) as s:
        create_key(s, "official")
        create_key(s, "official")
        s.add(ProfileChange(profile_id=1, op="upsert"))

    def newest_ids() -> dict[str, int]:
        with sessions() as s:
            return {
                "profile": s.scalar(select(func.max(Profile.id))),
                "key": s.scalar(select(func.max(ApiKey.id))),
                "change": s.scalar(select(func.max(ProfileChange.seq))),
            }

    before = newest_ids()
    assert client.delete(f"/v1/profiles/{newest['id']}", headers=admin).status_code == 204
    with transaction(sessions) as s:  # the delete logged a change: remove the newest rows
        s.execute(delete(ApiKey).where(ApiKey.id == s.scalar(select(func.max(ApiKey.id)))))
        last = s.scalar(select(func.max(ProfileChange.seq)))
        s.execute(delete(ProfileChange).where(ProfileChange.seq == last))
    deleted = {**before, "change": last}
    create_profile(client)
    with transaction(sessions) as s:
        create_key(s, "official")
    after = newest_ids()  # the registration logged a new change too
    for table in ("profile", "key", "change"):
        assert after[table] > deleted[table], (table, deleted, after)


def test_0007_rebuilds_tables_without_losing_rows_they_own(tmp_path):
    """0007 rebuilds `profiles` on SQLite; with foreign keys on, dropping the old table
    cascaded to every embedding and key (the migration's environment turns them off)."""
    url, cleanup = _fresh_url(tmp_path)
    try:
        upgrade(url, "0006")
        engine = create_db_engine(url)  # foreign keys on, as the service runs
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO profiles (id, public_id, name, name_key, country, org_type,"
                    " sectors, sector_mask, capabilities, needs, partnership_types, tags,"
                    " created_at, updated_at) VALUES (7, 'pr_0000000000000007', 'A', 'a', 'IN',"
                    " 'company', '[]', 0, 'x', 'y', '[]', '[]', CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO profile_embeddings (profile_id, field, model, text_hash, vector,"
                    " sentences, sentence_vectors) VALUES (7, 'needs', 'm', 'h', :b, '[]', :b)"
                ),
                {"b": b"\0"},
            )
            conn.execute(
                text(
                    "INSERT INTO api_keys (id, key_hash, role, profile_id, created_at)"
                    " VALUES (3, 'h', 'owner', 7, CURRENT_TIMESTAMP)"
                )
            )
        upgrade(url)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM profile_embeddings")).scalar() == 1
            assert conn.execute(text("SELECT profile_id FROM api_keys")).scalar() == 7
            conn.execute(text("DELETE FROM profiles WHERE id = 7"))  # cascades still work
            assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar() == 0
        engine.dispose()
    finally:
        if cleanup:
            admin, name = cleanup
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
