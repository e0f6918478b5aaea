"""Ranking: candidates from ``service.indexing.search``, re-ranked exactly, for one profile or many.

``rank`` is the single ranking path: ``/matches``, ``/pairings``, ad-hoc search and exports all
call it, so the same profile always gets the same partners with the same scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from service.config import RankerSettings
from service.indexing.columns import query_vector
from service.indexing.lexical import QueryTerms
from service.indexing.search import (
    CandidateSource,
    Filters,
    allowed_ids,
    candidate_source,
    exact_pools,
    ids_or_all,
    meta_of,
    search,
)
from service.indexing.service import MatchIndex
from service.matching.features import COMPONENTS, pair_features
from service.matching.model import load as load_model
from service.vocab import other_country


@dataclass
class Ranked:
    """Top-k per query row: candidate ids (-1 = none), scores and components, shape (B, k)."""

    query_ids: np.ndarray
    ids: np.ndarray
    scores: np.ndarray
    components: dict[str, np.ndarray]


def rank(
    index: MatchIndex,
    *,
    source: CandidateSource,
    q_caps: np.ndarray,
    q_needs: np.ndarray,
    q_meta: dict[str, np.ndarray],
    k: int,
    pool: int,
    ranker: RankerSettings,
    query_ids: np.ndarray | None = None,
    query_terms: QueryTerms | None = None,
    kind: str = "both",
) -> Ranked:
    """Fetch ``pool`` candidates per query, re-rank them exactly, keep the top ``k``.

    Queries are rows of ``q_caps``/``q_needs`` (shape (B, dim)); ``q_meta`` arrays have shape (B,).
    """
    _, cand = search(index, source, query_vector(q_caps, q_needs), max(pool, k))
    return rerank(
        index,
        q_caps,
        q_needs,
        q_meta,
        cand,
        k=k,
        ranker=ranker,
        query_ids=query_ids,
        query_terms=query_terms,
        kind=kind,
    )


def rerank(
    index: MatchIndex,
    q_caps: np.ndarray,
    q_needs: np.ndarray,
    q_meta: dict[str, np.ndarray],
    cand: np.ndarray,
    *,
    k: int,
    ranker: RankerSettings,
    query_ids: np.ndarray | None = None,
    query_terms: QueryTerms | None = None,
    kind: str = "both",
) -> Ranked:
    """Score candidates ``cand`` (B, P) exactly and keep the best ``k`` per row.

    The features (``service.matching.features``) are recomputed from the stored vectors and
    terms rather than taken from the search (which only chooses the pool): every search path
    (FAISS, the batched IVF search, the exact scans) then yields bit-identical scores, so equal
    inputs rank equally. Queries are indexed profiles (``query_ids``) or one ad-hoc text
    (``query_terms``, with ``kind`` saying which of its sides were given).
    """
    model = load_model(ranker.model)
    weights = model.kinds[kind]
    valid = cand >= 0
    ids = np.where(valid, cand, np.iinfo(np.int64).max)  # ties go to the lower id
    # Every candidate of the pool gets every feature. (Until ranker v2 only the 30 best by the
    # dense part got the keyword features, the others' scores being lower bounds; with a
    # negative weight on bm25_caps_caps they no longer are, and on the labelled set the
    # staging cost 0.026 MRR.)
    x, comps = pair_features(index, model, q_caps, q_needs, q_meta, cand, query_ids, query_terms)
    scores = np.where(valid, weights.score(x), -1.0).astype(np.float32)
    # Best score first; equal scores by id, so results are stable across calls and paths.
    order = np.lexsort((ids, -scores), axis=1)[:, :k]
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    qids = query_ids if query_ids is not None else np.full(len(cand), -1, dtype=np.int64)
    return Ranked(
        qids,
        take(np.where(valid, cand, -1)),
        take(scores),
        {name: take(comps[name]) for name in COMPONENTS},
    )


def rank_ids(
    index: MatchIndex,
    ids: np.ndarray,
    source: CandidateSource,
    *,
    k: int,
    pool: int,
    ranker: RankerSettings,
) -> Ranked:
    """Top-k partners from ``source`` for the indexed profiles ``ids``."""
    caps, needs = index.vectors(ids)
    return rank(
        index,
        source=source,
        q_caps=caps,
        q_needs=needs,
        q_meta=meta_of(index, ids),
        k=k,
        pool=pool,
        ranker=ranker,
        query_ids=ids,
    )


def rank_profiles(
    index: MatchIndex,
    ids: np.ndarray,
    country: str,
    *,
    k: int,
    pool: int,
    ranker: RankerSettings,
    filters: Filters = Filters(),
) -> Ranked:
    """Top-k partners for indexed profiles ``ids`` (all of ``country``)."""
    other = other_country(country)
    source = candidate_source(index, other, allowed_ids(index, other, filters))
    return rank_ids(index, ids, source, k=k, pool=pool, ranker=ranker)


def rerank_batches(
    index: MatchIndex,
    ids: np.ndarray,
    cand: np.ndarray,
    *,
    k: int,
    ranker: RankerSettings,
    batch: int,
) -> Iterator[Ranked]:
    """``rerank`` of searched pools ``batch`` rows at a time, two batches at once (numpy
    releases the GIL in the gathers and products that dominate it), in order."""

    def one(start: int) -> Ranked:
        chunk = ids[start : start + batch]
        caps, needs = index.vectors(chunk)
        return rerank(
            index,
            caps,
            needs,
            meta_of(index, chunk),
            cand[start : start + batch],
            k=k,
            ranker=ranker,
            query_ids=chunk,
        )

    with ThreadPoolExecutor(2, thread_name_prefix="rerank") as pool:
        yield from pool.map(one, range(0, len(ids), batch))


def rank_all(
    index: MatchIndex,
    country: str,
    *,
    k: int,
    pool: int,
    ranker: RankerSettings,
    query_filter: Filters = Filters(),
    candidate_filter: Filters = Filters(),
    batch: int = 512,
    search_batch: int = 4096,
) -> Iterator[Ranked]:
    """Top-k partners of every profile of ``country`` (batched search, vectorised scoring).

    Candidates are searched ``search_batch`` queries at a time (IVF lists are read once per
    batch), then re-ranked ``batch`` at a time.
    """
    ids = ids_or_all(index, country, allowed_ids(index, country, query_filter))
    other = other_country(country)
    source = candidate_source(index, other, allowed_ids(index, other, candidate_filter), batch=True)
    pool = max(pool, k)
    for start in range(0, len(ids), search_batch):
        chunk = ids[start : start + search_batch]
        _, cand = search(index, source, query_vector(*index.vectors(chunk)), pool)
        yield from rerank_batches(index, chunk, cand, k=k, ranker=ranker, batch=batch)


def _ranked_both_sides(
    index: MatchIndex,
    *,
    k: int,
    pool: int,
    ranker: RankerSettings,
    filters: Filters,
    batch: int = 64,
) -> Iterator[tuple[str, Ranked]]:
    """Every profile's top-k, both countries: one exact scan while ``/matches`` searches exactly
    too (every index flat, or the filter leaves few enough profiles on both sides for the exact
    scan of ``candidate_source``), else batched index search. Re-ranked ``batch`` rows at a
    time either way (see the exact scan's comment below)."""
    allowed = {c: allowed_ids(index, c, filters) for c in ("IN", "KR")}
    if index.scans_exactly(None if a is None else len(a) for a in allowed.values()):
        in_ids, kr_ids = (ids_or_all(index, c, a) for c, a in allowed.items())
        for country, (ids, _, cand) in exact_pools(index, in_ids, kr_ids, pool).items():
            # 64 rows: their gathered candidate vectors (64 x pool x 2 dim floats, 20 MB at
            # pool 100) stay in cache for the products; 15-25 % faster than 512 (ad hoc, 100k)
            for r in rerank_batches(index, ids, cand, k=k, ranker=ranker, batch=64):
                yield country, r
        return
    for country in ("IN", "KR"):
        for r in rank_all(
            index,
            country,
            k=k,
            pool=pool,
            ranker=ranker,
            query_filter=filters,
            candidate_filter=filters,
            batch=batch,
        ):
            yield country, r


def top_pairs(
    index: MatchIndex,
    *,
    k: int,
    pool: int,
    ranker: RankerSettings,
    filters: Filters = Filters(),
    min_score: float = 0.0,
    progress: Callable[[float], None] = lambda _: None,
) -> dict[str, np.ndarray]:
    """The top-k lists of every profile on both sides, merged into unique (IN, KR) pairs.

    Arrays: ``in``, ``kr``, ``score``, each component, and ``rank_for_in`` / ``rank_for_kr``
    (1-based rank in that side's list; 0 when the pair is not in it). Vectorised throughout.
    """
    parts = []
    total = max(1, index.size())
    done = 0
    for country, r in _ranked_both_sides(index, k=k, pool=pool, ranker=ranker, filters=filters):
        rows, cols = np.nonzero((r.ids >= 0) & (r.scores >= min_score))
        q, c = r.query_ids[rows], r.ids[rows, cols]
        part = {
            "in": q if country == "IN" else c,
            "kr": c if country == "IN" else q,
            "score": r.scores[rows, cols],
            "side": np.full(len(rows), 0 if country == "IN" else 1, np.int8),
            "rank": (cols + 1).astype(np.int16),
        }
        part |= {name: r.components[name][rows, cols] for name in COMPONENTS}
        parts.append(part)
        done += len(r.query_ids)
        progress(done / total)
    if not parts:
        return {}
    allp = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    key = allp["in"].astype(np.int64) << 32 | allp["kr"].astype(np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    allp = {name: v[order] for name, v in allp.items()}
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    group = np.cumsum(first) - 1
    out = {name: allp[name][first] for name in ("in", "kr", "score", *COMPONENTS)}
    for side, name in ((0, "rank_for_in"), (1, "rank_for_kr")):
        ranks = np.zeros(int(first.sum()), np.int16)
        mine = allp["side"] == side
        ranks[group[mine]] = allp["rank"][mine]
        out[name] = ranks
    return out
