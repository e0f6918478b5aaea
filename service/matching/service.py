"""Candidate generation (FAISS) and exact re-ranking, for one profile or many at once.

``rank`` is the single ranking path: ``/matches``, ``/pairings``, ad-hoc search and exports all
call it, so the same profile always gets the same partners with the same scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from sqlalchemy.orm import Session

from embeddings.index import InvertedLists
from service.config import MatchWeights
from service.indexing.service import ORG_CODE, MatchIndex, Summary, query_vector, text_key
from service.matching.explain import SentenceData, SentenceTable, render
from service.matching.scoring import COMPONENTS, score_cosines
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


def ids_or_all(index: MatchIndex, country: str, allowed: np.ndarray | None) -> np.ndarray:
    """``allowed`` (from ``allowed_ids``), or every indexed id of ``country`` when it is None."""
    return (
        allowed if allowed is not None else index.columns.ids_where(country, index.columns.present)
    )


def meta_of(index: MatchIndex, ids: np.ndarray) -> dict[str, np.ndarray]:
    cols = index.columns
    safe = np.where(ids >= 0, ids, 0)
    return {
        "sector_mask": cols.sector_mask[safe].astype(np.int64),
        "partnership_mask": cols.partnership_mask[safe].astype(np.int64),
        "org": cols.org[safe].astype(np.int64),
    }


@dataclass(frozen=True)
class CandidateSource:
    """Where candidates come from: the country's FAISS index (optionally restricted to
    ``allowed``); when a filter leaves few enough profiles, an exact scan of just those; for
    batches over an IVF index, a copy of its lists searched list by list (same results)."""

    country: str
    allowed: np.ndarray | None = None
    matrix: np.ndarray | None = None  # pair vectors of ``allowed`` for the exact scan
    lists: InvertedLists | None = None  # IVF lists for batched search


def candidate_source(
    index: MatchIndex, country: str, allowed: np.ndarray | None, *, batch: bool = False
) -> CandidateSource:
    """``batch``: many queries will follow, so copying an IVF index's lists pays off."""
    with index.lock:
        if allowed is not None and len(allowed) <= index.exact_max:
            return CandidateSource(country, allowed, index.columns.pairs[allowed])
        if batch and index.indexes[country].kind == "ivf":
            return CandidateSource(country, allowed, lists=index.indexes[country].lists())
    return CandidateSource(country, allowed)


def search(
    index: MatchIndex, src: CandidateSource, queries: np.ndarray, pool: int
) -> tuple[np.ndarray, np.ndarray]:
    """(inner products, candidate ids), shape (B, <= pool); id -1 pads.

    The inner product of a query vector with a candidate's pair vector is the two-way sum
    ``cos(A.needs, B.caps) + cos(A.caps, B.needs)`` (``service.indexing.service``).
    """
    if src.lists is not None:
        return src.lists.search(queries, pool, src.allowed)
    if src.matrix is None:
        with index.lock:
            return index.indexes[src.country].search(queries, pool, src.allowed)
    n = len(src.allowed)
    if n == 0:
        return (
            np.full((len(queries), 1), -np.inf, np.float32),
            np.full((len(queries), 1), -1, np.int64),
        )
    sums = queries @ src.matrix.T
    if n <= pool:
        return sums, np.broadcast_to(src.allowed, (len(queries), n)).copy()
    pos = np.argpartition(-sums, pool - 1, axis=1)[:, :pool]
    return np.take_along_axis(sums, pos, axis=1), src.allowed[pos]


def rank(
    index: MatchIndex,
    *,
    source: CandidateSource,
    q_caps: np.ndarray,
    q_needs: np.ndarray,
    q_meta: dict[str, np.ndarray],
    k: int,
    pool: int,
    weights: MatchWeights,
    query_ids: np.ndarray | None = None,
) -> Ranked:
    """Fetch ``pool`` candidates per query, re-rank them exactly, keep the top ``k``.

    Queries are rows of ``q_caps``/``q_needs`` (shape (B, dim)); ``q_meta`` arrays have shape (B,).
    """
    _, cand = search(index, source, query_vector(q_caps, q_needs), max(pool, k))
    return rerank(index, q_caps, q_needs, q_meta, cand, k=k, weights=weights, query_ids=query_ids)


