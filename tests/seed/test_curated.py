"""The curated seed set: schema-valid, both countries and all core sectors well covered."""

from __future__ import annotations

from collections import Counter

from service.profiles.schemas import ProfileCreate
from service.profiles.service import name_key
from service.seed.loader import CURATED, read_jsonl

CORE = ("semiconductors", "ai", "clean_energy", "shipbuilding", "defence")


def test_every_curated_profile_is_valid_against_the_api_schema():
    rows = read_jsonl(CURATED)
    assert len(rows) >= 150
    for row in rows:
        ProfileCreate.model_validate(row)


def test_coverage_and_unique_names():
    rows = read_jsonl(CURATED)
    per = Counter((r["country"], s) for r in rows for s in r["sectors"])
    for country in ("IN", "KR"):
        for sector in CORE:
            assert per[(country, sector)] >= 12, (country, sector)
    keys = [(r["country"], name_key(r["name"])) for r in rows]
    assert len(keys) == len(set(keys))
    assert {r["org_type"] for r in rows} >= {
        "company",
        "startup",
        "research_institute",
        "university",
    }
