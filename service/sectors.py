"""The sector vocabulary and how sectors relate. The one place that knows sector codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sector:
    code: str
    name: str
    description: str


SECTORS: tuple[Sector, ...] = (
    Sector(
        "semiconductors",
        "Semiconductors",
        "Chip design, fabrication, memory, OSAT packaging and test, materials and equipment.",
    ),
    Sector(
        "ai",
        "Artificial intelligence",
        "Models, data, AI software and compute; language, vision and industrial AI.",
    ),
    Sector(
        "clean_energy",
        "Clean energy",
        "Batteries and cell materials, hydrogen and electrolysers, solar, wind, grids and storage.",
    ),
    Sector(
        "shipbuilding",
        "Shipbuilding",
        "Commercial and naval ship design and construction, marine engines, green ships, repair.",
    ),
    Sector(
        "defence",
        "Defence manufacturing",
        "Land, air and naval systems, munitions, radar and electronics, aerospace.",
    ),
    Sector(
        "automotive",
        "Automotive",
        "Vehicles and components, EV powertrains, two- and three-wheelers, mobility.",
    ),
    Sector(
        "steel_materials",
        "Steel and advanced materials",
        "Steel, specialty alloys, rare-earth magnets, composites and chemicals.",
    ),
)

SECTOR_CODES: tuple[str, ...] = tuple(s.code for s in SECTORS)
SECTOR_BIT: dict[str, int] = {code: 1 << i for i, code in enumerate(SECTOR_CODES)}

# How much a pair of *different* sectors counts towards sector fit (same sector counts 1.0).
# Each entry says why the two sectors make natural joint-venture partners.
SECTOR_RELATIONS: dict[frozenset[str], tuple[float, str]] = {
    frozenset({"semiconductors", "ai"}): (
        0.6,
        "AI compute runs on chips; chip design and fabs use AI",
    ),
    frozenset({"shipbuilding", "defence"}): (0.6, "naval vessels are built by shipyards"),
    frozenset({"clean_energy", "shipbuilding"}): (
        0.5,
        "green ships need batteries, hydrogen and ammonia fuel",
    ),
    frozenset({"clean_energy", "automotive"}): (
        0.6,
        "EVs are built around battery cells and packs",
    ),
    frozenset({"semiconductors", "automotive"}): (
        0.4,
        "vehicles depend on power and control chips",
    ),
    frozenset({"semiconductors", "defence"}): (
        0.4,
        "radar and guidance electronics need secure chips",
    ),
    frozenset({"ai", "defence"}): (0.4, "autonomy, surveillance and decision support"),
    frozenset({"steel_materials", "shipbuilding"}): (0.5, "hulls are built from plate steel"),
    frozenset({"steel_materials", "defence"}): (0.4, "armour and munitions need special alloys"),
    frozenset({"steel_materials", "automotive"}): (
        0.4,
        "car bodies and motors need steel and magnets",
    ),
    frozenset({"steel_materials", "clean_energy"}): (0.3, "wind towers, electrolysers and magnets"),
    frozenset({"semiconductors", "clean_energy"}): (0.3, "power electronics and solar wafers"),
}


def relation(a: str, b: str) -> float:
    """Sector-fit contribution of one sector pair: 1 if equal, table value if related."""
    if a == b:
        return 1.0
    return SECTOR_RELATIONS.get(frozenset({a, b}), (0.0, ""))[0]


def mask_of(codes: list[str] | tuple[str, ...]) -> int:
    m = 0
    for c in codes:
        m |= SECTOR_BIT[c]
    return m


def codes_of(mask: int) -> list[str]:
    return [c for c in SECTOR_CODES if mask & SECTOR_BIT[c]]
