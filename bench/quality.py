"""Ranking quality on real partnerships: the service against BM25 and cosine baselines.

Command (from the repository root; about 5 minutes on 2 cores, half of it the HTTP runs)::

    .venv/bin/python bench/quality.py                  # all of it; --no-api skips the servers

What it measures
----------------
* **The labelled set** ``seed_data/real``: real India-Korea partnerships (and real cross-border
  pairs of the same sectors with one Indian or Korean side, marked ``third_country``) among
  distractors of the same sectors; sources in ``seed_data/real/SOURCES.md``. Each pair gives
  two queries (each side looking for the other). Ranks are **filtered**: a firm's other true
  partners are removed before its rank is taken. Every candidate of the other country is
  ranked (nothing is left to the candidate search), except for the rows marked "pool 100",
  which rank only the service's FAISS pool, as ``/matches`` does.
* **Held-out folds.** The pairs are split into 5 folds (pairs that share an organisation stay
  together). The ranker model is fitted (``bench/ranker_data.fit_listwise``) on four folds and
  evaluated on the fifth, five times: every figure for "ours" and its ablations is held-out.
  The shipped model (``bench/train_ranker.py``) is fitted on all pairs; it is never scored here.
* **Through the HTTP API** (unless ``--no-api``): the set is registered through
  ``POST /v1/profiles/bulk`` of a real ``matchmaker serve``; for each fold the server is
  restarted with that fold's model (``MATCHMAKER_RANKER_MODEL``) and every held-out query
  asks ``GET /v1/profiles/{id}/matches?limit=100``.
* **Baselines**: BM25 with ``bm25s`` (whole text against whole text, and needs against
  capabilities; "BM25" is the better of the two by MRR), cosine of whole-profile embeddings,
  and the ranker this one replaced (the formula of revision 6370fbb, from the same features).
* **Sign tests** (two-sided, exact) of ours against each baseline on per-query reciprocal
  ranks, ties dropped.
* **Graded judgements** (``seed_data/eval/judgements.csv``): 30 profiles of the seeded
  registry, candidates pooled from the top 10 of three rankers and graded 0/1/2 blind; nDCG@10
  of each method's top 10 (unjudged = 0). The seeded registry shares no organisation with the
  training pairs... except where a real firm appears in both; the model's weights were fitted
  on partnership labels only, never on these grades.

Writes ``bench/results/quality.json`` and prints markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ranker_data import (
    ROOT,
    LabelledSet,
    blank_model,
    country_means,
    features,
    fit_subset,
    load_set,
    make_encoder,
    register,
    training_lists,
)
from train_ranker import to_json

from service.config import Settings
from service.indexing.lexical import LEXICAL_FEATURES
from service.matching.model import FEATURES, KINDS, RankerModel, Weights
from service.matching.model import load as load_shipped

RESULTS = ROOT / "bench" / "results"
V1 = ROOT / "service" / "matching" / "data" / "ranker-v1.json"
V1_SET = "ours without the alike-keyword features (ranker v1's set)"
JUDGEMENTS = ROOT / "seed_data" / "eval" / "judgements.csv"
POOL = Settings().candidate_pool
F = {f: i for i, f in enumerate(FEATURES)}
ABLATIONS = {
    "ours": FEATURES,
    "ours without keywords": [f for f in FEATURES if f not in LEXICAL_FEATURES],
    V1_SET: [f for f in FEATURES if f not in ("bm25_caps_caps", "bm25_needs_needs")],
    "ours without dense": [
        f for f in FEATURES if f not in ("dense_sum", "dense_min", "caps_caps", "needs_needs")
    ],
    "ours without hub": [f for f in FEATURES if f != "hub"],
    "ours without sector fit": [f for f in FEATURES if f != "sector_fit"],
    "dense + sector fit only": ["dense_sum", "dense_min", "caps_caps", "needs_needs", "sector_fit"],
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- metrics -----------------------------------------------------------------------------------


def rank_of(scores: np.ndarray, cand: np.ndarray, target: int, drop: set[int]) -> float:
    """1-based filtered rank of ``target`` among ``cand`` by score; ties count half."""
    s = scores.astype(np.float64).copy()
    s[[i for i, c in enumerate(cand.tolist()) if c in drop]] = -np.inf
    t = s[cand.tolist().index(target)]
    return 1 + float(np.sum(s > t)) + (float(np.sum(s == t)) - 1) / 2


def metrics(ranks: np.ndarray) -> dict[str, float]:
    r = np.asarray(ranks, float)
    out = {f"R@{k}": float(np.mean(r <= k)) for k in (1, 5, 10)}
    out["MRR"] = float(np.mean(np.where(np.isfinite(r), 1 / r, 0)))
    out["nDCG@10"] = float(np.mean(np.where(r <= 10, 1 / np.log2(r + 1), 0)))
    out["n"] = len(r)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def sign_test(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Exact two-sided sign test of per-query reciprocal ranks (a better = win)."""
    ra, rb = 1 / np.asarray(a, float), 1 / np.asarray(b, float)
    wins, losses = int(np.sum(ra > rb)), int(np.sum(ra < rb))
    n = wins + losses
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n if n else 1.0
    return {"wins": wins, "losses": losses, "ties": len(ra) - n, "p": min(1.0, 2 * tail)}


