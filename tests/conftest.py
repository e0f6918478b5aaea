"""Test fixtures: a real database (SQLite file, or PostgreSQL when MATCHMAKER_TEST_DATABASE_URL
is set), migrated with Alembic once per session; the real model loaded once per session; the app
driven through its real HTTP stack with httpx (Starlette's TestClient)."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from embeddings.encoder import Encoder
from service.app import create_app
from service.bootstrap import build_encoder
from service.config import Settings
from service.migrate import upgrade
from service.models import Base

ROOT = Path(__file__).resolve().parents[1]
ADMIN_KEY = "test-admin-key-0123456789"
PG_URL = os.environ.get("MATCHMAKER_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway database for the session, created by the migrations."""
    if PG_URL:
        url = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        name = f"mm_test_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        test_url = url.set(database=name).render_as_string(hide_password=False)
        upgrade(test_url)
        yield test_url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def model_cache() -> Path:
    # ONNX exports are cached across test runs (they are derived, local files).
    path = ROOT / "data" / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def encoder(model_cache: Path) -> Encoder:
    """The real all-MiniLM-L6-v2, loaded once per test session."""
    s = Settings(data_dir=model_cache.parent)
    return build_encoder(s)


def make_settings(data_dir: Path, database_url: str, **overrides) -> Settings:
    values = dict(
        data_dir=data_dir,
        database_url=database_url,
        admin_key=ADMIN_KEY,
        rate_limit_enabled=False,
        sync_interval_s=0.1,
    )
    values.update(overrides)
    return Settings(**values)


def wipe(database_url: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Iterator[Settings]:
    yield make_settings(tmp_path / "data", database_url)
    wipe(database_url)


@pytest.fixture
def client(settings: Settings, encoder: Encoder) -> Iterator[TestClient]:
    app = create_app(settings, encoder=encoder)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def admin() -> dict[str, str]:
    return {"X-API-Key": ADMIN_KEY}


@pytest.fixture
def official(client: TestClient) -> dict[str, str]:
    from service.auth.service import create_key
    from service.db import transaction

    state = client.app.state.matchmaker
    with transaction(state.sessions) as session:
        key = create_key(session, "official", "test official")
    return {"X-API-Key": key}


_names = itertools.count(1)


def profile_payload(**overrides) -> dict:
    n = next(_names)
    body = {
        "name": f"Test Organisation {n}",
        "country": "IN",
        "org_type": "company",
        "sectors": ["semiconductors"],
        "capabilities": "We run an outsourced semiconductor assembly and test plant for "
        "automotive microcontrollers.",
        "needs": "We seek a partner with advanced wafer-level packaging technology and "
        "high-bandwidth memory know-how.",
        "partnership_types": ["joint_venture"],
        "city": "Bengaluru",
    }
    body.update(overrides)
    return body


def create_profile(client: TestClient, **overrides) -> tuple[dict, dict[str, str]]:
    """Register a profile; returns its JSON and the owner's auth header."""
    r = client.post("/v1/profiles", json=profile_payload(**overrides))
    assert r.status_code == 201, r.text
    body = r.json()
    return body, {"X-API-Key": body["api_key"]}
