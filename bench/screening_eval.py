"""Held-out precision and recall of sensitive-technology screening, per regime.

Command (from the repository root):

    .venv/bin/python bench/screening_eval.py [--folds 5] [--seed 0] [--write]

Data: seed_data/screening/labelled.csv, capability sentences written from public descriptions
of real products (source_kind), each with the category codes it falls in (empty: not
controlled; kind ``hard_negative`` marks the civil counterparts of controlled items).

Method: the real model encodes every sentence (vectors stored as float16, as profiles store
them); the real screener (service/screening/engine.py) gives each (sentence, category) its
features. Stratified k-fold cross-validation: on k-1 folds, fit the logistic weights
(scoring.fit_logistic) and choose each regime's threshold (the highest recall with training
precision >= --min-precision, ties to the higher threshold); on the held-out fold, a sentence
is positive for a regime when a flagged category, with the categories it implies (ML5 ->
SCOMET-6), belongs to it. Reported: precision and recall per regime over the pooled held-out
predictions, and per fold. --write refits on all sentences and stores the model in
service/screening/data/screening-model.json (what the service uses).
Writes bench/results/screening_eval.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import ROOT, header, log, write_result  # noqa: E402

from service.bootstrap import build_encoder  # noqa: E402
from service.config import Settings  # noqa: E402
from service.controls import catalogue  # noqa: E402
from service.screening import scoring  # noqa: E402
from service.screening.engine import MODEL, Screener  # noqa: E402

DATA = ROOT / "seed_data" / "screening" / "labelled.csv"
GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)


def regime_truth(rows: list[dict], regimes: list[str]) -> np.ndarray:
    vocab = catalogue()
    out = np.zeros((len(rows), len(regimes)), bool)
    for i, r in enumerate(rows):
        for code in vocab.closure(r["codes"].split()):
            out[i, regimes.index(vocab.categories[code].regime)] = True
    return out


def regime_pred(
    conf: np.ndarray, codes: list[str], cuts: dict[str, float], regimes: list[str]
) -> np.ndarray:
    vocab = catalogue()
    cut = np.array([cuts[vocab.categories[c].regime] for c in codes])
    hit = conf >= cut[None, :]
    out = np.zeros((conf.shape[0], len(regimes)), bool)
    for i in range(conf.shape[0]):
        for code in vocab.closure([codes[j] for j in np.flatnonzero(hit[i])]):
            out[i, regimes.index(vocab.categories[code].regime)] = True
    return out


def pr(truth: np.ndarray, pred: np.ndarray) -> dict:
    tp = int((truth & pred).sum())
    fp = int((~truth & pred).sum())
    fn = int((truth & ~pred).sum())
    return {
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def fit(x: np.ndarray, y: np.ndarray, rows: list[dict], codes, regimes, min_precision: float):
    """Weights on (sentence, category) pairs, then thresholds per regime (the regimes reached
    only through implication, such as SCOMET 6 and 8, after the others)."""
    weights = scoring.fit_logistic(x.reshape(-1, x.shape[-1]), y.reshape(-1).astype(float))
    conf = scoring.confidence(x, weights)
    truth = regime_truth(rows, regimes)
    cuts = {r: 0.5 for r in regimes}
    order = sorted(regimes, key=lambda r: r == "scomet")
    for r in order:
        k = regimes.index(r)
        best = None
        for t in GRID:
            trial = cuts | {r: float(t)}
            m = pr(truth[:, k], regime_pred(conf, codes, trial, regimes)[:, k])
            if m["precision"] is None or m["precision"] < min_precision:
                continue
            key = (m["recall"] or 0, t)
            if best is None or key >= best[0]:
                best = (key, float(t))
        cuts[r] = best[1] if best else 0.95
    return weights, cuts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-precision", type=float, default=0.75)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    result = header("screening_eval") | {"args": vars(args)}
    rows = list(csv.DictReader(DATA.open(encoding="utf-8")))
    vocab = catalogue()
    regimes = list(vocab.regimes)
    settings = Settings(data_dir=ROOT / "data")
    screener = Screener(build_encoder(settings))
    codes = screener.codes
    texts = [r["text"] for r in rows]
    vecs = screener.encoder.encode_sentences(texts).astype(np.float16).astype(np.float32)
    x = screener.features(texts, vecs[:, None, :].reshape(len(texts), -1))
    y = np.zeros((len(rows), len(codes)))
    for i, r in enumerate(rows):
        for c in r["codes"].split():
            if c in codes:
                y[i, codes.index(c)] = 1
    truth = regime_truth(rows, regimes)
    rng = np.random.default_rng(args.seed)
    fold = np.zeros(len(rows), int)
    for kind in sorted({r["kind"] for r in rows}):  # stratified by kind
        idx = rng.permutation([i for i, r in enumerate(rows) if r["kind"] == kind])
        fold[idx] = np.arange(len(idx)) % args.folds
    held = np.zeros_like(truth)
    per_fold = []
    for f in range(args.folds):
        tr, te = fold != f, fold == f
        sub = [r for r, keep in zip(rows, tr, strict=True) if keep]
        weights, cuts = fit(x[tr], y[tr], sub, codes, regimes, args.min_precision)
        pred = regime_pred(scoring.confidence(x[te], weights), codes, cuts, regimes)
        held[te] = pred
        per_fold.append(
            {"fold": f, "thresholds": cuts, "weights": weights}
            | {r: pr(truth[te, k], pred[:, k]) for k, r in enumerate(regimes)}
        )
    any_truth, any_pred = truth.any(1), held.any(1)
    hard = np.array([r["kind"] == "hard_negative" for r in rows])
    result |= {
        "sentences": len(rows),
        "controlled": int(any_truth.sum()),
        "hard_negatives": int(hard.sum()),
        "held_out": {r: pr(truth[:, k], held[:, k]) for k, r in enumerate(regimes)}
        | {"any": pr(any_truth, any_pred)},
        "hard_negatives_flagged": int((hard & any_pred).sum()),
        "per_fold": per_fold,
        "missed": [rows[i]["text"] for i in np.flatnonzero(any_truth & ~any_pred)],
        "false_alarms": [rows[i]["text"] for i in np.flatnonzero(~any_truth & any_pred)],
    }
    for k, v in result["held_out"].items():
        log(f"{k:22s} precision {v['precision']}  recall {v['recall']}  ({v})")
    if args.write:
        weights, cuts = fit(x, y, rows, codes, regimes, args.min_precision)
        model = {
            "name": "screening-v1",
            "note": "Fitted by bench/screening_eval.py --write on seed_data/screening/labelled.csv.",
            "vocabulary_version": vocab.version,
            "weights": {k: round(v, 4) for k, v in weights.items()},
            "thresholds": cuts,
        }
        MODEL.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
        result["model"] = model
        log(f"wrote {MODEL}")
    write_result("screening_eval", result)


if __name__ == "__main__":
    main()
