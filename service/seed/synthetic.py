"""Synthetic IN/KR partner registries with planted complementary pairs.

Used by ``matchmaker seed --synthetic N [--random-seed S]`` to build registries of
10,000 to 1,000,000 profiles for benchmarks, with a known set of complementary
(IN, KR) pairs so that matching quality can be measured at scale.

Design
------
* **Offer concepts.**  Every sector has a vocabulary of ``Concept`` entries.  A concept
  is one thing an organisation can offer, written twice: a *capability* phrasing (a noun
  phrase, as a provider describes it) and a *need* phrasing (a verb phrase, as a seeker
  describes it, in deliberately different words), plus a short tag.  Capabilities texts
  are built from capability phrasings, needs texts from need phrasings, so a matcher has
  to bridge vocabulary rather than copy strings.
* **Planted pairs.**  About ``planted_fraction * n`` (IN, KR) pairs share a primary
  sector; the concepts of that sector are split into disjoint offer sets A and B, and
  A's needs are drawn only from B's offers and B's needs only from A's offers.  Both
  also share at least one partnership type.  All other profiles draw offers and needs at
  random (needs never repeat their own offers; some are generic, e.g. regulatory help),
  so full mutual complementarity is rare outside the planted pairs.
* **Names.**  Names are combinatorial (root x optional modifier x sector word x legal
  suffix for companies; root x institution pattern for institutes and universities;
  state/province x field x body for agencies).  They are unique per country after
  case-folding and whitespace collapse: a taken name is redrawn a few times, then gets a
  regional qualifier, then a Roman numeral.  Websites are unique slugs.
* **Determinism.**  All randomness comes from one ``random.Random(random_seed)``; no
  global random state, no clock, no iteration over sets.  The same ``(n, random_seed,
  planted_fraction)`` always gives identical output.
* **Scale.**  Countries and planted pairs are planned first (a few integers per
  profile); profiles are then produced one by one.  ``stream`` exposes that iterator so
  very large registries can be written out without holding every profile in memory;
  ``generate`` simply materialises it.

Vocabulary
----------
The word lists and phrase tables are data, not code: they live in JSON files in
``service/seed/vocabulary/`` (shipped as package data) and are loaded at import time.
``sectors.json`` holds the per-sector vocabularies and concepts (plus each sector's share
of profiles and its related sectors), ``names.json`` the name parts, ``places.json``
cities, hubs, agency seats and regions, and ``phrases.json`` the sentence templates.  The
order of every list and object there feeds the random draws, so reordering or editing an
entry changes the output for a given seed.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from service.core.csvsafe import SafeCsvWriter
from service.core.memory import collector_paused
from service.profiles.service import name_key
from service.sectors import SECTOR_CODES as SECTORS
from service.vocab import COUNTRIES, ORG_TYPES, PARTNERSHIP_TYPES

__all__ = [
    "COUNTRIES",
    "ORG_TYPES",
    "PARTNERSHIP_TYPES",
    "SECTORS",
    "SyntheticSet",
    "generate",
    "stream",
    "write_planted_pairs",
]

from service.seed.prose import (
    _capabilities,
    _city,
    _employees,
    _founded,
    _needs,
    _Org,
    _tags,
)
from service.seed.words import (
    _AGENCY_CORES,
    _AGENCY_LEADS,
    _AGENCY_SEATS,
    _CITIES,
    _GENERIC_NEEDS,
    _INSTITUTE_CORES,
    _LEGAL,
    _MODIFIERS,
    _ORG_POOL,
    _REGIONS,
    _RELATED,
    _ROOTS,
    _SECTOR_POOL,
    _UNIVERSITY_CORES,
    VOCAB,
    _Spec,
)

# --------------------------------------------------------------------------------------
# Planning: countries and planted pairs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticSet:
    """Generated profiles plus the planted complementary (IN index, KR index) pairs."""

    profiles: list[dict]
    planted_pairs: list[tuple[int, int]]


def _validate(n: int, planted_fraction: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not 0.0 <= planted_fraction <= 0.5:
        raise ValueError(f"planted_fraction must be in [0, 0.5], got {planted_fraction!r}")


def _assign_countries(rng: random.Random, n: int) -> list[str]:
    countries = ["IN"] * (n - n // 2) + ["KR"] * (n // 2)
    rng.shuffle(countries)
    return countries


def _secondary_sectors(rng: random.Random, primary: str) -> tuple[str, ...]:
    r = rng.random()
    extra = 0 if r < 0.55 else 1 if r < 0.88 else 2
    return (primary, *rng.sample(_RELATED[primary], extra))


def _sorted_ptypes(ptypes: Sequence[str]) -> tuple[str, ...]:
    return tuple(p for p in PARTNERSHIP_TYPES if p in ptypes)


def _planted_specs(rng: random.Random, sector: str) -> tuple[_Spec, _Spec]:
    """Two specs whose needs are each answered by the other's offers."""
    concepts = VOCAB[sector].concepts
    n_a, n_b = rng.randint(2, 3), rng.randint(2, 3)
    picked = [concepts[i] for i in rng.sample(range(len(concepts)), n_a + n_b)]
    offers_a, offers_b = tuple(picked[:n_a]), tuple(picked[n_a:])
    needs_a = tuple(c.need for c in rng.sample(offers_b, rng.randint(1, 2)))
    needs_b = tuple(c.need for c in rng.sample(offers_a, rng.randint(1, 2)))
    shared = rng.choice(PARTNERSHIP_TYPES)
    ptypes_a = _sorted_ptypes([shared, *rng.sample(PARTNERSHIP_TYPES, rng.randint(0, 2))])
    ptypes_b = _sorted_ptypes([shared, *rng.sample(PARTNERSHIP_TYPES, rng.randint(0, 2))])
    return (
        _Spec(_secondary_sectors(rng, sector), offers_a, needs_a, ptypes_a),
        _Spec(_secondary_sectors(rng, sector), offers_b, needs_b, ptypes_b),
    )


