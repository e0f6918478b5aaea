"""The controlled-technology vocabulary: export-control categories and their curated terms.

The vocabulary is data (``service/screening/data/categories.json`` with its ``version``, and
``terms.csv``); this module only loads and checks it. It sits at the bottom of the layers, like
``service.sectors``, because profiles validate the codes they declare against it; the
screening itself (``service.screening``) reads it from here. Loading a new vocabulary is a data
change (a new ``version``, in place or in a folder named by ``MATCHMAKER_SCREENING_VOCABULARY``)
followed by ``matchmaker screen``: every profile screened with another version is stale.

Screening is an aid for officials, not legal advice.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from service.config import ScreeningSettings

DATA = Path(__file__).parent / "screening" / "data"


@dataclass(frozen=True)
class Category:
    code: str
    regime: str
    name: str
    description: str
    source: str
    sectors: tuple[str, ...]
    examples: tuple[str, ...]
    implies: tuple[str, ...]  # broader categories an item of this one is also in
    terms: tuple[str, ...] = ()  # curated phrases that point to the category
    civil_cues: tuple[str, ...] = ()  # phrases that point to the civil counterpart


@dataclass(frozen=True)
class Catalogue:
    version: str
    notice: str
    regimes: dict[str, str]
    categories: dict[str, Category] = field(default_factory=dict)

    def unknown(self, codes: list[str]) -> list[str]:
        return [c for c in codes if c not in self.categories]

    def closure(self, codes: set[str] | list[str]) -> set[str]:
        """The codes with every category they imply (ML5 also puts an item in SCOMET-6)."""
        out = set(codes)
        for c in list(out):
            if c in self.categories:
                out.update(self.categories[c].implies)
        return out


def load(directory: Path = DATA) -> Catalogue:
    raw = json.loads((directory / "categories.json").read_text(encoding="utf-8"))
    terms: dict[str, dict[str, list[str]]] = {}
    with (directory / "terms.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            kind = "terms" if row["polarity"] == "+" else "civil_cues"
            terms.setdefault(row["code"], {"terms": [], "civil_cues": []})[kind].append(
                row["term"].strip()
            )
    cats: dict[str, Category] = {}
    for c in raw["categories"]:
        if c["regime"] not in raw["regimes"]:
            raise ValueError(f"category {c['code']}: unknown regime {c['regime']}")
        t = terms.get(c["code"], {})
        cats[c["code"]] = Category(
            code=c["code"],
            regime=c["regime"],
            name=c["name"],
            description=c["description"],
            source=c["source"],
            sectors=tuple(c["sectors"]),
            examples=tuple(c["examples"]),
            implies=tuple(c["implies"]),
            terms=tuple(t.get("terms", ())),
            civil_cues=tuple(t.get("civil_cues", ())),
        )
    unknown = (set(terms) | {i for c in cats.values() for i in c.implies}) - set(cats)
    if unknown:
        raise ValueError(f"terms.csv or implies name unknown categories: {sorted(unknown)}")
    return Catalogue(raw["version"], raw["notice"], dict(raw["regimes"]), cats)


@cache
def catalogue() -> Catalogue:
    """The vocabulary in use, loaded once per process: ``MATCHMAKER_SCREENING_VOCABULARY``'s
    folder, else the packaged one. Once per process because the codes profiles may declare
    are published in the API schema, which is built when the modules are imported."""
    return load(ScreeningSettings().vocabulary or DATA)
