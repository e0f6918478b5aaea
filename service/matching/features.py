"""The features of (query, candidate) pairs that the ranker model scores, and the components a
match shows.

For a query profile A and a candidate B of the other country, from the stored vectors (pair
vector ``[caps | needs]``, ``service.indexing.service``), the keyword store
(``service.indexing.lexical``) and the model's per-country mean vectors::

    dense_sum   = cos(A.needs, B.caps) + cos(B.needs, A.caps)
    dense_min   = min(cos(A.needs, B.caps), cos(B.needs, A.caps))
    caps_caps   = cos(A.caps, B.caps)
    needs_needs = cos(A.needs, B.needs)
    hub         = h(A) + h(B),  h(X) = X.caps . mean_needs[other(X)] + X.needs . mean_caps[other(X)]
    bm25_needs, bm25_whole, cover, bm25_caps_caps, bm25_needs_needs   (service.indexing.lexical)
    sector_fit                           (service.matching.scoring)

Every feature is symmetric in A and B, so a pair scores the same from either side. The four
cosines and B's half of ``hub`` are one batched product of five query rows with the candidates'
pair vectors, one matrix product per query, so a score never depends on the batch it was
computed in (checked in tests).
"""

from __future__ import annotations

import numpy as np

from service.indexing.columns import COUNTRY_CODE
from service.indexing.lexical import LEXICAL_FEATURES, QueryTerms
from service.indexing.search import meta_of
from service.indexing.service import MatchIndex
from service.matching.model import FEATURES, RankerModel
from service.matching.scoring import (
    complementarity,
    directional_fit,
    partnership_fit,
    sector_fit,
)
from service.vocab import COUNTRIES

# What a match shows of its score: each in [0, 1].
COMPONENTS = ("sector_fit", "complementarity", "similarity", "partnership_fit", "keywords")


def hub_rows(model: RankerModel, q_country: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query row: ``[mean_needs | mean_caps]`` of the query's country (B's half of ``hub``)
    and of the other country (A's half)."""
    own = np.stack([np.concatenate([model.mean_needs[c], model.mean_caps[c]]) for c in COUNTRIES])
    return own[q_country], own[1 - q_country]


LEXICAL = [FEATURES.index(f) for f in LEXICAL_FEATURES]


def pair_features(
    index: MatchIndex,
    model: RankerModel,
    q_caps: np.ndarray,
    q_needs: np.ndarray,
    q_meta: dict[str, np.ndarray],
    cand: np.ndarray,
    query_ids: np.ndarray | None = None,
    query_terms: QueryTerms | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Features (B, P, len(FEATURES)) and components (B, P each) of queries x candidates.

    Queries are rows of ``q_caps``/``q_needs``; their keywords are those of the indexed
    profiles ``query_ids`` or, for one ad-hoc query, ``query_terms``. Invalid candidates (-1)
    get the dense features of candidate 0 and no keyword features; the caller masks them.
    """
    valid = cand >= 0
    safe = np.where(valid, cand, 0)
    c_pairs = index.pair_rows(safe)
    q_country = np.asarray(q_meta["country"], np.int64)
    mine, theirs = hub_rows(model, q_country)
    zero = np.zeros_like(q_caps)
    q5 = np.stack(
        [
            np.concatenate([q_needs, zero], axis=1),  # . [B.caps | B.needs] = cos(A.needs, B.caps)
            np.concatenate([zero, q_caps], axis=1),  # cos(A.caps, B.needs)
            np.concatenate([q_caps, zero], axis=1),  # cos(A.caps, B.caps)
            np.concatenate([zero, q_needs], axis=1),  # cos(A.needs, B.needs)
            mine,  # h(B): B against the query country's means
        ],
        axis=1,
    ).astype(np.float32)
    # one batched matrix product per query (BLAS): each row's result depends only on that row
    n2c, c2n, cc, nn, hub_b = np.matmul(q5, c_pairs.transpose(0, 2, 1)).transpose(1, 0, 2)
    hub_a = np.einsum("bd,bd->b", np.concatenate([q_caps, q_needs], axis=1), theirs)
    b_meta = meta_of(index, cand)
    a_meta = {k: v[:, None] for k, v in q_meta.items()}
    sf = sector_fit(a_meta["sector_mask"], b_meta["sector_mask"])
    pf = partnership_fit(
        a_meta["partnership_mask"], b_meta["partnership_mask"], a_meta["org"], b_meta["org"]
    )
    x = np.zeros((*cand.shape, len(FEATURES)), np.float64)
    for name, value in (
        ("dense_sum", n2c + c2n),
        ("dense_min", np.minimum(n2c, c2n)),
        ("caps_caps", cc),
        ("needs_needs", nn),
        ("hub", hub_b + hub_a[:, None]),
        ("sector_fit", sf),
    ):
        x[..., FEATURES.index(name)] = value
    comps = {
        "sector_fit": sf,
        "complementarity": complementarity(directional_fit(n2c), directional_fit(c2n)),
        "similarity": directional_fit(cc),
        "partnership_fit": pf,
    }
    add_keywords(index, x, comps, safe, valid, query_ids, query_terms)
    return x, comps


def add_keywords(
    index: MatchIndex,
    x: np.ndarray,
    comps: dict[str, np.ndarray],
    cand: np.ndarray,
    where: np.ndarray,
    query_ids: np.ndarray | None,
    query_terms: QueryTerms | None,
) -> None:
    """Fill in the keyword features of the pairs ``where`` (B, P) of ``x``, in place."""
    rows, cols = np.nonzero(where)
    if len(rows):
        a = query_ids[rows] if query_ids is not None else np.zeros(len(rows), np.int64)
        lex = index.terms.pair_features(a, cand[rows, cols], query_terms)
        x[rows[:, None], cols[:, None], LEXICAL] = lex
    comps["keywords"] = (x[..., FEATURES.index("cover")] / 2).astype(np.float32)


def country_code(country: str) -> int:
    return COUNTRY_CODE[country]