def _plant(
    rng: random.Random, countries: Sequence[str], planted_fraction: float
) -> tuple[dict[int, _Spec], list[tuple[int, int]]]:
    in_idx = [i for i, c in enumerate(countries) if c == "IN"]
    kr_idx = [i for i, c in enumerate(countries) if c == "KR"]
    k = min(round(planted_fraction * len(countries)), len(in_idx), len(kr_idx))
    pairs = sorted(zip(rng.sample(in_idx, k), rng.sample(kr_idx, k), strict=True))
    specs: dict[int, _Spec] = {}
    for a, b in pairs:
        specs[a], specs[b] = _planted_specs(rng, rng.choice(_SECTOR_POOL))
    return specs, pairs


def _random_spec(rng: random.Random) -> _Spec:
    """Offers and needs drawn independently (needs never repeat own offers)."""
    sectors = _secondary_sectors(rng, rng.choice(_SECTOR_POOL))
    concepts = VOCAB[sectors[0]].concepts
    n_offers = rng.choice((1, 2, 2, 2, 3, 3, 3))
    idx = rng.sample(range(len(concepts)), n_offers + 3)
    offers = [concepts[i] for i in idx[:n_offers]]
    need_pool = [concepts[i].need for i in idx[n_offers:]]
    needs = need_pool[: rng.choice((1, 1, 2, 2, 3))]
    if len(sectors) > 1 and rng.random() < 0.5:
        side = VOCAB[rng.choice(sectors[1:])].concepts
        first, second = rng.sample(side, 2)
        offers.append(first)
        if len(needs) < 3 and rng.random() < 0.5:
            needs.append(second.need)
    if len(needs) < 3 and rng.random() < 0.35:
        needs.append(rng.choice(_GENERIC_NEEDS))
    r = rng.random()
    n_ptypes = 0 if r < 0.1 else 1 if r < 0.5 else 2 if r < 0.85 else 3
    ptypes = _sorted_ptypes(rng.sample(PARTNERSHIP_TYPES, n_ptypes))
    return _Spec(sectors, tuple(offers), tuple(needs), ptypes)


# --------------------------------------------------------------------------------------
# Names and websites
# --------------------------------------------------------------------------------------