def rerank(
    index: MatchIndex,
    q_caps: np.ndarray,
    q_needs: np.ndarray,
    q_meta: dict[str, np.ndarray],
    cand: np.ndarray,
    *,
    k: int,
    weights: MatchWeights,
    query_ids: np.ndarray | None = None,
) -> Ranked:
    """Score candidates ``cand`` (B, P) exactly and keep the best ``k`` per row.

    Both directions are recomputed from the stored vectors rather than taken from the search's
    two-way ``sums`` (which only choose the pool): every search path (FAISS, the batched IVF
    search, the exact scans) then yields bit-identical scores, so equal inputs rank equally.
    """
    b, dim = q_caps.shape
    valid = cand >= 0
    with index.lock:
        c_pairs = index.columns.pairs[np.where(valid, cand, 0)]
    # The three cosines as one pass over the candidates: rows [needs|0], [0|caps], [caps|0]
    # of each query against [caps|needs]. numpy's einsum sums each product in an order fixed
    # by the vector length alone (checked in tests), so a score never depends on the batch.
    zero = np.zeros_like(q_caps)
    q3 = np.stack(
        [
            np.concatenate([q_needs, zero], axis=1),
            np.concatenate([zero, q_caps], axis=1),
            np.concatenate([q_caps, zero], axis=1),
        ],
        axis=1,
    )
    needs_a_by_b, needs_b_by_a, caps_a_b = np.einsum("bkd,bpd->kbp", q3, c_pairs)
    scores, comps = score_cosines(
        needs_a_by_b,
        needs_b_by_a,
        caps_a_b,
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


def exact_pools(
    index: MatchIndex, in_ids: np.ndarray, kr_ids: np.ndarray, pool: int, batch: int = 2048
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Candidate pools of every profile of both countries by one exact scan.

    The two-way score is symmetric (``q_a . x_b == q_b . x_a``), so one blocked product of the
    Indian query vectors with the Korean pair vectors yields both sides: row-wise top-``pool``
    for Indian profiles (``in_ids``), column-wise top-``pool`` for Korean ones (``kr_ids``).
    Returns, per country, (query ids, sums (n, P), candidate ids (n, P), -1 padded).
    """
    dim = index.dim
    with index.lock:
        x_kr = index.columns.pairs[kr_ids]
        q_in = index.columns.pairs[in_ids]
    q_in = np.concatenate([q_in[:, dim:], q_in[:, :dim]], axis=1)  # [needs | caps]
    n_in, n_kr = len(in_ids), len(kr_ids)
    p_in, p_kr = max(1, min(pool, n_kr)), max(1, min(pool, n_in))
    # Products in numpy (OpenBLAS runs twice as fast as torch's MKL on AMD CPUs), top-k in
    # torch (numpy's argpartition is several times slower).
    row_sums = np.full((n_in, p_in), -np.inf, np.float32)
    row_ids = np.full((n_in, p_in), -1, np.int64)
    col_sums = torch.full((n_kr, p_kr), -torch.inf)
    col_pos = torch.full((n_kr, p_kr), -1, dtype=torch.int64)
    for start in range(0, n_in if n_kr else 0, batch):
        sims = torch.from_numpy(q_in[start : start + batch] @ x_kr.T)
        top = torch.topk(sims, p_in, dim=1, sorted=False)
        row_sums[start : start + len(sims)] = top.values.numpy()
        row_ids[start : start + len(sims)] = kr_ids[top.indices.numpy()]
        col_sums, col_pos = merge_column_top(col_sums, col_pos, sims, start)
    col_sums, col_pos = col_sums.numpy(), col_pos.numpy()
    kr_cand = np.where(col_pos >= 0, in_ids[np.maximum(col_pos, 0)], -1)
    return {"IN": (in_ids, row_sums, row_ids), "KR": (kr_ids, col_sums, kr_cand)}


def merge_column_top(
    col_sums: torch.Tensor, col_pos: torch.Tensor, sims: torch.Tensor, start: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge block ``sims`` (rows ``start``.. of the scan, one column per Korean profile) into
    each column's running top-p (``col_sums``, row positions ``col_pos``; shape (n_kr, p)).

    Once every column holds p values, only entries above a column's current p-th best can
    enter it, and after the first block few do: those are picked out and merged, instead of
    transposing the whole block and taking each column's top-p of it (same result).
    """
    p = col_sums.shape[1]
    floor = col_sums.min(dim=1).values
    if torch.isinf(floor).any():  # some column not full yet: dense merge
        top = torch.topk(sims.T.contiguous(), min(p, sims.shape[0]), dim=1, sorted=False)
        merged_s = torch.cat([col_sums, top.values], dim=1)
        merged_p = torch.cat([col_pos, top.indices + start], dim=1)
    else:
        rows, cols = torch.nonzero(sims > floor, as_tuple=True)
        if len(cols) == 0:
            return col_sums, col_pos
        order = torch.argsort(cols, stable=True)
        rows, cols = rows[order], cols[order]
        counts = torch.bincount(cols, minlength=len(floor))
        touched = torch.nonzero(counts, as_tuple=True)[0]
        # slot of each entry within its column: its rank among the entries of that column
        first = torch.cumsum(counts, 0) - counts
        slot = torch.arange(len(cols)) - first[cols]
        width = int(counts.max())
        where = torch.full((len(floor),), -1, dtype=torch.int64)
        where[touched] = torch.arange(len(touched))
        new_s = torch.full((len(touched), width), -torch.inf)
        new_p = torch.full((len(touched), width), -1, dtype=torch.int64)
        new_s[where[cols], slot] = sims[rows, cols]
        new_p[where[cols], slot] = rows + start
        merged_s = torch.cat([col_sums[touched], new_s], dim=1)
        merged_p = torch.cat([col_pos[touched], new_p], dim=1)
        keep = torch.topk(merged_s, p, dim=1, sorted=False).indices
        col_sums[touched] = torch.gather(merged_s, 1, keep)
        col_pos[touched] = torch.gather(merged_p, 1, keep)
        return col_sums, col_pos
    keep = torch.topk(merged_s, p, dim=1, sorted=False).indices
    return torch.gather(merged_s, 1, keep), torch.gather(merged_p, 1, keep)


def rank_ids(
    index: MatchIndex,
    ids: np.ndarray,
    source: CandidateSource,
    *,
    k: int,
    pool: int,
    weights: MatchWeights,
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
        weights=weights,
        query_ids=ids,
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
) -> Ranked:
    """Top-k partners for indexed profiles ``ids`` (all of ``country``)."""
    other = other_country(country)
    source = candidate_source(index, other, allowed_ids(index, other, filters))
    return rank_ids(index, ids, source, k=k, pool=pool, weights=weights)


def rerank_batches(
    index: MatchIndex,
    ids: np.ndarray,
    cand: np.ndarray,
    *,
    k: int,
    weights: MatchWeights,
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
            weights=weights,
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
    weights: MatchWeights,
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
        yield from rerank_batches(index, chunk, cand, k=k, weights=weights, batch=batch)


def _ranked_both_sides(
    index: MatchIndex,
    *,
    k: int,
    pool: int,
    weights: MatchWeights,
    filters: Filters,
    batch: int = 512,
) -> Iterator[tuple[str, Ranked]]:
    """Every profile's top-k, both countries: one exact scan while ``/matches`` searches exactly
    too (every index flat, or the filter leaves few enough profiles on both sides for the exact
    scan of ``candidate_source``), else batched index search."""
    allowed = {c: allowed_ids(index, c, filters) for c in ("IN", "KR")}
    small = all(a is not None and len(a) <= index.exact_max for a in allowed.values())
    if small or all(ix.kind == "flat" for ix in index.indexes.values()):
        in_ids, kr_ids = (ids_or_all(index, c, a) for c, a in allowed.items())
        for country, (ids, _, cand) in exact_pools(index, in_ids, kr_ids, pool).items():
            # 64 rows: their gathered candidate vectors (64 x pool x 2 dim floats, 20 MB at
            # pool 100) stay in cache for the products; 15-25 % faster than 512 (ad hoc, 100k)
            for r in rerank_batches(index, ids, cand, k=k, weights=weights, batch=64):
                yield country, r
        return
    for country in ("IN", "KR"):
        for r in rank_all(
            index,
            country,
            k=k,
            pool=pool,
            weights=weights,
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
    weights: MatchWeights,
    filters: Filters = Filters(),
    min_score: float = 0.0,
    progress: Callable[[float], None] = lambda _: None,
) -> dict[str, np.ndarray]:
    """The top-k lists of every profile on both sides, merged into unique (IN, KR) pairs.

    Arrays: ``in``, ``kr``, ``score``, each component, and ``rank_for_in`` / ``rank_for_kr``
    (1-based rank in that side's list; 0 when the pair is not in it). Vectorised throughout.
    """
    parts = []
    total = max(1, int(index.columns.present.sum()))
    done = 0
    for country, r in _ranked_both_sides(index, k=k, pool=pool, weights=weights, filters=filters):
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


@dataclass
class Match:
    profile: Profile | Summary
    score: float
    components: dict[str, float]
    explanation: str


def quoted_sentences(
    session: Session, index: MatchIndex, askers: list[int], partners: list[int]
) -> dict[tuple[int, str], SentenceData]:
    """Sentences (and float16 vectors, as stored) of both texts of ``askers`` and the
    capabilities of ``partners``: from the index's sentence cache where it holds the indexed
    version of a text, else from the database (and then cached under the content key of what
    was read)."""
    wanted = [(i, f) for i in askers for f in repo.TEXT_FIELDS]
    wanted += [(i, "capabilities") for i in partners]
    keys = index.text_keys({i for i, _ in wanted})
    cache_key = {(i, f): (i, f, keys[i][repo.TEXT_FIELDS.index(f)]) for i, f in wanted}
    hits = index.sentence_cache.get_many(cache_key.values())
    out = {(i, f): hits[k] for (i, f), k in cache_key.items() if k in hits}
    missing = [w for w in wanted if w not in out]
    if missing:
        asking = set(askers)
        fetch_both = sorted({i for i, f in missing if i in asking})
        hashes: dict[tuple[int, str], str] = {}
        fetched = repo.sentence_data(
            session,
            fetch_both,
            as_float16=True,
            capabilities_of=sorted({i for i, _ in missing}.difference(fetch_both)),
            hashes=hashes,
        )
        index.sentence_cache.put_many(
            {(i, f, text_key(hashes[(i, f)])): data for (i, f), data in fetched.items()}
        )
        out |= fetched
    return out


def explain_pairs(
    session: Session,
    index: MatchIndex,
    pairs: list[tuple[int, int]],
    profiles: dict[int, Profile | Summary],
    query_vectors: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
    query_sentences: dict[int, dict[str, SentenceData]] | None = None,
) -> list[str]:
    """Explanation of each (a, b) pair of profile ids (``a`` may be an ad-hoc query, id < 0):
    the sentence of B's offer closest to A's needs, the need of A closest to B's offer, and the
    sentence of A's offer closest to B's needs, picked for all pairs at once."""
    if not pairs:
        return []
    ids = sorted({i for p in pairs for i in p if i >= 0})
    askers = sorted({a for a, _ in pairs if a >= 0})
    sent = quoted_sentences(session, index, askers, sorted(set(ids).difference(askers)))
    caps, needs = index.vectors(np.array(ids, dtype=np.int64))
    queries = sorted(query_vectors or {})
    slot = {i: n for n, i in enumerate([*ids, *queries])}
    if queries:
        caps = np.vstack([caps, *(query_vectors[q][0][None] for q in queries)])
        needs = np.vstack([needs, *(query_vectors[q][1][None] for q in queries)])
    table = SentenceTable(len(slot), repo.TEXT_FIELDS)
    for (i, field), data in sent.items():
        table.add(slot[i], field, data)
    for q, fields in (query_sentences or {}).items():
        for field, data in fields.items():
            table.add(slot[q], field, data)
    table.seal()
    a = np.array([slot[x] for x, _ in pairs])
    b = np.array([slot[y] for _, y in pairs])
    a_need = table.pick("needs", a, caps[b]).tolist()
    b_offer = table.pick("capabilities", b, needs[a]).tolist()
    a_offer = table.pick("capabilities", a, needs[b]).tolist()
    out = []
    for n, (x, y) in enumerate(pairs):
        pa, pb = profiles[x], profiles[y]
        out.append(
            render(
                pa.name,
                tuple(pa.sectors),
                pb.name,
                tuple(pb.sectors),
                a_need=table.text(a_need[n]),
                b_offer=table.text(b_offer[n]),
                a_offer=table.text(a_offer[n]),
            )
        )
    return out


def row_components(r: Ranked, row: int, col: int) -> dict[str, float]:
    return {name: round(float(r.components[name][row, col]), 6) for name in COMPONENTS}


# -- queries behind the endpoints ----------------------------------------------------------


def summary(p: Profile | Summary) -> dict:
    return {
        "id": p.public_id,
        "name": p.name,
        "country": p.country,
        "org_type": p.org_type,
        "sectors": list(p.sectors),
        "city": p.city,
    }


def indexed_subject(session: Session, index: MatchIndex, public_id: str) -> Summary:
    """The profile whose partners are asked for, from the index's memory (the caller catches
    it up with every committed change first); when it is not there, the database tells an
    unknown id (404) from one not indexed yet (503)."""
    from service.errors import Unavailable
    from service.profiles import service as profiles

    found = index.find(public_id)
    if found is None:
        profiles.get(session, public_id)
        raise Unavailable("this profile is not in the search index yet; retry in a moment")
    return found


def matches_for_profile(
    session: Session,
    index: MatchIndex,
    profile: Profile | Summary,
    *,
    limit: int,
    pool: int,
    weights: MatchWeights,
    filters: Filters = Filters(),
    min_score: float = 0.0,
) -> list[Match]:
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
    profiles = index.summaries(int(r.ids[0, c]) for c in cols)
    # a candidate deleted by a concurrent catch-up since ranking drops out
    cols = [c for c in cols if int(r.ids[0, c]) in profiles]
    ids = [int(r.ids[0, c]) for c in cols]
    profiles[profile.id] = profile
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
        source=CandidateSource(candidate_country),
        q_caps=q_caps,
        q_needs=q_needs,
        q_meta=meta,
        k=limit,
        pool=max(pool, limit),
        weights=weights,
    )
    profiles: dict = index.summaries(int(i) for i in r.ids[0] if i >= 0)
    cols = [c for c in range(r.ids.shape[1]) if int(r.ids[0, c]) in profiles]
    ids = [int(r.ids[0, c]) for c in cols]
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
    in_profile: Summary
    kr_profile: Summary
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
    found = top_pairs(
        index,
        k=max(10, 2 * per_org),
        pool=pool,
        weights=weights,
        filters=Filters(sector=sector),
        min_score=min_score,
    )
    chosen: list[tuple[tuple[int, int], tuple[float, dict[str, float]]]] = []
    if found:
        order = np.lexsort((found["kr"], found["in"], -found["score"]))
        taken: dict[int, int] = {}
        for n in order.tolist():
            a, b = int(found["in"][n]), int(found["kr"][n])
            if taken.get(a, 0) < per_org and taken.get(b, 0) < per_org:
                comps = {c: round(float(found[c][n]), 6) for c in COMPONENTS}
                chosen.append(((a, b), (float(found["score"][n]), comps)))
                taken[a] = taken.get(a, 0) + 1
                taken[b] = taken.get(b, 0) + 1
                if len(chosen) == limit:
                    break
    profiles = index.summaries({i for (pair, _) in chosen for i in pair})
    chosen = [c for c in chosen if c[0][0] in profiles and c[0][1] in profiles]
    texts = explain_pairs(session, index, [pair for pair, _ in chosen], profiles)
    return [
        Pairing(profiles[a], profiles[b], round(score, 6), comps, t)
        for ((a, b), (score, comps)), t in zip(chosen, texts, strict=True)
    ]
