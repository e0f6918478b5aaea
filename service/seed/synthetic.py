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

import gc
import json
import math
import os
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

from service.core.csvsafe import SafeCsvWriter
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

# Text length targets (the validator's hard limits are wider: 20-5000).
CAPABILITIES_CHARS = (250, 1200)
NEEDS_CHARS = (150, 900)
_MAX_CAP_SENTENCES = 6
_MAX_NEED_SENTENCES = 4


class Concept(NamedTuple):
    """One offer: how a provider describes it, how a seeker asks for it, and a tag."""

    capability: str
    need: str
    tag: str


class SectorVocab(NamedTuple):
    """Per-sector vocabulary."""

    noun: str  # "semiconductor company"
    focus: str  # lower-case field description used in intros
    fields: tuple[str, ...]  # title-case field names for institutions
    name_words: tuple[str, ...]  # sector words for company names
    startup_words: tuple[str, ...]
    concepts: tuple[Concept, ...]
    facilities: tuple[str, ...]
    certifications: tuple[str, ...]


@dataclass(frozen=True)
class SyntheticSet:
    """Generated profiles plus the planted complementary (IN index, KR index) pairs."""

    profiles: list[dict]
    planted_pairs: list[tuple[int, int]]


# --------------------------------------------------------------------------------------
# Vocabulary, loaded from vocabulary/*.json
# --------------------------------------------------------------------------------------

_Table = dict[str, tuple[str, ...]]