def _roman(k: int) -> str:
    out = []
    for value, glyph in (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        count, k = divmod(k, value)
        out.append(glyph * count)
    return "".join(out)


def _name_key(name: str) -> str:
    """Uniqueness key: the registry's own duplicate key (``profiles.service.name_key``)."""
    return name_key(name)


def _join_name(*parts: str) -> str:
    return " ".join(p for p in parts if p)


class _NameParts(NamedTuple):
    lead: str
    core: str
    legal: str


def _draw_name(rng: random.Random, country: str, org_type: str, sector: str) -> _NameParts:
    vocab = VOCAB[sector]
    company_roots, startup_roots = _ROOTS[country]
    if org_type == "company":
        word = rng.choice(vocab.name_words)
        modifier = rng.choice(_MODIFIERS) if rng.random() < 0.2 else ""
        if modifier in word:
            modifier = ""
        legal = rng.choice(_LEGAL[country]["company"])
        return _NameParts(rng.choice(company_roots), _join_name(modifier, word), legal)
    if org_type == "startup":
        words = vocab.startup_words if rng.random() < 0.6 else vocab.name_words
        legal = rng.choice(_LEGAL[country]["startup"])
        return _NameParts(rng.choice(startup_roots), rng.choice(words), legal)
    if org_type == "research_institute":
        core = rng.choice(_INSTITUTE_CORES[country]).format(f=rng.choice(vocab.fields))
        return _NameParts(rng.choice(startup_roots), core, "")
    if org_type == "university":
        return _NameParts(rng.choice(startup_roots), rng.choice(_UNIVERSITY_CORES[country]), "")
    core = rng.choice(_AGENCY_CORES[country]).format(f=rng.choice(vocab.fields))
    return _NameParts(rng.choice(_AGENCY_LEADS[country]), core, "")


class _Registry:
    """Keeps names unique per country (after normalisation) and websites unique."""

    def __init__(self) -> None:
        self._names: dict[str, set[str]] = {c: set() for c in COUNTRIES}
        self._numeral: dict[str, int] = {}
        self._slugs: dict[str, int] = {}

    def name(self, rng: random.Random, country: str, org_type: str, sector: str) -> _NameParts:
        """Draw name parts whose joined name is unique within ``country``.

        A few fresh draws first, then a regional qualifier (a field office for agencies),
        then a Roman numeral, which always succeeds.
        """
        for _ in range(4):
            parts = _draw_name(rng, country, org_type, sector)
            if self._claim(country, parts):
                return parts
        if org_type == "government_agency":
            office = f"{parts.core} ({rng.choice(_CITIES[country])} Office)"
            qualified = _NameParts(parts.lead, office, parts.legal)
        else:
            region = rng.choice(_REGIONS[country])
            qualified = _NameParts(_join_name(parts.lead, region), parts.core, parts.legal)
        if self._claim(country, qualified):
            return qualified
        return self._numbered(country, parts)

    def _claim(self, country: str, parts: _NameParts) -> bool:
        key = _name_key(_join_name(*parts))
        taken = self._names[country]
        if key in taken:
            return False
        taken.add(key)
        return True

    def _numbered(self, country: str, parts: _NameParts) -> _NameParts:
        base = f"{country}:{_name_key(_join_name(*parts))}"
        k = self._numeral.get(base, 2)
        while True:
            numbered = _NameParts(parts.lead, f"{parts.core} {_roman(k)}", parts.legal)
            k += 1
            if self._claim(country, numbered):
                self._numeral[base] = k
                return numbered

    def website(self, slug_base: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", slug_base.casefold()).strip("-")[:55].strip("-")
        slug = slug or "org"
        candidate, count = slug, self._slugs.get(slug, 0)
        while candidate in self._slugs:
            count += 1
            candidate = f"{slug}-{count}"
        self._slugs[slug] = count
        self._slugs[candidate] = 0
        return f"https://{candidate}.example"


def _profile(rng: random.Random, country: str, spec: _Spec, registry: _Registry) -> dict:
    org_type = rng.choice(_ORG_POOL)
    primary = spec.sectors[0]
    parts = registry.name(rng, country, org_type, primary)
    if org_type == "government_agency":
        city = _AGENCY_SEATS[country][parts.lead]
    else:
        city = _city(rng, country, primary, org_type)
    org = _Org(country, org_type, city, _employees(rng, org_type), _founded(rng, org_type, primary))
    return {
        "name": _join_name(*parts),
        "country": country,
        "org_type": org_type,
        "sectors": list(spec.sectors),
        "capabilities": _capabilities(rng, org, spec),
        "needs": _needs(rng, org, spec),
        "partnership_types": list(spec.ptypes),
        "employees": org.employees,
        "city": city,
        "tags": _tags(org, spec),
        "website": registry.website(_join_name(parts.lead, parts.core)),
    }


def _iter_profiles(
    rng: random.Random, countries: list[str], planted: dict[int, _Spec]
) -> Iterator[dict]:
    registry = _Registry()
    for i, country in enumerate(countries):
        spec = planted.get(i)
        if spec is None:
            spec = _random_spec(rng)
        yield _profile(rng, country, spec, registry)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def stream(
    n: int, random_seed: int = 0, planted_fraction: float = 0.02
) -> tuple[list[tuple[int, int]], Iterator[dict]]:
    """Plan ``n`` profiles and return (planted pairs, lazy profile iterator).

    Yields exactly the profiles ``generate`` would return, one at a time, so registries
    of a million profiles can be written out without holding them all in memory.  The
    iterator should be consumed once, fully and in order.
    """
    _validate(n, planted_fraction)
    rng = random.Random(random_seed)
    countries = _assign_countries(rng, n)
    planted, pairs = _plant(rng, countries, planted_fraction)
    return pairs, _iter_profiles(rng, countries, planted)


def generate(n: int, random_seed: int = 0, planted_fraction: float = 0.02) -> SyntheticSet:
    """Generate ``n`` profiles (about half IN, half KR) with planted complementary pairs.

    ``planted_pairs`` holds about ``planted_fraction * n`` (IN index, KR index) tuples,
    sorted by IN index.  Deterministic for a given (n, random_seed, planted_fraction).
    """
    pairs, profiles = stream(n, random_seed, planted_fraction)
    # Profiles hold no reference cycles; pausing the cyclic GC while a million dicts pile
    # up saves about a third of the run time.
    with collector_paused():
        items = list(profiles)
    return SyntheticSet(profiles=items, planted_pairs=pairs)


def write_planted_pairs(s: SyntheticSet, path: str | os.PathLike[str]) -> None:
    """Write planted pairs as CSV: in_name,kr_name,in_index,kr_index (UTF-8)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = SafeCsvWriter(fh)
        writer.writerow(("in_name", "kr_name", "in_index", "kr_index"))
        for in_index, kr_index in s.planted_pairs:
            in_name = s.profiles[in_index]["name"]
            kr_name = s.profiles[kr_index]["name"]
            writer.writerow((in_name, kr_name, in_index, kr_index))
