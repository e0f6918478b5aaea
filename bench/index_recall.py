"""Recall and latency of the approximate (IVF) per-country index against exact search.

Command (run from /work/main; registry from bench/build_registry.py):

    .venv/bin/python bench/index_recall.py --data-dir bench/data/reg-100k --queries 1000

In-process, no server. Loads every stored vector once (MatchIndex.rebuild) with the IVF kind
forced for every country (--exact-max, default 1; IVF parameters nlist = 4*sqrt(n) etc. come
from embeddings.index.VectorIndex.build exactly as the service builds them above
Settings.index_exact_max), then builds an exact twin (IndexFlatIP of the same vectors, same
metadata columns).
Queries: --queries profiles drawn at random (half IN, half KR), each searching the other
country with its swapped vector service.indexing.service.query_vector(caps, needs).

Per nprobe in --nprobes (and for the flat index):
  * recall@pool: |IVF top-pool ∩ exact top-pool| / pool  (pool = Settings.candidate_pool = 100)
  * the same with a sector filter (--sector, the IDSelector path used by /pairings, exports
    and filtered /matches); exact-filtered results are the reference
  * per-query latency of single-query searches (what one /matches request does) and the
    batched throughput (what rank_all does, 512 queries per call)
  * recall of the final top-10 after exact re-ranking (service.matching.service.rank_profiles
    on both index variants): |IVF top-10 ∩ exact top-10| / 10, and the fraction of
    identical ordered top-10 lists.
Bounded by --max-seconds (remaining nprobe values are skipped).
Writes bench/results/index_recall-<registry>.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from _common import abspath, header, log, pct, write_result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--nprobes", type=int, nargs="*", default=[8, 16, 32, 64])
    ap.add_argument("--sector", default="semiconductors")
    ap.add_argument(
        "--exact-max",
        type=int,
        default=1,
        help="per-country size above which IVF is used for the approximate variant "
        "(default 1 = always IVF; the service's Settings.index_exact_max is "
        "recorded in the results)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="", help="suffix of the result file name")
    ap.add_argument("--max-seconds", type=float, default=1500.0)
    a = ap.parse_args()
    res = header("index_recall")
    t_start = time.perf_counter()
    data_dir = abspath(a.data_dir)
    os.environ["MATCHMAKER_DATA_DIR"] = str(data_dir)
    os.environ.pop("MATCHMAKER_DATABASE_URL", None)

    from embeddings.encoder import model_dimension
    from embeddings.index import VectorIndex
    from service.config import Settings
    from service.db import create_db_engine, create_session_factory
    from service.indexing.columns import query_vector
    from service.indexing.search import Filters, allowed_ids
    from service.indexing.service import MatchIndex
    from service.matching.ranking import rank_profiles
    from service.vocab import COUNTRIES, other_country

    s = Settings()
    exact_max = a.exact_max
    dim = model_dimension(s.resolved_model_path())
    sessions = create_session_factory(create_db_engine(s.resolved_database_url))
    approx = MatchIndex(
        model=s.model_name,
        dim=dim,
        directory=data_dir / "index-unused",
        exact_max=exact_max,
        nprobe=s.index_nprobe,
    )
    t = time.perf_counter()
    with sessions() as session:
        approx.rebuild(session)
    build_s = time.perf_counter() - t
    counts = approx.count()
    kinds = {c: approx.indexes[c].kind for c in COUNTRIES}
    nlists = {
        c: int(approx.indexes[c]._index.nlist) if kinds[c] == "ivf" else None for c in COUNTRIES
    }
    log(f"rebuilt from DB in {build_s:.1f} s: {counts}, kinds {kinds}, nlist {nlists}")
    if "ivf" not in kinds.values():
        log(f"WARNING: no country above exact_max={exact_max}; both variants are exact")

    exact = MatchIndex(
        model=s.model_name, dim=dim, directory=data_dir / "index-unused", exact_max=10**12
    )
    exact.columns = approx.columns
    t = time.perf_counter()
    for c in COUNTRIES:
        ids = approx.indexes[c].ids()
        ids.sort()
        caps, needs = approx.vectors(ids)
        exact.indexes[c] = VectorIndex.build(
            2 * dim, ids, np.concatenate([caps, needs], axis=1), exact_max=10**12
        )
    flat_build_s = time.perf_counter() - t
    ivf_build = {}
    for c in COUNTRIES:  # time of the IVF build alone (train + add), as rebuild/serve pay it
        if kinds[c] == "ivf":
            ids = approx.indexes[c].ids()
            caps, needs = approx.vectors(ids)
            t = time.perf_counter()
            VectorIndex.build(
                2 * dim,
                ids,
                np.concatenate([caps, needs], axis=1),
                exact_max=exact_max,
                nprobe=s.index_nprobe,
            )
            ivf_build[c] = round(time.perf_counter() - t, 1)
    log(f"flat twin built in {flat_build_s:.1f} s; IVF build (train+add) {ivf_build}")

    rng = np.random.default_rng(a.seed)
    queries = {}
    for c in COUNTRIES:
        ids = np.sort(approx.indexes[c].ids())
        queries[c] = np.sort(rng.choice(ids, size=min(len(ids), a.queries // 2), replace=False))
    pool = s.candidate_pool
    qv = {c: query_vector(*approx.vectors(q)) for c, q in queries.items()}
    sector_allowed = {
        c: allowed_ids(approx, other_country(c), Filters(sector=a.sector)) for c in COUNTRIES
    }

    def search_all(ix: MatchIndex, allowed: dict | None) -> dict[str, np.ndarray]:
        return {
            c: ix.indexes[other_country(c)].search(
                qv[c], pool, None if allowed is None else allowed[c]
            )[1]
            for c in COUNTRIES
        }

    def recall(got: dict, ref: dict) -> tuple[float, float]:
        vals = []
        for c in COUNTRIES:
            for g, r in zip(got[c], ref[c], strict=True):
                rs = set(r[r >= 0].tolist())
                if rs:
                    vals.append(len(rs & set(g[g >= 0].tolist())) / len(rs))
        return float(np.mean(vals)), float(np.min(vals))

    def single_latency(ix: MatchIndex) -> list[float]:
        out = []
        for c in COUNTRIES:
            target = ix.indexes[other_country(c)]
            for row in qv[c]:
                t = time.perf_counter()
                target.search(row[None, :], pool)
                out.append((time.perf_counter() - t) * 1000)
        return out

    def batched_qps(ix: MatchIndex) -> float:
        t = time.perf_counter()
        n = 0
        for c in COUNTRIES:
            for st in range(0, len(qv[c]), 512):
                ix.indexes[other_country(c)].search(qv[c][st : st + 512], pool)
                n += len(qv[c][st : st + 512])
        return n / (time.perf_counter() - t)

    def top10(ix: MatchIndex) -> dict[str, np.ndarray]:
        return {
            c: rank_profiles(ix, queries[c], c, k=10, pool=pool, weights=s.weights).ids
            for c in COUNTRIES
        }

    def top10_stats(got: dict, ref: dict) -> tuple[float, float]:
        rec, same = [], []
        for c in COUNTRIES:
            for g, r in zip(got[c], ref[c], strict=True):
                rs = set(r[r >= 0].tolist())
                rec.append(len(rs & set(g[g >= 0].tolist())) / max(len(rs), 1))
                same.append(bool(np.array_equal(g, r)))
        return float(np.mean(rec)), float(np.mean(same))

    ref = search_all(exact, None)
    ref_f = search_all(exact, sector_allowed)
    ref10 = top10(exact)
    lat = single_latency(exact)
    rows = [
        {
            "variant": "flat (exact)",
            "nprobe": None,
            "recall_at_pool": 1.0,
            "recall_at_pool_min": 1.0,
            "recall_filtered": 1.0,
            "top10_recall": 1.0,
            "top10_identical": 1.0,
            "p50_ms": round(pct(lat, 50), 3),
            "p99_ms": round(pct(lat, 99), 3),
            "mean_ms": round(float(np.mean(lat)), 3),
            "batched_qps": round(batched_qps(exact), 1),
        }
    ]
    log(f"flat: p50 {rows[0]['p50_ms']} ms/query")
    for nprobe in a.nprobes:
        if time.perf_counter() - t_start > a.max_seconds:
            log(f"max-seconds reached; skipping nprobe {nprobe}")
            continue
        for c in COUNTRIES:
            ix = approx.indexes[c]
            if ix.kind == "ivf":
                ix.nprobe = nprobe
                ix._index.nprobe = nprobe
        got = search_all(approx, None)
        got_f = search_all(approx, sector_allowed)
        r_mean, r_min = recall(got, ref)
        rf_mean, _ = recall(got_f, ref_f)
        lat = single_latency(approx)
        t10, same = top10_stats(top10(approx), ref10)
        filled = float(np.mean([(g >= 0).sum(axis=1).mean() for g in got_f.values()]))
        rows.append(
            {
                "variant": "ivf" if "ivf" in kinds.values() else "flat",
                "nprobe": nprobe,
                "recall_at_pool": round(r_mean, 4),
                "recall_at_pool_min": round(r_min, 4),
                "recall_filtered": round(rf_mean, 4),
                "filtered_results_per_query": round(filled, 1),
                "top10_recall": round(t10, 4),
                "top10_identical": round(same, 4),
                "p50_ms": round(pct(lat, 50), 3),
                "p99_ms": round(pct(lat, 99), 3),
                "mean_ms": round(float(np.mean(lat)), 3),
                "batched_qps": round(batched_qps(approx), 1),
            }
        )
        log(f"nprobe {nprobe}: {rows[-1]}")

    sel = {c: len(v) for c, v in sector_allowed.items()}
    res |= {
        "command": "python bench/index_recall.py " + " ".join(sys.argv[1:]),
        "registry": str(data_dir),
        "counts": counts,
        "kinds": kinds,
        "nlist": nlists,
        "exact_max": exact_max,
        "service_index_exact_max": s.index_exact_max,
        "service_nprobe_default": s.index_nprobe,
        "pool": pool,
        "queries": {c: len(q) for c, q in queries.items()},
        "sector_filter": {"sector": a.sector, "allowed_candidates": sel},
        "rebuild_from_db_s": round(build_s, 1),
        "ivf_build_s": ivf_build,
        "faiss_omp_threads": __import__("faiss").omp_get_max_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "rows": rows,
    }
    print()
    print(
        f"registry {data_dir.name}: {counts}, index kinds {kinds}, nlist {nlists}, "
        f"{sum(len(q) for q in queries.values())} queries, pool={pool}; "
        f"sector filter '{a.sector}' allows {sel} candidates"
    )
    print(
        f"{'variant':<14}{'nprobe':>7}{'R@100':>8}{'minR':>7}{'R@100 flt':>10}{'top10 R':>9}"
        f"{'top10 =':>9}{'p50 ms':>8}{'p99 ms':>8}{'batch q/s':>10}"
    )
    for r in rows:
        print(
            f"{r['variant']:<14}{str(r['nprobe'] or '-'):>7}{r['recall_at_pool']:>8.3f}"
            f"{r['recall_at_pool_min']:>7.2f}{r['recall_filtered']:>10.3f}"
            f"{r['top10_recall']:>9.3f}{r['top10_identical']:>9.3f}{r['p50_ms']:>8.2f}"
            f"{r['p99_ms']:>8.2f}{r['batched_qps']:>10.0f}"
        )
    print(
        "R@100 = recall of the IVF candidate pool vs exact; flt = with the sector IDSelector; "
        "top10 R / = : recall / identical lists after exact re-ranking (rank_profiles)"
    )
    write_result(f"index_recall-{data_dir.name}{'-' + a.tag if a.tag else ''}", res)


if __name__ == "__main__":
    main()
