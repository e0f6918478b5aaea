"""What the service creates in its data folder is readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from service.migrate import upgrade
from tests.exports.test_exports import run_export


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_database_and_its_wal_files_are_created_0600(tmp_path):
    db = tmp_path / "fresh.db"
    upgrade(f"sqlite:///{db}")
    assert mode(db) == 0o600
    from service.db import create_db_engine

    engine = create_db_engine(f"sqlite:///{db}")
    with engine.connect() as conn:  # WAL mode: the -wal and -shm files exist while connected
        conn.execute(text("SELECT count(*) FROM profiles"))
        side_files = [p for p in tmp_path.iterdir() if p.name.startswith("fresh.db-")]
        assert side_files
        assert {p.name: mode(p) for p in side_files} == {p.name: 0o600 for p in side_files}
    engine.dispose()


def test_data_folder_exports_folder_and_export_files_are_private(client, admin, settings):
    from tests.conftest import create_profile

    create_profile(client, country="IN")
    create_profile(client, country="KR")
    assert mode(settings.data_dir) == 0o700
    for fmt in ("csv", "jsonl", "parquet"):
        status, _ = run_export(client, admin, format=fmt)
        out = settings.export_dir / f"{status['id']}.{fmt}"
        assert mode(out) == 0o600, fmt
    assert mode(settings.export_dir) == 0o700


def test_cli_creates_its_data_folder_and_database_private(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from service.cli import app

    data = tmp_path / "cli-data"
    monkeypatch.setenv("MATCHMAKER_DATA_DIR", str(data))
    monkeypatch.delenv("MATCHMAKER_DATABASE_URL", raising=False)
    r = CliRunner().invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    assert mode(data) == 0o700
    assert mode(data / "matchmaker.db") == 0o600


def test_sqlite_synchronous_follows_the_setting(tmp_path, encoder):
    """WAL with synchronous NORMAL (the default) or FULL (MATCHMAKER_SQLITE_SYNCHRONOUS):
    the app's connections use what the setting says (README: Configuration)."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from tests.conftest import make_settings

    db = f"sqlite:///{tmp_path / 'sync.db'}"
    upgrade(db)
    for setting, level in (("NORMAL", 1), ("FULL", 2)):
        s = make_settings(tmp_path / setting, db, sqlite_synchronous=setting)
        with TestClient(create_app(s, encoder=encoder)) as c:
            engine = c.app.state.matchmaker.engine
            with engine.connect() as conn:
                assert conn.execute(text("PRAGMA synchronous")).scalar() == level
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