# -- queries and baselines ---------------------------------------------------------------------


def queries(data: LabelledSet, folds: dict[int, int]) -> list[dict]:
    partners = data.partners()
    out = []
    for n, (a, b) in enumerate(data.pairs):
        for q, t in ((a, b), (b, a)):
            out.append(
                {
                    "q": q,
                    "t": t,
                    "drop": partners[q] - {t},
                    "fold": folds[q],
                    "third": bool(data.third_country[n]),
                }
            )
    return out


class Bm25:
    """bm25s over one country's texts (English stop words; no stemming: bm25s's default)."""

    def __init__(self, docs: list[str]) -> None:
        import bm25s

        self.bm25s = bm25s
        self.model = bm25s.BM25()
        self.model.index(
            bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False
        )

    def scores(self, text: str) -> np.ndarray:
        toks = self.bm25s.tokenize([text], stopwords="en", return_ids=False, show_progress=False)[0]
        known = [t for t in toks if t in self.model.vocab_dict]
        n = self.model.scores["num_docs"]
        return self.model.get_scores(known) if known else np.zeros(n)


def old_formula(x: np.ndarray, pfit: np.ndarray) -> np.ndarray:
    """The score of revision 6370fbb (default weights) from the same features."""
    total, low = x[:, F["dense_sum"]], x[:, F["dense_min"]]
    a, b = np.clip(total - low, 0, 1), np.clip(low, 0, 1)
    compl = np.where(a + b > 0, 2 * a * b / np.maximum(a + b, 1e-12), 0)
    penalty = np.maximum(0, x[:, F["caps_caps"]] - 0.75) / 0.25
    return 0.6 * compl + 0.25 * x[:, F["sector_fit"]] + 0.15 * pfit - 0.3 * penalty


def whole(p: dict) -> str:
    return p["capabilities"].strip() + " " + p["needs"].strip()


def baseline_scores(data: LabelledSet, feats, encoder) -> dict[str, dict[int, np.ndarray]]:  # noqa: ANN001
    texts = [whole(p) for p in data.profiles]
    emb = encoder.encode_texts(texts)
    out: dict[str, dict[int, np.ndarray]] = {
        "BM25 whole": {},
        "BM25 needs>caps": {},
        "cosine (whole profile)": {},
        "old ranker (6370fbb)": {},
        "dense pair score (FAISS)": {},
        "bm25_whole feature": {},
    }
    index_whole = {c: Bm25([texts[i] for i in cand]) for c, cand in feats.candidates.items()}
    index_caps = {
        c: Bm25([data.profiles[i]["capabilities"] for i in cand])
        for c, cand in feats.candidates.items()
    }
    for q in feats.queries.tolist():
        other = data.other_country(q)
        cand = feats.candidates[other]
        x = feats.x[q]
        out["BM25 whole"][q] = index_whole[other].scores(texts[q])
        out["BM25 needs>caps"][q] = index_caps[other].scores(data.profiles[q]["needs"])
        out["cosine (whole profile)"][q] = emb[cand] @ emb[q]
        out["old ranker (6370fbb)"][q] = old_formula(x, feats.pfit[q])
        out["dense pair score (FAISS)"][q] = x[:, F["dense_sum"]]
        out["bm25_whole feature"][q] = x[:, F["bm25_whole"]]
    return out


