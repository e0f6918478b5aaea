"""Ranking levers tried and not kept, on the same held-out folds as ``bench/quality.py``.

Command (from the repository root; about 20 seconds on 2 idle cores)::

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

Three more levers are extra columns beside the shipped features, each symmetric in the two
profiles, the listwise model refitted on them per fold (their weights free in sign); each is
also reported on fold seeds 1 and 2, beside "ours" on the same splits. ``s(A -> B)`` is A's
text against B's, ``s(A -> B) + s(B -> A)`` the column:

* **BM25 field variants**: three columns, ``bm25(A's needs -> B's whole text)``,
  ``bm25(A's capabilities -> B's whole text)`` and ``max over B's capability sentences s of
  bm25(A's needs -> s)`` (each sentence, as ``Encoder.split`` cuts it, a document of its own);
  bm25s defaults (k1 1.5, b 0.75, Lucene idf) over the stemmed words of
  ``embeddings.lexical.words``, one index per country (B's side).
* **Need-intent matching**: for the 14 generic intents of ``bench/data_intents.json`` (written
  before any labelled pair was looked at), ``need_k(P)`` = highest cosine of P's need sentences
  to intent k's need description, ``offer_k(P)`` the same of its capability sentences to the
  offer description; ``n_k = max(0, z(need_k))`` and ``o_k = max(0, z(offer_k))``, z-scored
  over every profile of the set (no labels); column ``sum_k n_k(A) o_k(B) + n_k(B) o_k(A)``.
* **The other country named**: ``log(1 + mentions of B's country in A's text) + log(1 +
  mentions of A's country in B's text)`` ("India", "Indian(s)"; "Korea", "Korean(s)"; in
  capabilities and needs).

**In-sample ceiling** (a diagnostic that reads the labels; not a held-out figure, never a
result to compare with the others): the listwise model fitted on ALL pairs and scored on those
same pairs, with the shipped features, and with the shipped features plus every column of the
three levers above (five columns). What a linear model on these features could reach at best;
the fit minimises the listwise loss (L2 1e-2), not MRR, so more columns may score lower.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from quality import RESULTS, fold_models, metrics, queries, ranks_for
from ranker_data import (
    Features,
    LabelledSet,
    blank_model,
    country_means,
    features,
    fit_listwise,
    load_set,
    make_encoder,
    register,
    training_lists,
)

from embeddings.encoder import DocumentEmbedding, Encoder
from embeddings.lexical import words
from service.matching.model import FEATURES

V2_ONLY = ("bm25_caps_caps", "bm25_needs_needs")
INTENTS = Path(__file__).resolve().parent / "data_intents.json"
NAMED = {"IN": re.compile(r"\bindia(n|ns)?\b", re.I), "KR": re.compile(r"\bkorea(n|ns)?\b", re.I)}
Column = dict[int, np.ndarray]  # query position -> one value per candidate of the other country
Fitter = Callable[[list[np.ndarray], list[np.ndarray]], Callable[[np.ndarray], np.ndarray]]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def summary(ranks: np.ndarray) -> dict[str, float]:
    m = metrics(ranks)
    return {"MRR": m["MRR"], "R@5": m["R@5"]}


def refit(
    data: LabelledSet,
    feats: Features,
    folds: dict[int, int],
    fitter: Fitter,
    transform: Callable[[np.ndarray], np.ndarray] = lambda x: x,
) -> dict[int, np.ndarray]:
    """Held-out scores of every query in a pair: ``fitter`` on the (transformed) training lists
    of the four other folds, as ``quality.fold_models``."""
    x2 = {q: transform(x) for q, x in feats.x.items()}
    scores = {}
    for f in range(5):
        train = [q for q in range(len(data.profiles)) if folds.get(q, -1) not in (-1, f)]
        xs, ys = training_lists(data, feats, train)
        model = fitter([transform(x) for x in xs], ys)
        scores |= {q: model(x2[q]) for q in folds if folds[q] == f}
    return scores


def linear(names: list[str]) -> Fitter:
    # raw features keep their bounds (MONOTONE names); the other columns are free
    return lambda xs, ys: fit_listwise(xs, ys, names=tuple(names)).z


# -- extra columns (none reads a label) ----------------------------------------------------------


def with_columns(feats: Features, cols: dict[str, Column]) -> tuple[Features, list[str]]:
    """``feats`` with ``cols`` beside the shipped features, and the names of all columns."""
    x = {q: np.column_stack([x, *(c[q] for c in cols.values())]) for q, x in feats.x.items()}
    return Features(feats.queries, feats.candidates, x, feats.pfit), [*FEATURES, *cols]


def both_ways(data: LabelledSet, feats: Features, mat: dict[tuple[str, str], np.ndarray]) -> Column:
    """``mat[X, Y][i, j]``: score of X's i-th candidate-list profile towards Y's j-th. Per query
    A of X: ``mat[X, Y][A] + mat[Y, X][:, A]``."""
    row = {c: {p: n for n, p in enumerate(v.tolist())} for c, v in feats.candidates.items()}
    out = {}
    for q in feats.queries.tolist():
        x, y = data.profiles[q]["country"], data.other_country(q)
        i = row[x][q]
        out[q] = mat[x, y][i] + mat[y, x][:, i]
    return out


class StemmedBm25:
    """bm25s (defaults) over documents already cut into ``embeddings.lexical.words``."""

    def __init__(self, docs: list[list[str]]) -> None:
        import bm25s

        self.model = bm25s.BM25()
        self.model.index([d or [""] for d in docs], show_progress=False)
        self.n = len(docs)

    def scores(self, toks: list[str]) -> np.ndarray:
        known = [t for t in toks if t and t in self.model.vocab_dict]
        return self.model.get_scores(known) if known else np.zeros(self.n)


def bm25_fields(
    data: LabelledSet, feats: Features, cap_docs: list[DocumentEmbedding]
) -> dict[str, Column]:
    caps = [words(p["capabilities"]) for p in data.profiles]
    needs = [words(p["needs"]) for p in data.profiles]
    whole = [c + n for c, n in zip(caps, needs, strict=True)]
    sents = [[words(s) for s in d.sentences] for d in cap_docs]
    nw, cw, ns = {}, {}, {}
    for x, qx in feats.candidates.items():
        for y, dy in feats.candidates.items():
            if x == y:
                continue
            idx = StemmedBm25([whole[j] for j in dy.tolist()])
            nw[x, y] = np.stack([idx.scores(needs[i]) for i in qx.tolist()])
            cw[x, y] = np.stack([idx.scores(caps[i]) for i in qx.tolist()])
            owner = np.array([n for n, j in enumerate(dy.tolist()) for _ in sents[j]])
            idx = StemmedBm25([s for j in dy.tolist() for s in sents[j]])
            ns[x, y] = np.zeros((len(qx), len(dy)))
            for r, i in enumerate(qx.tolist()):
                np.maximum.at(ns[x, y][r], owner, idx.scores(needs[i]))
    return {
        "bm25 needs>whole": both_ways(data, feats, nw),
        "bm25 caps>whole": both_ways(data, feats, cw),
        "bm25 needs>caps sentence": both_ways(data, feats, ns),
    }


def intent_match(
    data: LabelledSet,
    feats: Features,
    encoder: Encoder,
    cap_docs: list[DocumentEmbedding],
    need_docs: list[DocumentEmbedding],
) -> dict[str, Column]:
    intents = json.loads(INTENTS.read_text())["intents"]
    nd = encoder.encode_sentences([i["need"] for i in intents])
    od = encoder.encode_sentences([i["offer"] for i in intents])
    need = np.stack([(d.sentence_vectors @ nd.T).max(axis=0) for d in need_docs])
    offer = np.stack([(d.sentence_vectors @ od.T).max(axis=0) for d in cap_docs])

    def zplus(a: np.ndarray) -> np.ndarray:
        return np.maximum((a - a.mean(0)) / a.std(0), 0)

    n, o = zplus(need), zplus(offer)
    out = {}
    for q in feats.queries.tolist():
        c = feats.candidates[data.other_country(q)]
        out[q] = o[c] @ n[q] + n[c] @ o[q]
    return {"need intents": out}


def country_named(data: LabelledSet, feats: Features) -> dict[str, Column]:
    text = [p["capabilities"] + " " + p["needs"] for p in data.profiles]
    cnt = {c: np.array([len(rx.findall(t)) for t in text], float) for c, rx in NAMED.items()}
    out = {}
    for q in feats.queries.tolist():
        x, y = data.profiles[q]["country"], data.other_country(q)
        out[q] = np.log1p(cnt[x][feats.candidates[y]]) + np.log1p(cnt[y][q])
    return {"names the other country": out}


def main() -> None:
    t0, load = time.perf_counter(), os.getloadavg()
    data = load_set()
    encoder = make_encoder()
    register(data, encoder, Path(tempfile.mkdtemp(prefix="levers-")))
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

    for k in (5, 20):
        for lam in (0.25, 0.5, 1.0):
            s = {}
            for q in folds:
                z = full[folds[q]]
                cand = feats.candidates[data.other_country(q)]
                hub = np.array([np.sort(z[c])[-k:].mean() for c in cand])
                s[q] = base[q] - lam * hub
            levers[f"CSLS k={k} lambda={lam}"] = summary(ranks_for(s, qs, data, feats))
    for wb in (0.5, 1.0):
        s = {}
        for q in folds:
            z = full[folds[q]]
            r_ab = np.argsort(np.argsort(-base[q])) + 1
            me = pos[data.profiles[q]["country"]][q]
            cand = feats.candidates[data.other_country(q)]
            r_ba = np.array([1 + np.sum(z[c] > z[c][me]) for c in cand])
            s[q] = -np.log(r_ab) - wb * np.log(r_ba)
        levers[f"mutual rank w={wb}"] = summary(ranks_for(s, qs, data, feats))

    qnames = [*FEATURES, *(f"{f} (minus query best)" for f in FEATURES)]
    scores = refit(data, feats, folds, linear(qnames), lambda x: np.column_stack([x, x - x.max(0)]))
    levers["per-query normalised copies"] = summary(ranks_for(scores, qs, data, feats))

    def gbm(xs: list[np.ndarray], ys: list[np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
        from sklearn.ensemble import HistGradientBoostingClassifier

        m = HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.05, max_depth=3, min_samples_leaf=50, random_state=0
        ).fit(np.concatenate(xs), np.concatenate(ys))
        return lambda x: m.predict_proba(x)[:, 1]

    scores = refit(data, feats, folds, gbm, lambda x: x - x.max(0))
    levers["gradient-boosted trees"] = summary(ranks_for(scores, qs, data, feats))

    # 2. extra columns: on fold seed 0 beside the others, and on seeds 1 and 2 beside "ours"
    log("extra columns: BM25 field variants, need intents, the other country named")
    cap_docs = encoder.embed_documents([p["capabilities"] for p in data.profiles])
    need_docs = encoder.embed_documents([p["needs"] for p in data.profiles])
    new = {
        "BM25 field variants (needs>whole, caps>whole, needs>caps sentence)": bm25_fields(
            data, feats, cap_docs
        ),
        "need-intent matching (14 intents, z+)": intent_match(
            data, feats, encoder, cap_docs, need_docs
        ),
        "the other country named": country_named(data, feats),
    }
    out["new_levers_by_split"] = {}
    for seed in (0, 1, 2):
        folds = data.folds(5, seed=seed)
        qs = queries(data, folds)
        if seed:
            w = fold_models(data, feats, folds, 5, list(FEATURES))
            scores = {q: w[folds[q]].z(x) for q, x in feats.x.items() if q in folds}
        else:
            scores = base  # seed 0: "ours" above
        row = {"ours (ranker v2)": summary(ranks_for(scores, qs, data, feats))}
        for name, cols in new.items():
            fs, names = with_columns(feats, cols)
            row[name] = summary(ranks_for(refit(data, fs, folds, linear(names)), qs, data, fs))
            if seed == 0:
                levers[name] = row[name]
        out["new_levers_by_split"][seed] = row
        log(f"split {seed}: {row}")

    # 3. in-sample ceiling: reads the labels (fitted and scored on the same pairs)
    qs = queries(data, data.folds(5))  # every query of every pair (the folds play no part)
    allcols = {k: v for cols in new.values() for k, v in cols.items()}
    ceiling = {"note": "IN-SAMPLE, reads the labels: fitted on all pairs, scored on the same"}
    for name, (fs, names) in (
        ("shipped features", (feats, list(FEATURES))),
        (f"shipped features + every lever column ({len(allcols)})", with_columns(feats, allcols)),
    ):
        w = fit_listwise(
            *training_lists(data, fs, list(range(len(data.profiles)))), names=tuple(names)
        )
        scores = {q: w.z(x) for q, x in fs.x.items()}
        ceiling[name] = summary(ranks_for(scores, qs, data, fs))
    out["in_sample_ceiling_reads_labels"] = ceiling

    n = max(map(len, levers)) + 8
    for name, v in levers.items():
        log(f"{name:{n}s} MRR {v['MRR']:.3f}  R@5 {v['R@5']:.3f}")
    for seed, row in out["new_levers_by_split"].items():
        for name, v in row.items():
            log(f"{f'seed {seed}: {name}':{n}s} MRR {v['MRR']:.3f}  R@5 {v['R@5']:.3f}")
    log("IN-SAMPLE CEILING (reads the labels; not held-out, not comparable with the rows above):")
    for name, v in ceiling.items():
        if name != "note":
            log(f"{f'  {name}':{n}s} MRR {v['MRR']:.3f}  R@5 {v['R@5']:.3f}")
    out["seconds"] = round(time.perf_counter() - t0, 1)
    path = RESULTS / "quality_levers.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
