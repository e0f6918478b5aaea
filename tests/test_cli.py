"""The ``matchmaker`` CLI, driven with Typer's runner against a real database."""

from __future__ import annotations

import csv
import gc

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from service.cli import app
from service.profiles.models import Profile
from tests.conftest import PG_URL

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch, database_url, settings, model_cache):
    monkeypatch.setenv("MATCHMAKER_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("MATCHMAKER_DATABASE_URL", database_url)
    (tmp_path / "cli-data").mkdir()
    # Reuse the ONNX export cached by the test session.
    (tmp_path / "cli-data" / "models").symlink_to(model_cache)
    return tmp_path


def count(url: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as c:
        n = c.scalar(select(func.count()).select_from(Profile))
    engine.dispose()
    return n


def test_keys_create_prints_only_the_key(env):
    r = runner.invoke(app, ["keys", "create", "--role", "official", "--label", "Ministry"])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().startswith("mm_") and len(r.stdout.strip().splitlines()) == 1
    r = runner.invoke(app, ["keys", "create", "--role", "owner"])
    assert r.exit_code != 0


def test_seed_is_idempotent_then_export_and_reindex(env, database_url):
    r = runner.invoke(app, ["seed"])
    assert r.exit_code == 0, r.output
    n = count(database_url)
    assert n >= 150
    r = runner.invoke(app, ["seed"])
    assert r.exit_code == 0 and count(database_url) == n
    assert "0 created" in r.output
    out = env / "pairs.csv"
    r = runner.invoke(
        app,
        [
            "export",
            "--format",
            "csv",
            "--out",
            str(out),
            "--top-k",
            "3",
            "--sector",
            "shipbuilding",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "rows written" in r.stdout
    assert gc.isenabled()  # the export paused the cycle collector for itself only
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert rows and all("shipbuilding" in row["shared_sectors"] for row in rows)
    r = runner.invoke(app, ["export", "--format", "xlsx", "--out", str(out)])
    assert r.exit_code != 0
    r = runner.invoke(app, ["reindex"])
    assert r.exit_code == 0, r.output


@pytest.mark.skipif(bool(PG_URL), reason="downgrade of the shared session database")
def test_db_upgrade_and_downgrade(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MATCHMAKER_DATABASE_URL", url)
    monkeypatch.setenv("MATCHMAKER_DATA_DIR", str(tmp_path))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert count(url) == 0
    assert runner.invoke(app, ["db", "downgrade", "base"]).exit_code == 0
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0


def test_seed_synthetic_with_planted_pairs(env, database_url):
    planted = env / "planted.csv"
    r = runner.invoke(
        app, ["seed", "--synthetic", "40", "--random-seed", "3", "--planted-out", str(planted)]
    )
    assert r.exit_code == 0, r.output
    assert count(database_url) == 40
    rows = list(csv.DictReader(planted.open()))
    assert rows and set(rows[0]) == {"in_name", "kr_name", "in_index", "kr_index"}
