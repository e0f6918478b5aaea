"""Tests for the synthetic registry generator (service.seed.synthetic)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from functools import cache

import pytest

from service.seed import words
from service.seed.synthetic import SyntheticSet, generate, stream, write_planted_pairs

KEYS = {
    "name",
    "country",
    "org_type",
    "sectors",
    "capabilities",
    "needs",
    "partnership_types",
    "employees",
    "city",
    "tags",
    "website",
}
SECTORS = {
    "semiconductors",
    "ai",
    "clean_energy",
    "shipbuilding",
    "defence",
    "automotive",
    "steel_materials",
}
ORG_TYPES = {"company", "startup", "research_institute", "university", "government_agency"}
PARTNERSHIP_TYPES = {
    "joint_venture",
    "technology_licensing",
    "co_development",
    "manufacturing",
    "supply_chain",
    "research_collaboration",
    "investment",
}
EMPLOYEES = {
    "company": (1, 100_000),
    "startup": (5, 200),
    "research_institute": (1, 100_000),
    "university": (1, 100_000),
    "government_agency": (1, 100_000),
}
WEBSITE = re.compile(r"^https://[a-z0-9]+(-[a-z0-9]+)*\.example$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SENTENCE_END = re.compile(r"(?<=\.)\s+")


@cache
def _sample(n: int, seed: int) -> SyntheticSet:
    return generate(n, random_seed=seed)


def _sentences(text: str) -> int:
    return len(SENTENCE_END.split(text))


def _normalised(name: str) -> str:
    return " ".join(name.casefold().split())


def test_same_seed_gives_identical_output() -> None:
    a = generate(400, random_seed=7)
    b = generate(400, random_seed=7)
    assert a == b
    assert generate(400, random_seed=8).profiles != a.profiles


def test_stream_yields_what_generate_returns() -> None:
    pairs, profiles = stream(300, random_seed=3)
    expected = generate(300, random_seed=3)
    assert pairs == expected.planted_pairs
    assert list(profiles) == expected.profiles


def test_names_distinct_per_country_at_scale() -> None:
    s = _sample(20_000, 1)
    seen: dict[str, set[str]] = {"IN": set(), "KR": set()}
    for p in s.profiles:
        key = _normalised(p["name"])
        assert key not in seen[p["country"]], p["name"]
        seen[p["country"]].add(key)
    assert len({p["website"] for p in s.profiles}) == len(s.profiles)


def test_every_field_within_limits() -> None:
    s = _sample(3_000, 2)
    in_cities = {p["city"] for p in s.profiles if p["country"] == "IN"}
    kr_cities = {p["city"] for p in s.profiles if p["country"] == "KR"}
    assert not in_cities & kr_cities
    for p in s.profiles:
        assert set(p) == KEYS
        assert 2 <= len(p["name"]) <= 200 and p["name"] == " ".join(p["name"].split())
        assert p["country"] in ("IN", "KR")
        assert p["org_type"] in ORG_TYPES
        sectors = p["sectors"]
        assert 1 <= len(sectors) <= 3 and len(set(sectors)) == len(sectors)
        assert set(sectors) <= SECTORS
        assert 250 <= len(p["capabilities"]) <= 1200
        assert 3 <= _sentences(p["capabilities"]) <= 6
        assert 150 <= len(p["needs"]) <= 900
        assert 2 <= _sentences(p["needs"]) <= 4
        for text in (p["name"], p["capabilities"], p["needs"], p["city"]):
            assert not CONTROL.search(text) and "{" not in text and "}" not in text
        ptypes = p["partnership_types"]
        assert len(ptypes) <= 3 and len(set(ptypes)) == len(ptypes)
        assert set(ptypes) <= PARTNERSHIP_TYPES
        low, high = EMPLOYEES[p["org_type"]]
        assert isinstance(p["employees"], int) and low <= p["employees"] <= high
        assert isinstance(p["city"], str) and 1 <= len(p["city"]) <= 100
        tags = p["tags"]
        assert 2 <= len(tags) <= 8 and len(set(tags)) == len(tags)
        assert all(0 < len(t) <= 40 and t == t.lower() for t in tags)
        assert WEBSITE.match(p["website"]), p["website"]


def test_mix_of_countries_sectors_and_org_types() -> None:
    s = _sample(3_000, 2)
    countries = Counter(p["country"] for p in s.profiles)
    assert countries["IN"] == countries["KR"] == 1_500
    assert {p["sectors"][0] for p in s.profiles} == SECTORS
    org_types = Counter(p["org_type"] for p in s.profiles)
    assert set(org_types) == ORG_TYPES
    assert org_types["company"] + org_types["startup"] > 0.7 * len(s.profiles)
    assert org_types["government_agency"] < org_types["university"] < org_types["company"]


def test_vocabularies_are_rich_and_reworded() -> None:
    assert set(words.VOCAB) == SECTORS
    for vocab in words.VOCAB.values():
        assert len(vocab.concepts) >= 25
        assert len(vocab.facilities) >= 10
        assert len(vocab.certifications) >= 8
        assert len({c.tag for c in vocab.concepts}) == len(vocab.concepts)
        for concept in vocab.concepts:
            assert concept.capability.casefold() != concept.need.casefold()


def _concepts_by_need() -> dict[str, words.Concept]:
    return {c.need: c for v in words.VOCAB.values() for c in v.concepts}


def _answered(needs_text: str, capabilities_text: str) -> bool:
    """True if every concept need in ``needs_text`` is offered in ``capabilities_text``."""
    found = [c for need, c in _concepts_by_need().items() if need in needs_text]
    return bool(found) and all(c.capability in capabilities_text for c in found)


def test_planted_pairs_are_valid_and_complementary() -> None:
    s = _sample(5_000, 4)
    assert len(s.planted_pairs) == 100
    used = [i for pair in s.planted_pairs for i in pair]
    assert len(used) == len(set(used))
    for in_index, kr_index in s.planted_pairs:
        a, b = s.profiles[in_index], s.profiles[kr_index]
        assert (a["country"], b["country"]) == ("IN", "KR")
        assert a["sectors"][0] == b["sectors"][0]
        assert set(a["partnership_types"]) & set(b["partnership_types"])
        assert _answered(a["needs"], b["capabilities"])
        assert _answered(b["needs"], a["capabilities"])
        # Needs are phrased differently from the matching capabilities.
        for concept in _concepts_by_need().values():
            assert concept.capability not in a["needs"] and concept.capability not in b["needs"]


def test_complementarity_is_rare_outside_planted_pairs() -> None:
    s = _sample(3_000, 2)
    planted = set(s.planted_pairs)
    ins = [i for i, p in enumerate(s.profiles) if p["country"] == "IN"][:150]
    krs = [i for i, p in enumerate(s.profiles) if p["country"] == "KR"][:150]
    mutual = sum(
        1
        for i in ins
        for k in krs
        if (i, k) not in planted
        and _answered(s.profiles[i]["needs"], s.profiles[k]["capabilities"])
        and _answered(s.profiles[k]["needs"], s.profiles[i]["capabilities"])
    )
    assert mutual < 0.001 * len(ins) * len(krs)


def test_planted_fraction_controls_pair_count() -> None:
    assert generate(500, random_seed=1, planted_fraction=0.0).planted_pairs == []
    assert len(generate(500, random_seed=1, planted_fraction=0.1).planted_pairs) == 50
    assert generate(1, random_seed=1).planted_pairs == []
    assert generate(0).profiles == []


@pytest.mark.parametrize(("n", "fraction"), [(-1, 0.02), (10, -0.1), (10, 0.6)])
def test_invalid_arguments_are_rejected(n: int, fraction: float) -> None:
    with pytest.raises(ValueError):
        generate(n, planted_fraction=fraction)


def test_write_planted_pairs_round_trips(tmp_path) -> None:
    s = _sample(5_000, 4)
    path = tmp_path / "planted.csv"
    write_planted_pairs(s, path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["in_name", "kr_name", "in_index", "kr_index"]
    assert len(rows) == len(s.planted_pairs) + 1
    for row, (in_index, kr_index) in zip(rows[1:], s.planted_pairs, strict=True):
        assert row == [
            s.profiles[in_index]["name"],
            s.profiles[kr_index]["name"],
            str(in_index),
            str(kr_index),
        ]


# Digests computed with the generator as it was before its word lists moved to
# service/seed/vocabulary/*.json.  Any edit, addition, removal or reordering of a word
# list or phrase table changes one or both of them; update them only on purpose.
_OUTPUT_DIGEST_N300_SEED7 = "57ce7c30f9e44b3708199191b25eef1d9cecf65abd31f1be92f3671d9456f0f7"
_VOCABULARY_DIGEST = "3088bab780148e4193c1b4f1105b31b751626b478b10a5da59692cdc884bf8ab"
_VOCABULARY_TABLES = (
    "VOCAB",
    "_RELATED",
    "_SECTOR_POOL",
    "_CITIES",
    "_HUBS",
    "_AGENCY_SEATS",
    "_REGIONS",
    "_ROOTS",
    "_MODIFIERS",
    "_LEGAL",
    "_INSTITUTE_CORES",
    "_UNIVERSITY_CORES",
    "_AGENCY_CORES",
    "_INTROS",
    "_STAGES",
    "_INSTITUTE_KINDS",
    "_GOV_KINDS",
    "_OFFER_LEADS",
    "_OFFER_MORE",
    "_FACILITY_LINES",
    "_CERT_LINES",
    "_SCALE_LINES",
    "_MILESTONES",
    "_RESEARCH_MILESTONES",
    "_MARKETS",
    "_NEED_FIRST",
    "_NEED_MORE",
    "_GENERIC_NEEDS",
    "_PTYPE_PHRASES",
    "_PTYPE_ONE",
    "_PTYPE_MANY",
    "_PTYPE_NONE",
    "_MOTIVATIONS",
    "_PARTNER",
    "_ORG_TAGS",
)


def _sha256_of_json(data: object) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))  # keeps key order
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_output_for_a_seed_is_unchanged_since_the_vocabulary_moved_to_data_files() -> None:
    s = generate(300, random_seed=7)
    output = {"profiles": s.profiles, "planted_pairs": s.planted_pairs}
    assert _sha256_of_json(output) == _OUTPUT_DIGEST_N300_SEED7
    # 300 profiles do not draw every word, so also pin the loaded tables themselves.
    tables = {name: getattr(words, name) for name in _VOCABULARY_TABLES}
    assert _sha256_of_json(tables) == _VOCABULARY_DIGEST
