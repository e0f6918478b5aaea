"""The synthetic generator's vocabulary, loaded from ``service/seed/vocabulary/*.json``.

The order of every list there feeds the random draws (see ``synthetic``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from typing import Any, NamedTuple

from service.sectors import SECTOR_CODES as SECTORS

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


class _Spec(NamedTuple):
    """What a profile is about, decided before its text is written."""

    sectors: tuple[str, ...]
    offers: tuple[Concept, ...]
    needs: tuple[str, ...]  # need phrasings (verb phrases); may hold "{pc}" / "{pa}"
    ptypes: tuple[str, ...]
