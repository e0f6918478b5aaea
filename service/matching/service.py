"""Candidate generation (FAISS) and exact re-ranking, for one profile or many at once.

``rank`` is the single ranking path: ``/matches``, ``/pairings``, ad-hoc search and exports all
call it, so the same profile always gets the same partners with the same scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from service.config import MatchWeights
from service.indexing.service import ORG_CODE, MatchIndex, query_vector
from service.matching.explain import explain
from service.matching.scoring import COMPONENTS, score_pairs
from service.profiles import repository as repo
from service.profiles.models import Profile
from service.sectors import SECTOR_BIT
from service.vocab import PARTNERSHIP_BIT, other_country


@dataclass(frozen=True)
class Filters:
    """Restrictions on the candidate side."""

    sector: str | None = None
    org_type: str | None = None
    partnership_type: str | None = None


@dataclass
class Ranked:
    """Top-k per query row: candidate ids (-1 = none), scores and components, shape (B, k)."""

    query_ids: np.ndarray
    ids: np.ndarray
    scores: np.ndarray
    components: dict[str, np.ndarray]


def allowed_ids(index: MatchIndex, country: str, f: Filters) -> np.ndarray | None:
    """Ids of ``country`` passing the filters, or None when nothing is filtered."""
    cols = index.columns
    mask = None

    def both(m: np.ndarray) -> np.ndarray:
        return m if mask is None else (mask & m)

    if f.sector:
        mask = both((cols.sector_mask & SECTOR_BIT[f.sector]) != 0)
    if f.org_type:
        mask = both(cols.org == ORG_CODE[f.org_type])
    if f.partnership_type:
        bit = PARTNERSHIP_BIT[f.partnership_type]
        mask = both((cols.partnership_mask == 0) | ((cols.partnership_mask & bit) != 0))
    return None if mask is None else cols.ids_where(country, mask & cols.present)


def meta_of(index: MatchIndex, ids: np.ndarray) -> dict[str, np.ndarray]:
    cols = index.columns
    safe = np.where(ids >= 0, ids, 0)
    return {
        "sector_mask": cols.sector_mask[safe].astype(np.int64),
        "partnership_mask": cols.partnership_mask[safe].astype(np.int64),
        "org": cols.org[safe].astype(np.int64),
    }


VectorLookup = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def rank(
    index: MatchIndex,
    *,
    candidate_country: str,
    q_caps: np.ndarray,
    q_needs: np.ndarray,
    q_meta: dict[str, np.ndarray],
    k: int,
    pool: int,
    weights: MatchWeights,
    allowed: np.ndarray | None = None,
    lookup: VectorLookup | None = None,
    query_ids: np.ndarray | None = None,
) -> Ranked:
    """Fetch ``pool`` candidates per query from the index, re-rank exactly, keep the top ``k``.

    Queries are rows of ``q_caps``/``q_needs`` (shape (B, dim)); ``q_meta`` arrays have shape (B,).
    """
    b = len(q_caps)
    with index.lock:
        _, cand = index.indexes[candidate_country].search(
            query_vector(q_caps, q_needs), max(pool, k), allowed
        )
    valid = cand >= 0
    flat = cand[valid]
    c_caps = np.zeros((*cand.shape, q_caps.shape[1]), dtype=np.float32)
    c_needs = np.zeros_like(c_caps)
    if len(flat):
        caps, needs = (lookup or index.vectors)(flat)
        c_caps[valid], c_needs[valid] = caps, needs
    scores, comps = score_pairs(
        q_caps[:, None, :],
        q_needs[:, None, :],
        c_caps,
        c_needs,
        {k_: v[:, None] for k_, v in q_meta.items()},
        meta_of(index, cand),
        weights,
    )
    scores = np.where(valid, scores, -1.0)
    # Best score first; equal scores by id, so results are stable across calls and paths.
    order = np.lexsort((np.where(valid, cand, np.iinfo(np.int64).max), -scores), axis=1)[:, :k]
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    qids = query_ids if query_ids is not None else np.full(b, -1, dtype=np.int64)
    return Ranked(
        qids,
        take(np.where(valid, cand, -1)),
        take(scores),
        {name: take(comps[name]) for name in COMPONENTS},
    )


def rank_profiles(
    index: MatchIndex,
    ids: np.ndarray,
    country: str,
    *,
    k: int,
    pool: int,
    weights: MatchWeights,
    filters: Filters = Filters(),
    lookup: VectorLookup | None = None,
) -> Ranked:
    """Top-k partners for indexed profiles ``ids`` (all of ``country``)."""
    caps, needs = (lookup or index.vectors)(ids)
    return rank(
        index,
        candidate_country=other_country(country),
        q_caps=caps,
        q_needs=needs,
        q_meta=meta_of(index, ids),
        k=k,
        pool=pool,
        weights=weights,
        allowed=allowed_ids(index, other_country(country), filters),
        lookup=lookup,
        query_ids=ids,
    )


def rank_all(
    index: MatchIndex,
    country: str,
    *,
    k: int,
    pool: int,
    weights: MatchWeights,
    query_filter: Filters = Filters(),
    candidate_filter: Filters = Filters(),
    batch: int = 256,
    lookup: VectorLookup | None = None,
) -> Iterator[Ranked]:
    """Top-k partners of every profile of ``country`` (batched search, vectorised)."""
    ids = allowed_ids(index, country, query_filter)
    if ids is None:
        ids = index.columns.ids_where(country, index.columns.present)
    allowed = allowed_ids(index, other_country(country), candidate_filter)
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        caps, needs = (lookup or index.vectors)(chunk)
        yield rank(
            index,
            candidate_country=other_country(country),
            q_caps=caps,
            q_needs=needs,
            q_meta=meta_of(index, chunk),
            k=k,
            pool=pool,
            weights=weights,
            allowed=allowed,
            lookup=lookup,
            query_ids=chunk,
        )


@dataclass
class Match:
    profile: Profile
    score: float
    components: dict[str, float]
    explanation: str


def explain_pairs(
    session: Session,
    index: MatchIndex,
    pairs: list[tuple[int, int]],
    profiles: dict[int, Profile],
    query_vectors: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
    query_sentences: dict[int, dict] | None = None,
) -> list[str]:
    """Explanation of each (a, b) pair of profile ids (``a`` may be an ad-hoc query, id < 0)."""
    ids = sorted({i for p in pairs for i in p if i >= 0})
    sent = repo.sentence_data(session, ids)
    caps, needs = index.vectors(np.array(ids, dtype=np.int64))
    vec = {i: (caps[n], needs[n]) for n, i in enumerate(ids)} | (query_vectors or {})
    out = []
    for a, b in pairs:
        a_sent = (query_sentences or {}).get(a) or {f: sent.get((a, f)) for f in repo.TEXT_FIELDS}
        b_sent = {f: sent.get((b, f)) for f in repo.TEXT_FIELDS}
        pa, pb = profiles[a], profiles[b]
        out.append(
            explain(
                pa.name,
                list(pa.sectors),
                pb.name,
                list(pb.sectors),
                a_caps=vec[a][0],
                a_needs=vec[a][1],
                b_caps=vec[b][0],
                b_needs=vec[b][1],
                a_sentences=a_sent,
                b_sentences=b_sent,
            )
        )
    return out


def row_components(r: Ranked, row: int, col: int) -> dict[str, float]:
    return {name: round(float(r.components[name][row, col]), 6) for name in COMPONENTS}


# -- queries behind the endpoints ----------------------------------------------------------


def summary(p: Profile) -> dict:
    return {
        "id": p.public_id,
        "name": p.name,
        "country": p.country,
        "org_type": p.org_type,
        "sectors": list(p.sectors),
        "city": p.city,
    }


def matches_for_profile(
    session: Session,
    index: MatchIndex,
    profile: Profile,
    *,
    limit: int,
    pool: int,
    weights: MatchWeights,
    filters: Filters = Filters(),
    min_score: float = 0.0,
) -> list[Match]:
    from service.errors import Unavailable

    if profile.id not in index.indexes[profile.country]:
        raise Unavailable("this profile is not in the search index yet; retry in a moment")
    r = rank_profiles(
        index,
        np.array([profile.id]),
        profile.country,
        k=limit,
        pool=max(pool, limit),
        weights=weights,
        filters=filters,
    )
    cols = [c for c in range(r.ids.shape[1]) if r.ids[0, c] >= 0 and r.scores[0, c] >= min_score]
    ids = [int(r.ids[0, c]) for c in cols]
    profiles = repo.by_ids(session, ids) | {profile.id: profile}
    texts = explain_pairs(session, index, [(profile.id, i) for i in ids], profiles)
    return [
        Match(profiles[i], round(float(r.scores[0, c]), 6), row_components(r, 0, c), t)
        for i, c, t in zip(ids, cols, texts, strict=True)
    ]


@dataclass
class AdHoc:
    """An unregistered organisation described only by its texts (id -1 in explanations)."""

    name: str
    sectors: list[str]


def search_adhoc(
    session: Session,
    index: MatchIndex,
    encoder,  # noqa: ANN001 - embeddings.encoder.Encoder
    *,
    needs: str,
    capabilities: str | None,
    candidate_country: str,
    sectors: list[str] | None,
    limit: int,
    pool: int,
    weights: MatchWeights,
) -> list[Match]:
    from service.sectors import mask_of

    docs = encoder.embed_documents([needs] + ([capabilities] if capabilities else []))
    q_needs = docs[0].vector[None, :]
    q_caps = docs[1].vector[None, :] if capabilities else np.zeros_like(q_needs)
    meta = {
        "sector_mask": np.array([mask_of(sectors or [])]),
        "partnership_mask": np.array([0]),
        "org": np.array([ORG_CODE["company"]]),
    }
    r = rank(
        index,
        candidate_country=candidate_country,
        q_caps=q_caps,
        q_needs=q_needs,
        q_meta=meta,
        k=limit,
        pool=max(pool, limit),
        weights=weights,
    )
    cols = [c for c in range(r.ids.shape[1]) if r.ids[0, c] >= 0]
    ids = [int(r.ids[0, c]) for c in cols]
    profiles: dict = repo.by_ids(session, ids)
    profiles[-1] = AdHoc("your organisation", sectors or [])
    q_sent = {"needs": (docs[0].sentences, docs[0].sentence_vectors)}
    if capabilities:
        q_sent["capabilities"] = (docs[1].sentences, docs[1].sentence_vectors)
    texts = explain_pairs(
        session,
        index,
        [(-1, i) for i in ids],
        profiles,
        query_vectors={-1: (q_caps[0], q_needs[0])},
        query_sentences={-1: q_sent},
    )
    return [
        Match(profiles[i], round(float(r.scores[0, c]), 6), row_components(r, 0, c), t)
        for i, c, t in zip(ids, cols, texts, strict=True)
    ]


@dataclass
class Pairing:
    in_profile: Profile
    kr_profile: Profile
    score: float
    components: dict[str, float]
    explanation: str


def best_pairings(
    session: Session,
    index: MatchIndex,
    *,
    sector: str | None,
    limit: int,
    per_org: int,
    min_score: float,
    pool: int,
    weights: MatchWeights,
) -> list[Pairing]:
    """Best IN-KR pairs of the registry, each pair once, no organisation in more than ``per_org``.

    Candidates are every profile's top partners from both sides; a greedy pass takes pairs
    best-first while both organisations are under the cap.
    """
    f = Filters(sector=sector)
    k = max(10, 2 * per_org)
    found: dict[tuple[int, int], tuple[float, dict[str, float]]] = {}
    for country in ("IN", "KR"):
        for r in rank_all(
            index,
            country,
            k=k,
            pool=pool,
            weights=weights,
            query_filter=f,
            candidate_filter=f,
            batch=512,
        ):
            rows, cols = np.nonzero((r.ids >= 0) & (r.scores >= min_score))
            for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
                a, b = int(r.query_ids[row]), int(r.ids[row, col])
                key = (a, b) if country == "IN" else (b, a)
                if key not in found:
                    found[key] = (float(r.scores[row, col]), row_components(r, row, col))
    ordered = sorted(found.items(), key=lambda kv: (-kv[1][0], kv[0]))
    taken: dict[int, int] = {}
    chosen = []
    for (a, b), val in ordered:
        if taken.get(a, 0) < per_org and taken.get(b, 0) < per_org:
            chosen.append(((a, b), val))
            taken[a] = taken.get(a, 0) + 1
            taken[b] = taken.get(b, 0) + 1
            if len(chosen) == limit:
                break
    ids = sorted({i for (pair, _) in chosen for i in pair})
    profiles = repo.by_ids(session, ids)
    texts = explain_pairs(session, index, [pair for pair, _ in chosen], profiles)
    return [
        Pairing(profiles[a], profiles[b], round(score, 6), comps, t)
        for ((a, b), (score, comps)), t in zip(chosen, texts, strict=True)
    ]