def _load(name: str) -> dict[str, Any]:
    """Read one JSON file of ``service/seed/vocabulary`` (objects keep their key order)."""
    text = resources.files(__package__).joinpath("vocabulary", name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _table(raw: dict[str, list[str]]) -> _Table:
    return {key: tuple(items) for key, items in raw.items()}


def _sector_vocab(raw: dict[str, Any]) -> SectorVocab:
    lists = {f: tuple(raw[f]) for f in SectorVocab._fields[2:]}  # all but noun and focus
    lists["concepts"] = tuple(
        Concept(c["capability"], c["need"], c["tag"]) for c in raw["concepts"]
    )
    return SectorVocab(noun=raw["noun"], focus=raw["focus"], **lists)


def _weighted(pairs: Iterable[tuple[str, int]]) -> tuple[str, ...]:
    """Expand (value, weight) pairs into a tuple for fast ``rng.choice``."""
    return tuple(value for value, weight in pairs for _ in range(weight))


_SECTOR_DATA = _load("sectors.json")
VOCAB: dict[str, SectorVocab] = {code: _sector_vocab(v) for code, v in _SECTOR_DATA.items()}
if set(VOCAB) != set(SECTORS):  # service.sectors is the source of truth for sector codes
    raise RuntimeError(f"synthetic vocabularies cover {sorted(VOCAB)}, not {sorted(SECTORS)}")
_RELATED: _Table = {code: tuple(v["related"]) for code, v in _SECTOR_DATA.items()}
_SECTOR_POOL = _weighted((code, v["share"]) for code, v in _SECTOR_DATA.items())

_PLACES = _load("places.json")
_CITIES: _Table = _table(_PLACES["cities"])
_HUBS: dict[str, _Table] = {country: _table(hubs) for country, hubs in _PLACES["hubs"].items()}
# Agencies are named after a state/province and sit in its capital (or main city).
_AGENCY_SEATS: dict[str, dict[str, str]] = _PLACES["agency_seats"]
_AGENCY_LEADS = {country: tuple(seats) for country, seats in _AGENCY_SEATS.items()}
_REGIONS: _Table = _table(_PLACES["regions"])

_NAMES = _load("names.json")
_MODIFIERS = tuple(_NAMES["modifiers"])
_LEGAL: dict[str, _Table] = {c: _table(s) for c, s in _NAMES["legal_suffixes"].items()}
_INSTITUTE_CORES: _Table = _table(_NAMES["institute_cores"])
_UNIVERSITY_CORES: _Table = _table(_NAMES["university_cores"])
_AGENCY_CORES: _Table = _table(_NAMES["agency_cores"])


def _build_roots() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Return per country (company roots, startup roots) in a fixed order."""
    in_parts, kr_parts = _table(_NAMES["roots"]["IN"]), _table(_NAMES["roots"]["KR"])
    # Roots that would spell (or nearly spell) well-known real Korean groups.
    blocked = frozenset(_NAMES["kr_blocked"])
    in_compound = tuple(
        p + s for p in in_parts["prefixes"] for s in in_parts["stems"] if not p.lower().endswith(s)
    )
    kr_compound = tuple(
        f + s
        for f in kr_parts["first"]
        for s in kr_parts["second"]
        if f.lower() != s and f + s not in blocked
    )
    in_startup = in_compound + in_parts["single"]
    return {
        "IN": (in_startup + in_parts["surnames"], in_startup),
        "KR": (kr_compound + kr_parts["single"], kr_compound + kr_parts["single"]),
    }


_ROOTS = _build_roots()

_PHRASES = _load("phrases.json")
_INTROS: _Table = _table(_PHRASES["intros"])
_STAGES = tuple(_PHRASES["stages"])
_INSTITUTE_KINDS = tuple(_PHRASES["institute_kinds"])
_GOV_KINDS: _Table = _table(_PHRASES["gov_kinds"])
_OFFER_LEADS = tuple(_PHRASES["offer_leads"])
_OFFER_MORE = tuple(_PHRASES["offer_more"])
_FACILITY_LINES = tuple(_PHRASES["facility_lines"])
_CERT_LINES = tuple(_PHRASES["cert_lines"])
_SCALE_LINES: _Table = _table(_PHRASES["scale_lines"])
_MILESTONES = tuple(_PHRASES["milestones"])
_RESEARCH_MILESTONES = tuple(_PHRASES["research_milestones"])
_MARKETS = tuple(_PHRASES["markets"])
_NEED_FIRST = tuple(_PHRASES["need_first"])
_NEED_MORE = tuple(_PHRASES["need_more"])
_GENERIC_NEEDS = tuple(_PHRASES["generic_needs"])
_PTYPE_PHRASES: dict[str, str] = _PHRASES["partnership_types"]
_PTYPE_ONE = tuple(_PHRASES["partnership_one"])
_PTYPE_MANY = tuple(_PHRASES["partnership_many"])
_PTYPE_NONE = tuple(_PHRASES["partnership_none"])
_MOTIVATIONS = tuple(_PHRASES["motivations"])
# (article + adjective, country, adjective) of the partner country sought.
_PARTNER = {
    c: (p["with_article"], p["country"], p["adjective"]) for c, p in _PHRASES["partner"].items()
}
_ORG_TAGS: dict[str, str] = _PHRASES["org_tags"]

# --------------------------------------------------------------------------------------
# Organisation types: shares, sizes, founding years
# --------------------------------------------------------------------------------------

_ORG_POOL = _weighted(
    (
        ("company", 55),
        ("startup", 27),
        ("research_institute", 9),
        ("university", 6),
        ("government_agency", 3),
    )
)
# (low, high, skew): log-uniform between low and high, skew > 1 favours small sizes.
_EMPLOYEES: dict[str, tuple[int, int, float]] = {
    "company": (20, 100_000, 1.8),
    "startup": (5, 200, 1.2),
    "research_institute": (15, 4_000, 1.3),
    "university": (150, 25_000, 1.0),
    "government_agency": (20, 3_000, 1.2),
}
_FOUNDED: dict[str, tuple[int, int]] = {
    "company": (1952, 2019),
    "startup": (2012, 2024),
    "research_institute": (1960, 2021),
    "university": (1905, 2015),
    "government_agency": (1965, 2022),
}
_EARLIEST = {"ai": 1995, "semiconductors": 1975}  # no AI company founded in the 1960s
_MONEY = {"IN": ("INR {x:,} crore", 0.3), "KR": ("KRW {x:,} billion", 0.25)}

# --------------------------------------------------------------------------------------
# Planning: countries and planted pairs
# --------------------------------------------------------------------------------------


class _Spec(NamedTuple):
    """What a profile is about, decided before its text is written."""

    sectors: tuple[str, ...]
    offers: tuple[Concept, ...]
    needs: tuple[str, ...]  # need phrasings (verb phrases); may hold "{pc}" / "{pa}"
    ptypes: tuple[str, ...]


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


# --------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------


def _join(items: Sequence[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'; items that contain lists themselves get semicolons."""
    if len(items) <= 1:
        return "".join(items)
    if not any(" and " in item or ", " in item for item in items):
        return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
    if len(items) == 2:
        return f"{items[0]}, as well as {items[1]}"
    return f"{'; '.join(items[:-1])}; {conjunction} {items[-1]}"


def _fit(
    required: list[str], optional: list[str], spare: list[str], lo: int, hi: int, most: int
) -> str:
    """Join sentences: all required, optional ones while <= ``hi``, spare ones if < ``lo``."""
    sentences = list(required)
    length = sum(len(s) + 1 for s in sentences) - 1
    for sentence in optional:
        if len(sentences) < most and length + len(sentence) + 1 <= hi:
            sentences.append(sentence)
            length += len(sentence) + 1
    for sentence in spare:
        if length >= lo or len(sentences) >= most:
            break
        if length + len(sentence) + 1 <= hi:
            sentences.append(sentence)
            length += len(sentence) + 1
    return " ".join(sentences)


def _size_word(employees: int) -> str:
    if employees < 100:
        return "small"
    if employees < 1000:
        return "mid-sized"
    if employees < 10_000:
        return "large"
    return "leading"


def _money(country: str, employees: int) -> str:
    template, per_head = _MONEY[country]
    raw = max(1.0, employees * per_head)
    magnitude = 10 ** max(0, int(math.log10(raw)) - 1)
    return template.format(x=round(raw / magnitude) * magnitude)


class _Org(NamedTuple):
    country: str
    org_type: str
    city: str
    employees: int
    year: int


def _intro(rng: random.Random, org: _Org, vocab: SectorVocab) -> str:
    return rng.choice(_INTROS[org.org_type]).format(
        year=org.year,
        city=org.city,
        size=_size_word(org.employees),
        noun=vocab.noun,
        focus=vocab.focus,
        stage=rng.choice(_STAGES),
        kind=rng.choice(_INSTITUTE_KINDS),
        gov=rng.choice(_GOV_KINDS[org.country]),
    )


def _scale(rng: random.Random, org: _Org) -> str:
    emp = f"{org.employees:,}"
    return rng.choice(_SCALE_LINES[org.org_type]).format(
        emp=emp,
        k=rng.randint(3, 40),
        market=rng.choice(_MARKETS),
        rev=_money(org.country, org.employees),
        funding=f"USD {rng.choice((1, 2, 3, 5, 8, 12, 20, 35, 60))} million",
    )


def _capabilities(rng: random.Random, org: _Org, spec: _Spec) -> str:
    vocab = VOCAB[spec.sectors[0]]
    phrases = [c.capability for c in spec.offers]
    split = 2 if len(phrases) > 2 and rng.random() < 0.5 else len(phrases)
    required = [_intro(rng, org, vocab), rng.choice(_OFFER_LEADS).format(x=_join(phrases[:split]))]
    if phrases[split:]:
        required.append(rng.choice(_OFFER_MORE).format(x=_join(phrases[split:])))
    facilities = rng.sample(vocab.facilities, rng.choice((1, 1, 2)))
    required.append(rng.choice(_FACILITY_LINES).format(x=_join(facilities), city=org.city))
    certs = _join(rng.sample(vocab.certifications, rng.randint(1, 3)))
    research = org.org_type in ("research_institute", "university", "government_agency")
    milestone = rng.choice(_RESEARCH_MILESTONES if research else _MILESTONES)
    extras = [rng.choice(_CERT_LINES).format(x=certs), _scale(rng, org), milestone]
    keep = [rng.random() < p for p in (0.6, 0.7, 0.35)]
    optional = [s for s, k in zip(extras, keep, strict=True) if k]
    spare = [s for s, k in zip(extras, keep, strict=True) if not k]
    return _fit(required, optional, spare, *CAPABILITIES_CHARS, _MAX_CAP_SENTENCES)


def _needs(rng: random.Random, org: _Org, spec: _Spec) -> str:
    adj, partner_country, partner_adj = _PARTNER[org.country]
    phrases = [vp.format(pc=partner_country, pa=partner_adj) for vp in spec.needs]
    sentences = [rng.choice(_NEED_FIRST).format(adj=adj, vp=phrases[0])]
    more = rng.sample(_NEED_MORE, len(phrases) - 1)
    sentences += [line.format(vp=vp) for line, vp in zip(more, phrases[1:], strict=True)]
    if spec.ptypes:
        deal = _join([_PTYPE_PHRASES[p] for p in spec.ptypes], "or")
        lines = _PTYPE_ONE if len(spec.ptypes) == 1 else _PTYPE_MANY
        sentences.append(rng.choice(lines).format(x=deal))
    else:
        sentences.append(rng.choice(_PTYPE_NONE))
    motivation = rng.choice(_MOTIVATIONS).format(market=rng.choice(_MARKETS))
    optional = [motivation] if rng.random() < 0.3 else []
    spare = [] if optional else [motivation]
    return _fit(sentences, optional, spare, *NEEDS_CHARS, _MAX_NEED_SENTENCES)


def _tags(org: _Org, spec: _Spec) -> list[str]:
    tags = [*spec.sectors, *(c.tag for c in spec.offers)]
    if org.org_type in _ORG_TAGS:
        tags.append(_ORG_TAGS[org.org_type])
    return list(dict.fromkeys(tags))[:8]


# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------


def _city(rng: random.Random, country: str, sector: str, org_type: str) -> str:
    hub_share = 0.7 if org_type in ("company", "startup") else 0.5
    if rng.random() < hub_share:
        return rng.choice(_HUBS[country][sector])
    return rng.choice(_CITIES[country])


def _employees(rng: random.Random, org_type: str) -> int:
    low, high, skew = _EMPLOYEES[org_type]
    u = rng.random() ** skew
    value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    return max(low, min(high, round(value)))


def _founded(rng: random.Random, org_type: str, sector: str) -> int:
    low, high = _FOUNDED[org_type]
    return rng.randint(max(low, _EARLIEST.get(sector, low)), high)


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
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        items = list(profiles)
    finally:
        if was_enabled:
            gc.enable()
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