def hubness(scores: dict[int, np.ndarray], data: LabelledSet, feats, k: int = 10) -> dict:  # noqa: ANN001
    """How much a few candidates take the first places, with every profile of the set as a query
    (no labels): the organisations that come first for at least one query, the most first
    places one organisation takes, and the skewness of N_k, the number of top-k lists each
    profile is in (hubs make it right-skewed; Radovanovic et al., JMLR 2010)."""
    from scipy.stats import skew

    first: dict[int, int] = {}
    n_k = np.zeros(len(data.profiles))
    for q, s in scores.items():
        other = data.other_country(q)
        cand = feats.candidates[other]
        order = np.argsort(-s, kind="stable")
        first[int(cand[order[0]])] = first.get(int(cand[order[0]]), 0) + 1
        n_k[cand[order[:k]]] += 1
    top = max(first, key=first.get)
    return {
        "queries": len(scores),
        "distinct_first": len(first),
        "most_first": first[top],
        "most_first_by": data.profiles[top]["name"],
        f"n{k}_skewness": round(float(skew(n_k)), 3),
    }


# -- held-out folds ----------------------------------------------------------------------------


def fold_models(
    data: LabelledSet,
    feats,
    folds: dict[int, int],
    k: int,
    subset: list[str],  # noqa: ANN001
) -> dict[int, Weights]:
    out = {}
    for f in range(k):
        train = [q for q in range(len(data.profiles)) if folds.get(q, -1) not in (-1, f)]
        out[f] = fit_subset(*training_lists(data, feats, train), subset)
    return out


def ranks_for(
    method: dict[int, np.ndarray], qs: list[dict], data: LabelledSet, feats
) -> np.ndarray:  # noqa: ANN001
    out = []
    for item in qs:
        other = data.other_country(item["q"])
        cand = feats.candidates[other]
        out.append(rank_of(method[item["q"]], cand, item["t"], item["drop"]))
    return np.array(out)


# -- through the HTTP API ----------------------------------------------------------------------


