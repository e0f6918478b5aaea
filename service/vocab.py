"""Closed vocabularies of the profile schema (sectors live in ``service.sectors``)."""

from typing import Literal

Country = Literal["IN", "KR"]
OrgType = Literal["company", "startup", "research_institute", "university", "government_agency"]
PartnershipType = Literal[
    "joint_venture",
    "technology_licensing",
    "co_development",
    "manufacturing",
    "supply_chain",
    "research_collaboration",
    "investment",
]

COUNTRIES: tuple[str, ...] = ("IN", "KR")
ORG_TYPES: tuple[str, ...] = OrgType.__args__
PARTNERSHIP_TYPES: tuple[str, ...] = PartnershipType.__args__
PARTNERSHIP_BIT: dict[str, int] = {p: 1 << i for i, p in enumerate(PARTNERSHIP_TYPES)}


def partnership_mask(types: list[str]) -> int:
    m = 0
    for t in types:
        m |= PARTNERSHIP_BIT[t]
    return m


def other_country(country: str) -> str:
    return "KR" if country == "IN" else "IN"
