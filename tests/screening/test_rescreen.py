"""``matchmaker screen``: a new vocabulary version re-screens every profile, a changed text
re-screens its profile, and what is stored and decided carries the version. The real command
in a subprocess against the real database, a vocabulary folder named by the environment, the
real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.app import create_app
from service.config import ScreeningSettings
from service.controls import DATA, catalogue
from service.db import transaction
from service.screening.engine import MODEL
from service.screening.models import ScreeningResult
from tests.conftest import ADMIN_KEY, ROOT, create_profile, make_settings

NEW = "2026.1-test"
SHIPPED = json.loads(MODEL.read_text(encoding="utf-8"))["name"]
CODE = "KR-NCT-AUTO"
DRIVING = "We develop sensor-fusion software for level 4 autonomous driving in passenger cars."
PARTNER = "We build perception datasets and test tracks for self-driving vehicle makers."


@pytest.fixture
def new_vocabulary(tmp_path):
    """A copy of the packaged vocabulary with one category added and its version bumped."""
    folder = tmp_path / "vocabulary"
    folder.mkdir()
    raw = json.loads((DATA / "categories.json").read_text(encoding="utf-8"))
    raw["version"] = NEW
    raw["categories"].append(
        {
            "code": CODE,
            "regime": "kr_core_tech",
            "name": "Automobiles (a test entry)",
            "implies": [],
            "sectors": ["ai"],
            "description": "Autonomous driving systems for road vehicles.",
            "examples": [DRIVING],
            "source": "test vocabulary",
        }
    )
    (folder / "categories.json").write_text(json.dumps(raw), encoding="utf-8")
    terms = (DATA / "terms.csv").read_text(encoding="utf-8")
    (folder / "terms.csv").write_text(terms + f"{CODE},+,autonomous driving\n", encoding="utf-8")
    return folder


def cli_env(tmp_path, database_url: str, model_cache) -> dict[str, str]:  # noqa: ANN001
    """Environment of a ``matchmaker`` CLI process on the test database, with a data folder of
    its own that reuses the session's model cache."""
    data = tmp_path / "cli-data"
    data.mkdir()
    (data / "models").symlink_to(model_cache)
    return os.environ | {"MATCHMAKER_DATABASE_URL": database_url, "MATCHMAKER_DATA_DIR": str(data)}


def screen(env: dict, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "service.cli", "screen", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def stored(client: TestClient) -> dict[str, ScreeningResult]:
    with transaction(client.app.state.matchmaker.sessions) as session:
        rows = session.scalars(select(ScreeningResult)).all()
        session.expunge_all()
        return {r.profile_id: r for r in rows}


def codes(row: ScreeningResult) -> set[str]:
    return {f["code"] for f in row.flags}


def test_new_vocabulary_and_changed_text_rescreen(
    tmp_path, settings, encoder, model_cache, database_url, new_vocabulary, monkeypatch
):
    with TestClient(create_app(settings, encoder=encoder)) as old:
        kr, kr_key = create_profile(
            old, country="KR", sectors=["ai"], capabilities=DRIVING, needs=PARTNER
        )
        india, _ = create_profile(old, sectors=["ai"], capabilities=PARTNER, needs=DRIVING)
        create_profile(old, sectors=["semiconductors"])
        first = stored(old)
        version = old.app.state.matchmaker.screener.version
    assert len(first) == 3 and {r.vocabulary_version for r in first.values()} == {version}
    assert not version.startswith(NEW) and all(CODE not in codes(r) for r in first.values())

    env = cli_env(tmp_path, database_url, model_cache) | {
        "MATCHMAKER_SCREENING_VOCABULARY": str(new_vocabulary)
    }
    # a new version: every profile is stale, screened with a progress bar
    r = screen(env)
    assert f"screened 3 profiles with {NEW}/" in r.stderr
    assert "3/3" in r.stderr and "100%" in r.stderr  # tqdm's bar on stderr
    # nothing left; --all screens everything again
    assert "screened 0 profiles" in screen(env).stderr
    assert "screened 3 profiles" in screen(env, "--all").stderr

    # the service, started with the new vocabulary (read from the environment, once per process)
    monkeypatch.setenv("MATCHMAKER_SCREENING_VOCABULARY", str(new_vocabulary))
    catalogue.cache_clear()
    try:
        quiet = make_settings(settings.data_dir, database_url).model_copy(
            update={"screening": ScreeningSettings(on_write=False)}
        )
        with TestClient(create_app(quiet, encoder=encoder)) as new:
            rows = stored(new)
            assert {r.vocabulary_version for r in rows.values()} == {f"{NEW}/{SHIPPED}"}
            kr_row = next(r for r in rows.values() if CODE in codes(r))
            assert DRIVING in {f["sentence"] for f in kr_row.flags}
            staff = {"X-API-Key": ADMIN_KEY}
            assert new.get("/v1/screening/categories").json()["version"] == NEW
            pairs = new.get("/v1/pairings?per_org=5", headers=staff).json()["pairings"]
            pair = next(p for p in pairs if p["kr"]["id"] == kr["id"])
            assert pair["in"]["id"] == india["id"]
            assert pair["screening"]["status"] == "review_required"
            assert CODE in pair["screening"]["categories"]
            body = {"profiles": [india["id"], kr["id"]], "decision": "cleared"}
            d = new.post("/v1/screening/decisions", json=body, headers=staff).json()
            assert d["vocabulary_version"] == f"{NEW}/{SHIPPED}" and CODE in d["categories"]
            # a changed text (not screened on write here) makes its profile alone stale
            civil = "We make cabin seats and interior trim for passenger cars."
            r = new.patch(f"/v1/profiles/{kr['id']}", json={"capabilities": civil}, headers=kr_key)
            assert r.status_code == 200, r.text
            assert stored(new)[kr_row.profile_id].flags == kr_row.flags  # not yet
            assert "screened 1 profiles" in screen(env).stderr
            assert CODE not in codes(stored(new)[kr_row.profile_id])
    finally:
        monkeypatch.delenv("MATCHMAKER_SCREENING_VOCABULARY")
        catalogue.cache_clear()


def test_new_model_version_rescreens(tmp_path, settings, encoder, model_cache, database_url):
    """A model file with another name (a refit, new features or exemplars) makes every profile
    stale, as a new vocabulary version does; going back to the shipped model does too."""
    with TestClient(create_app(settings, encoder=encoder)) as client:
        create_profile(client, country="KR", sectors=["defence"], capabilities=DRIVING)
        create_profile(client, sectors=["shipbuilding"], capabilities=PARTNER)
        shipped = f"{catalogue().version}/{SHIPPED}"
        assert {r.vocabulary_version for r in stored(client).values()} == {shipped}

        folder = tmp_path / "model"
        folder.mkdir()
        raw = json.loads(MODEL.read_text(encoding="utf-8"))
        raw["name"] = "screening-refit-test"
        (folder / MODEL.name).write_text(json.dumps(raw), encoding="utf-8")
        (folder / raw["exemplars"]["file"]).write_bytes(
            (MODEL.parent / raw["exemplars"]["file"]).read_bytes()
        )
        env = cli_env(tmp_path, database_url, model_cache)
        refit = env | {"MATCHMAKER_SCREENING_MODEL": str(folder / MODEL.name)}
        r = screen(refit)
        assert f"screened 2 profiles with {catalogue().version}/screening-refit-test" in r.stderr
        assert "screened 0 profiles" in screen(refit).stderr
        assert {r.vocabulary_version for r in stored(client).values()} == {
            f"{catalogue().version}/screening-refit-test"
        }
        assert f"screened 2 profiles with {shipped}" in screen(env).stderr
