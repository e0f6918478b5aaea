"""Pair scoring parts: small pure functions, vectorised over candidate arrays.

For an organisation A and a candidate partner B (always from the other country)::

    a_gets          = clip(cos(A.needs, B.capabilities), 0, 1)   # B offers what A needs
    b_gets          = clip(cos(B.needs, A.capabilities), 0, 1)   # A offers what B needs
    complementarity = 2 * a_gets * b_gets / (a_gets + b_gets)    # harmonic mean: both must gain
    sector_fit      = 0.8 * max_relation(A.sectors, B.sectors) + 0.2 * shared / min(|A|, |B|)
    partnership_fit = 0.6 * type_overlap + 0.4 * org_fit

``sector_fit`` and ``partnership_fit`` are features of the ranker model
(``service.matching.model``), which turns all features of a pair into its score;
``complementarity`` and the clipped capability similarity are shown with every match as
components, so a reader sees why a pair scored as it did.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from service.sectors import SECTOR_BIT, SECTOR_CODES, relation
from service.vocab import ORG_TYPES, PARTNERSHIP_BIT, PARTNERSHIP_TYPES

RESEARCH_ORGS = {"research_institute", "university"}
BUSINESS_ORGS = {"company", "startup"}
# Partnership types through which a business and a research body typically work together.
RESEARCH_TYPES_MASK = (
    PARTNERSHIP_BIT["research_collaboration"]
    | PARTNERSHIP_BIT["co_development"]
    | PARTNERSHIP_BIT["technology_licensing"]
)


def complementarity(a_gets: np.ndarray, b_gets: np.ndarray) -> np.ndarray:
    """Harmonic mean of the two directions: high only when *both* sides gain."""
    total = a_gets + b_gets
    with np.errstate(invalid="ignore", divide="ignore"):
        hm = np.where(total > 0, 2 * a_gets * b_gets / total, 0.0)
    return hm.astype(np.float32)


def directional_fit(cosine: np.ndarray) -> np.ndarray:
    """How well one side's offer answers the other's need: cosine clipped to [0, 1]."""
    return np.clip(cosine, 0.0, 1.0).astype(np.float32)


@cache
def _sector_fit_table() -> np.ndarray:
    n = 1 << len(SECTOR_CODES)
    table = np.zeros((n, n), dtype=np.float32)
    codes = [[c for c in SECTOR_CODES if m & SECTOR_BIT[c]] for m in range(n)]
    for a in range(1, n):
        for b in range(1, n):
            best = max(relation(x, y) for x in codes[a] for y in codes[b])
            shared = bin(a & b).count("1") / min(len(codes[a]), len(codes[b]))
            table[a, b] = 0.8 * best + 0.2 * shared
    return table


def sector_fit(mask_a: np.ndarray, mask_b: np.ndarray) -> np.ndarray:
    """Shared sectors count most, related ones partly (``service.sectors.SECTOR_RELATIONS``)."""
    return _sector_fit_table()[mask_a, mask_b]


@cache
def _type_overlap_table() -> np.ndarray:
    n = 1 << len(PARTNERSHIP_TYPES)
    table = np.ones((n, n), dtype=np.float32)  # an empty set means "open to all"
    for a in range(1, n):
        for b in range(1, n):
            table[a, b] = bin(a & b).count("1") / min(bin(a).count("1"), bin(b).count("1"))
    return table


@cache
def _org_fit_table() -> np.ndarray:
    """org_fit[orgA, orgB, research_ok] where research_ok says both accept research-type deals."""
    n = len(ORG_TYPES)
    table = np.zeros((n, n, 2), dtype=np.float32)
    for i, a in enumerate(ORG_TYPES):
        for j, b in enumerate(ORG_TYPES):
            for ok in (0, 1):
                pair = {a, b}
                if "government_agency" in pair:
                    v = 0.8
                elif pair <= BUSINESS_ORGS:
                    v = 1.0
                elif a in RESEARCH_ORGS and b in RESEARCH_ORGS:
                    v = 1.0 if ok else 0.6
                else:  # a business with a research institute or university
                    v = 1.0 if ok else 0.5
                table[i, j, ok] = v
    return table


def partnership_fit(
    types_a: np.ndarray, types_b: np.ndarray, org_a: np.ndarray, org_b: np.ndarray
) -> np.ndarray:
    """Overlap of wanted partnership types (empty = open to all), and org-type fit.

    A company with a research institute suits research collaboration, co-development and
    licensing; two companies suit any deal.
    """
    overlap = _type_overlap_table()[types_a, types_b]
    research_ok = (
        ((types_a == 0) | ((types_a & RESEARCH_TYPES_MASK) != 0))
        & ((types_b == 0) | ((types_b & RESEARCH_TYPES_MASK) != 0))
    ).astype(np.int64)
    org = _org_fit_table()[org_a, org_b, research_ok]
    return (0.6 * overlap + 0.4 * org).astype(np.float32)
