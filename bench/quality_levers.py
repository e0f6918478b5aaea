"""Ranking levers tried and not kept, on the same held-out folds as ``bench/quality.py``.

Command (from the repository root; about 3 minutes on 2 cores)::

    .venv/bin/python bench/quality_levers.py          # bench/results/quality_levers.json

Each lever is measured as ``quality.py`` measures the shipped features: fitted on four folds of
the real partnerships, scored on the fifth, filtered ranks, every candidate ranked. Printed:
MRR and R@5 of each lever beside ranker v2 ("ours"), and the gain of v2's two features over v1's
set on three different fold splittings (is it the split, or the features?).

* **CSLS-style hubness correction**: ``z(A, B) - lambda * mean of B's k best z`` over B's own
  candidate list (every profile's list scored by the same fold model).
* **Mutual rank**: ``-log rank of B in A's list - w * log rank of A in B's list``.
* **Per-query normalised copies** of every feature (minus the query's best) beside the raw ones.
* **Gradient-boosted trees** (scikit-learn ``HistGradientBoostingClassifier``, pointwise, on
  per-query normalised features), instead of the linear listwise model.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from quality import RESULTS, fold_models, metrics, queries, ranks_for
from ranker_data import (
    blank_model,
    country_means,
    features,
    fit_listwise,
    load_set,
    make_encoder,
    register,
    training_lists,
)

from service.matching.model import FEATURES

V2_ONLY = ("bm25_caps_caps", "bm25_needs_needs")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def summary(ranks: np.ndarray) -> dict[str, float]:
    m = metrics(ranks)
    return {"MRR": m["MRR"], "R@5": m["R@5"]}


def main() -> None:
    t0, load = time.perf_counter(), os.getloadavg()
    data = load_set()
    register(data, make_encoder(), Path(tempfile.mkdtemp(prefix="levers-")))
    feats = features(data, blank_model(*country_means(data)), "both")
    out: dict = {"command": "python bench/quality_levers.py", "loadavg": load, "levers": {}}

    # 1. v2's features against v1's, on three fold splittings
    out["v2_vs_v1_by_split"] = {}
    for seed in (0, 1, 2):
        folds = data.folds(5, seed=seed)
        qs = queries(data, folds)
        row = {}
        for name, subset in (
            ("v2", FEATURES),
            ("v1 set", [f for f in FEATURES if f not in V2_ONLY]),
        ):
            w = fold_models(data, feats, folds, 5, list(subset))
            scores = {q: w[folds[q]].z(x) for q, x in feats.x.items() if q in folds}
            row[name] = summary(ranks_for(scores, qs, data, feats))
        out["v2_vs_v1_by_split"][seed] = row
        log(f"split {seed}: {row}")

    folds = data.folds(5)
    qs = queries(data, folds)
    fold_w = fold_models(data, feats, folds, 5, list(FEATURES))
    # every profile's list scored by every fold's model (B's own list, for B's hubness)
    full = {f: {q: w.z(x) for q, x in feats.x.items()} for f, w in fold_w.items()}
    base = {q: full[folds[q]][q] for q in folds}
    levers = out["levers"]
    levers["ours (ranker v2)"] = summary(ranks_for(base, qs, data, feats))
    pos = {c: {p: i for i, p in enumerate(v.tolist())} for c, v in feats.candidates.items()}

    def other(q: int) -> str:
        return "KR" if data.profiles[q]["country"] == "IN" else "IN"

    for k in (5, 20):
        for lam in (0.25, 0.5, 1.0):
            s = {}
            for q in folds:
                z = full[folds[q]]
                hub = np.array([np.sort(z[c])[-k:].mean() for c in feats.candidates[other(q)]])
                s[q] = base[q] - lam * hub
            levers[f"CSLS k={k} lambda={lam}"] = summary(ranks_for(s, qs, data, feats))
    for wb in (0.5, 1.0):
        s = {}
        for q in folds:
            z = full[folds[q]]
            r_ab = np.argsort(np.argsort(-base[q])) + 1
            me = pos[data.profiles[q]["country"]][q]
            r_ba = np.array([1 + np.sum(z[c] > z[c][me]) for c in feats.candidates[other(q)]])
            s[q] = -np.log(r_ab) - wb * np.log(r_ba)
        levers[f"mutual rank w={wb}"] = summary(ranks_for(s, qs, data, feats))

    def refit(transform, names, fitter=None) -> dict[str, float]:  # noqa: ANN001
        x2 = {q: transform(x) for q, x in feats.x.items()}
        scores = {}
        for f in range(5):
            train = [q for q in range(len(data.profiles)) if folds.get(q, -1) not in (-1, f)]
            xs, ys = training_lists(data, feats, train)
            xs = [transform(x) for x in xs]
            model = fitter(xs, ys)
            scores |= {q: model(x2[q]) for q in folds if folds[q] == f}
        return summary(ranks_for(scores, qs, data, feats))

    def linear(names):  # noqa: ANN001, ANN202
        # raw features keep their bounds (MONOTONE names); the normalised copies are free
        return lambda xs, ys: fit_listwise(xs, ys, names=tuple(names)).z

    qnames = [*FEATURES, *(f"{f} (minus query best)" for f in FEATURES)]
    levers["per-query normalised copies"] = refit(
        lambda x: np.column_stack([x, x - x.max(0)]), qnames, linear(qnames)
    )

    def gbm(xs, ys):  # noqa: ANN001, ANN202
        from sklearn.ensemble import HistGradientBoostingClassifier

        m = HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.05, max_depth=3, min_samples_leaf=50, random_state=0
        ).fit(np.concatenate(xs), np.concatenate(ys))
        return lambda x: m.predict_proba(x)[:, 1]

    levers["gradient-boosted trees"] = refit(lambda x: x - x.max(0), FEATURES, gbm)
    for name, v in levers.items():
        log(f"{name:40s} MRR {v['MRR']:.3f}  R@5 {v['R@5']:.3f}")
    out["seconds"] = round(time.perf_counter() - t0, 1)
    path = RESULTS / "quality_levers.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
