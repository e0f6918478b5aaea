"""The batched paths (exact two-sided scan, IVF batches) agree with per-profile ranking."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embeddings import lexical
from service.config import RankerSettings
from service.indexing.columns import IndexedProfile
from service.indexing.search import Filters, exact_pools
from service.indexing.service import MatchIndex
from service.matching.model import FEATURES, KINDS
from service.matching.ranking import rank_profiles, top_pairs

DIM = 16


WORDS = [
    "cathode",
    "anode",
    "hull",
    "radar",
    "chip",
    "wafer",
    "steel",
    "turbine",
    "sonar",
    "engine",
    "cell",
    "grid",
]


def random_ranker(tmp_path, dim: int = DIM) -> RankerSettings:
    """A ranker model of random weights for ``dim``-dimensional vectors."""
    rng = np.random.default_rng(3)
    n = len(FEATURES)
    kind = {"weights": rng.normal(size=n).tolist(), "mean": [0.0] * n, "scale": [1.0] * n}
    means = {c: rng.normal(size=dim).tolist() for c in ("IN", "KR")}
    path = tmp_path / "ranker-test.json"
    path.write_text(
        json.dumps(
            {
                "name": "test",
                "features": list(FEATURES),
                "kinds": {k: kind for k in KINDS},
                "mean_caps": means,
                "mean_needs": means,
            }
        )
    )
    return RankerSettings(model=path)


def random_index(tmp_path, exact_max: int, n: int = 240, dim: int = DIM) -> MatchIndex:
    rng = np.random.default_rng(5)
    index = MatchIndex(model="m", dim=dim, directory=tmp_path, exact_max=exact_max, nprobe=4)

    def unit(v):
        return (v / np.linalg.norm(v)).astype(np.float32)

    profiles = [
        IndexedProfile(
            id=i + 1,
            country="IN" if i % 2 else "KR",
            sector_mask=int(rng.integers(1, 128)),
            partnership_mask=int(rng.integers(0, 128)),
            org_type="company",
            capabilities=unit(rng.normal(size=dim)),
            needs=unit(rng.normal(size=dim)),
            terms=(
                lexical.terms(" ".join(rng.choice(WORDS, size=6))),
                lexical.terms(" ".join(rng.choice(WORDS, size=4))),
            ),
        )
        for i in range(n)
    ]
    index.upsert(profiles)
    return index


@pytest.mark.parametrize("sector", [None, "ai"])
def test_exact_two_sided_scan_matches_per_profile_ranking(tmp_path, sector):
    index = random_index(tmp_path, exact_max=10_000)
    w = random_ranker(tmp_path)
    pairs = top_pairs(index, k=5, pool=20, ranker=w, filters=Filters(sector=sector))
    got: dict[tuple[str, int], list[int]] = {}
    for side, col in (("IN", "rank_for_in"), ("KR", "rank_for_kr")):
        for n in np.flatnonzero(pairs[col] > 0):
            q = int(pairs["in" if side == "IN" else "kr"][n])
            got.setdefault((side, q), []).append(
                (int(pairs[col][n]), int(pairs["kr" if side == "IN" else "in"][n]))
            )
    checked = 0
    for (side, q), lst in got.items():
        r = rank_profiles(
            index, np.array([q]), side, k=5, pool=20, ranker=w, filters=Filters(sector=sector)
        )
        assert [b for _, b in sorted(lst)] == [int(x) for x in r.ids[0] if x >= 0]
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("batch", [7, 16, 50, 2048])
def test_exact_scan_pools_are_each_sides_best_whatever_the_block_size(tmp_path, batch):
    # small blocks: the first ones fill the Korean columns' running top-pool densely, the later
    # ones merge only the entries above each column's current floor
    index = random_index(tmp_path, exact_max=10_000)
    in_ids = index.columns.ids_where("IN", index.columns.present)
    kr_ids = index.columns.ids_where("KR", index.columns.present)
    pool = 20
    pools = exact_pools(index, in_ids, kr_ids, pool, batch=batch)
    pairs = index.columns.pairs
    sums = np.concatenate([pairs[in_ids, DIM:], pairs[in_ids, :DIM]], axis=1) @ pairs[kr_ids].T
    for side, full, others in (("IN", sums, kr_ids), ("KR", sums.T, in_ids)):
        ids, got_sums, got_cand = pools[side]
        best = np.sort(full, axis=1)[:, ::-1][:, :pool]
        np.testing.assert_allclose(np.sort(got_sums, axis=1)[:, ::-1], best, rtol=0, atol=1e-6)
        # the candidates are the ones those sums belong to
        col = {int(o): n for n, o in enumerate(others)}
        for row, (cands, s_) in enumerate(zip(got_cand, got_sums, strict=True)):
            expect = [full[row, col[int(c)]] for c in cands]
            np.testing.assert_allclose(s_, expect, rtol=0, atol=1e-6)
        assert (got_cand >= 0).all() and len(ids) == len(full)


@pytest.mark.parametrize(
    ("sector", "exact_max"),
    # 200: the sector leaves few enough profiles on both sides for the exact scan
    [(None, 50), ("ai", 50), ("ai", 200)],
)
def test_ivf_batches_match_per_profile_ranking(tmp_path, sector, exact_max):

    index = random_index(tmp_path, exact_max=50, n=600)
    # Force the approximate index as a restart above the threshold would build it.
    from embeddings.index import VectorIndex

    for country in ("IN", "KR"):
        ids = index.columns.ids_where(country, index.columns.present)
        index.indexes[country] = VectorIndex.build(
            2 * DIM, ids, index.columns.pairs[ids], exact_max=50, nprobe=4
        )
        assert index.indexes[country].kind == "ivf"
    index.exact_max = exact_max
    w = random_ranker(tmp_path)
    f = Filters(sector=sector)
    pairs = top_pairs(index, k=5, pool=20, ranker=w, filters=f)
    ins = np.flatnonzero(pairs["rank_for_in"] > 0)
    queries = np.unique(pairs["in"][ins])
    assert len(queries) > 40
    for q in queries[:40]:
        mine = ins[pairs["in"][ins] == q]
        expected = rank_profiles(index, np.array([q]), "IN", k=5, pool=20, ranker=w, filters=f).ids[
            0
        ]
        got = pairs["kr"][mine][np.argsort(pairs["rank_for_in"][mine])]
        assert got.tolist() == [int(x) for x in expected if x >= 0]


def test_scores_do_not_depend_on_the_batch(tmp_path):
    """Re-ranking the same candidates for the same profile gives the same bits whether it is one
    row of a large batch (exports, pairings) or a request of its own (``/matches``). (Which
    candidates get the keyword features depends on the pool, so the pools are the same.)"""
    from service.indexing.search import meta_of
    from service.matching.ranking import rerank

    rng = np.random.default_rng(11)
    # the model's dimension: the summation order under test depends on the vector length
    index = random_index(tmp_path, exact_max=10_000, n=400, dim=384)
    w = random_ranker(tmp_path, dim=384)
    queries = np.arange(2, 402, 2)  # Indian profiles
    kr = np.arange(1, 401, 2)
    cand = np.stack([rng.permutation(kr)[:60] for _ in queries])
    caps, needs = index.vectors(queries)
    full = rerank(
        index, caps, needs, meta_of(index, queries), cand, k=60, ranker=w, query_ids=queries
    )
    for row in (0, 7, 123):
        q = queries[row : row + 1]
        c, n = index.vectors(q)
        alone = rerank(
            index, c, n, meta_of(index, q), cand[row : row + 1], k=17, ranker=w, query_ids=q
        )
        expected = dict(zip(full.ids[row].tolist(), full.scores[row].tolist(), strict=True))
        for cid, score in zip(alone.ids[0].tolist(), alone.scores[0].tolist(), strict=True):
            assert score == expected[cid]  # bit for bit