def api_ranks(
    data: LabelledSet, qs: list[dict], models: dict[int, RankerModel], workdir: Path
) -> np.ndarray:
    """Ranks from real ``matchmaker serve`` processes, one per fold's model (limit 100: a
    partner past the 100th place counts as not found)."""
    import httpx

    key = "quality-admin-key-0123456789"
    env = dict(os.environ, MATCHMAKER_DATA_DIR=str(workdir), MATCHMAKER_ADMIN_KEY=key)
    env["MATCHMAKER_RATE_LIMIT_ENABLED"] = "false"
    workdir.mkdir(parents=True, exist_ok=True)
    models_dir = workdir / "models"
    if not models_dir.exists():
        models_dir.symlink_to((ROOT / "data" / "models").resolve(), target_is_directory=True)
    port = 18731
    ids: list[str] = []
    ranks = np.full(len(qs), np.inf)
    for f in sorted(models):
        path = workdir / f"ranker-fold{f}.json"
        path.write_text(json.dumps(to_json(models[f], f"fold-{f}", "quality.py fold model")))
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "matchmaker"), "serve", "--port", str(port)],
            env=dict(env, MATCHMAKER_RANKER_MODEL=str(path)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as c:
                if not ids:
                    fields = (
                        "name",
                        "country",
                        "org_type",
                        "sectors",
                        "capabilities",
                        "needs",
                        "partnership_types",
                        "city",
                    )
                    body = {
                        "profiles": [{k: p[k] for k in fields if k in p} for p in data.profiles]
                    }
                    r = c.post("/v1/profiles/bulk", json=body)
                    r.raise_for_status()
                    ids = [item["id"] for item in r.json()["results"]]
                    time.sleep(1.0)
                pos = {pid: n for n, pid in enumerate(ids)}
                for n, item in enumerate(qs):
                    if item["fold"] != f:
                        continue
                    r = c.get(f"/v1/profiles/{ids[item['q']]}/matches", params={"limit": 100})
                    r.raise_for_status()
                    order = [pos[m["profile"]["id"]] for m in r.json()["matches"]]
                    kept = [p for p in order if p not in item["drop"]]
                    if item["t"] in kept:
                        ranks[n] = kept.index(item["t"]) + 1
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    return ranks


# -- graded judgements -------------------------------------------------------------------------


def graded_ndcg(encoder, models: dict[str, RankerModel]) -> dict[str, float]:  # noqa: ANN001
    """nDCG@10 of each method on the seeded registry's judged queries."""
    judged: dict[str, dict[str, int]] = {}
    with open(JUDGEMENTS, newline="") as fh:
        for row in csv.DictReader(fh):
            judged.setdefault(row["query"], {})[row["candidate"]] = int(row["grade"])
    profiles = [json.loads(line) for line in open(ROOT / "seed_data" / "profiles.jsonl")]
    for n, p in enumerate(profiles):
        p["key"] = f"seed-{n}"
    data = LabelledSet(profiles, [], [])
    with tempfile.TemporaryDirectory() as tmp:
        register(data, encoder, Path(tmp))
        # hub is the only feature that reads the model (its country means, the same in both)
        feats = features(data, next(iter(models.values())), "both")
        methods = baseline_scores(data, feats, encoder)
    for name, model in models.items():
        methods[name] = {q: model.kinds["both"].z(x) for q, x in feats.x.items()}
    out: dict = {"unjudged_in_top10": {}}
    for name, scores in methods.items():
        gains, unjudged = [], 0
        for q in feats.queries.tolist():
            grades = judged.get(profiles[q]["name"])
            if not grades:
                continue
            cand = feats.candidates[data.other_country(q)]
            top = cand[np.argsort(-scores[q], kind="stable")[:10]]
            unjudged += sum(profiles[c]["name"] not in grades for c in top.tolist())
            dcg = sum(
                (2 ** grades.get(profiles[c]["name"], 0) - 1) / math.log2(i + 2)
                for i, c in enumerate(top.tolist())
            )
            ideal = sorted(grades.values(), reverse=True)[:10]
            idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
            gains.append(dcg / idcg if idcg else 0.0)
        out[name] = round(float(np.mean(gains)), 4) if gains else None
        out["unjudged_in_top10"][name] = unjudged  # counted as grade 0 above
    out["queries"] = len(judged)
    return out


# -- main --------------------------------------------------------------------------------------


def table(rows: dict[str, dict], keys=("R@1", "R@5", "R@10", "MRR", "nDCG@10", "n")) -> str:  # noqa: ANN001
    lines = ["| method | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(str(m.get(k, "")) for k in keys) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--no-api", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "quality.json")
    a = ap.parse_args()
    t0 = time.perf_counter()
    load = os.getloadavg()
    data = load_set()
    encoder = make_encoder()
    work = Path(tempfile.mkdtemp(prefix="quality-"))
    log(f"registering {len(data.profiles)} profiles, {len(data.pairs)} pairs")
    register(data, encoder, work)
    means = country_means(data)  # unsupervised: no labels involved
    base = blank_model(*means)
    feats = features(data, base, "both")
    folds = data.folds(a.folds)
    qs = queries(data, folds)
    log(f"{len(qs)} queries; fitting {a.folds} folds x {len(ABLATIONS)} feature sets")

    methods: dict[str, dict[int, np.ndarray]] = {}
    fold_weights: dict[int, Weights] = {}
    for name, subset in ABLATIONS.items():
        models = fold_models(data, feats, folds, a.folds, list(subset))
        if name == "ours":
            fold_weights = models
        methods[name] = {q: models[folds[q]].z(x) for q, x in feats.x.items() if q in folds}
    # As /matches ranks: the FAISS pool (the ``candidate_pool`` best by the dense pair score),
    # each with every feature.
    pool = {}
    for q, x in feats.x.items():
        if q not in folds:
            continue
        keep = np.argsort(-x[:, F["dense_sum"]], kind="stable")[:POOL]
        s = np.full(len(x), -np.inf)
        s[keep] = fold_weights[folds[q]].z(x[keep])
        pool[q] = s
    methods[f"ours, pool {POOL} (as /matches)"] = pool
    methods |= baseline_scores(data, feats, encoder)

    ranks = {name: ranks_for(m, qs, data, feats) for name, m in methods.items()}
    if not a.no_api:
        log("HTTP: one matchmaker serve per fold")
        models = {
            f: RankerModel(f"fold-{f}", {k: w for k in KINDS}, *means)
            for f, w in fold_weights.items()
        }
        ranks["ours, through the HTTP API"] = api_ranks(data, qs, models, work / "api")
    best_bm25 = max(("BM25 whole", "BM25 needs>caps"), key=lambda n: metrics(ranks[n])["MRR"])
    ranks["BM25"] = ranks[best_bm25]

    third = np.array([q["third"] for q in qs])
    report = {
        "command": "python bench/quality.py" + (" --no-api" if a.no_api else ""),
        "set": {
            "profiles": len(data.profiles),
            "pairs": len(data.pairs),
            "queries": len(qs),
            "india_korea_pairs": int(sum(1 for t in data.third_country if not t)),
        },
        "folds": a.folds,
        "bm25_headline": best_bm25,
        "all": {n: metrics(r) for n, r in ranks.items()},
        "india_korea_only": {n: metrics(r[~third]) for n, r in ranks.items()},
        "sign_tests": {
            f"ours vs {b}": sign_test(ranks["ours"], ranks[b])
            for b in (
                "BM25",
                "BM25 whole",
                "BM25 needs>caps",
                "cosine (whole profile)",
                "old ranker (6370fbb)",
                V1_SET,
            )
        },
        "pool_recall@100": float(np.mean(ranks["dense pair score (FAISS)"] <= 100)),
        "loadavg": load,
    }
    shipped = load_shipped().kinds["both"]
    report["hubness"] = {
        name: hubness(s, data, feats)
        for name, s in {
            "ours (shipped model)": {q: shipped.z(x) for q, x in feats.x.items()},
            "BM25 whole": methods["BM25 whole"],
            "cosine (whole profile)": methods["cosine (whole profile)"],
            "dense pair score (FAISS)": methods["dense pair score (FAISS)"],
        }.items()
    }
    log("graded judgements (seeded registry)")
    if JUDGEMENTS.exists():
        report["graded_ndcg@10"] = graded_ndcg(
            encoder,
            {
                "ours (shipped model)": load_shipped(),
                "ranker v1 (the previous shipped model)": load_shipped(V1),
            },
        )
    report["seconds"] = round(time.perf_counter() - t0, 1)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\n## All {len(qs)} queries (held-out folds; filtered ranks)\n")
    print(table(report["all"]))
    print(f"\n## India-Korea pairs only ({int((~third).sum())} queries)\n")
    print(table(report["india_korea_only"]))
    print("\n## Sign tests (per-query reciprocal rank)\n")
    for k, v in report["sign_tests"].items():
        print(f"- {k}: {v['wins']} wins, {v['losses']} losses, {v['ties']} ties, p = {v['p']:.3g}")
    print(f"\nFAISS pool recall@100: {report['pool_recall@100']:.3f}")
    print("\n## Hubness (every profile a query, no labels)\n")
    for k, v in report["hubness"].items():
        print(f"- {k}: {v}")
    if "graded_ndcg@10" in report:
        print(
            f"\n## Graded nDCG@10 (seeded registry, {report['graded_ndcg@10']['queries']} queries)\n"
        )
        for k, v in report["graded_ndcg@10"].items():
            print(f"- {k}: {v}")
    print(f"\n{report['seconds']} s; loadavg at start {load}; wrote {a.out}")


if __name__ == "__main__":
    main()
