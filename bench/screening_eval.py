"""Held-out precision and recall of sensitive-technology screening, per regime.

Command (from the repository root):

    .venv/bin/python bench/screening_eval.py [--folds 5] [--seed 0] [--fresh] [--write]

Data: seed_data/screening/labelled.csv, capability sentences written from public descriptions
of real products (source_kind), each with the category codes it falls in (empty: not
controlled; kind ``hard_negative`` marks the civil counterparts of controlled items).

Method: the real model encodes every sentence (vectors stored as float16, as profiles store
them); the real screener (service/screening/engine.py) gives each (sentence, category) its
features. Stratified k-fold cross-validation: on k-1 folds, fit the logistic weights
(scoring.fit_logistic) and choose each regime's threshold (the highest threshold whose training
recall reaches --recall-goal with training precision >= --min-precision; see ``fit``); on the
held-out fold, a sentence
is positive for a regime when a flagged category, with the categories it implies (ML5 ->
SCOMET-6), belongs to it. Reported: precision and recall per regime over the pooled held-out
predictions, and per fold. --fresh also fits on all of labelled.csv and scores
seed_data/screening/fresh.csv once: sentences written before the vocabulary and model they are
scored with, never used to choose anything (no term, example, weight or threshold). --write refits on all sentences and stores the model in
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
FRESH = ROOT / "seed_data" / "screening" / "fresh.csv"
GRID = np.concatenate(
    [np.round(np.arange(0.05, 0.99, 0.01), 2), [0.99, 0.993, 0.996, 0.998, 0.999]]
)


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


def fit(
    x: np.ndarray,
    y: np.ndarray,
    rows: list[dict],
    codes,
    regimes,
    min_precision: float,
    recall_goal: float,
):
    """Weights on (sentence, category) pairs, then a threshold per regime (the regimes reached
    only through implication, such as SCOMET 6 and 8, after the others).

    The operating point favours recall, as the issue asks (an official would rather review a
    false alarm than miss a controlled transfer): the highest threshold whose training recall
    reaches ``recall_goal`` with training precision >= ``min_precision``. When no threshold
    reaches the goal at that precision, the one with the highest recall at that precision (ties
    to the higher threshold); when none has that precision, the most precise one."""
    weights = scoring.fit_logistic(x.reshape(-1, x.shape[-1]), y.reshape(-1).astype(float))
    conf = scoring.confidence(x, weights)
    truth = regime_truth(rows, regimes)
    cuts = {r: 0.5 for r in regimes}
    order = sorted(regimes, key=lambda r: r == "scomet")
    for r in order:
        k = regimes.index(r)
        trials = []
        for t in GRID:
            m = pr(truth[:, k], regime_pred(conf, codes, cuts | {r: float(t)}, regimes)[:, k])
            trials.append((float(t), m["precision"] or 0.0, m["recall"] or 0.0))
        ok = [tr for tr in trials if tr[1] >= min_precision]
        goal = [tr for tr in ok if tr[2] >= recall_goal]
        if goal:
            cuts[r] = max(t for t, _, _ in goal)
        elif ok:
            cuts[r] = max(ok, key=lambda tr: (tr[2], tr[0]))[0]
        else:
            cuts[r] = max(trials, key=lambda tr: (tr[1], tr[0]))[0]
    return weights, cuts


def load(path: Path, screener: Screener) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Rows of a labelled file, their features and their (sentence × category) labels."""
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    codes = screener.codes
    texts = [r["text"] for r in rows]
    vecs = screener.encoder.encode_sentences(texts).astype(np.float16).astype(np.float32)
    x = screener.features(texts, vecs[:, None, :].reshape(len(texts), -1))
    y = np.zeros((len(rows), len(codes)))
    for i, r in enumerate(rows):
        for c in r["codes"].split():
            if c in codes:
                y[i, codes.index(c)] = 1
    return rows, x, y


def scored(rows: list[dict], truth: np.ndarray, pred: np.ndarray, regimes: list[str]) -> dict:
    any_truth, any_pred = truth.any(1), pred.any(1)
    hard = np.array([r["kind"] == "hard_negative" for r in rows])
    return {
        "sentences": len(rows),
        "controlled": int(any_truth.sum()),
        "hard_negatives": int(hard.sum()),
        "held_out": {r: pr(truth[:, k], pred[:, k]) for k, r in enumerate(regimes)}
        | {"any": pr(any_truth, any_pred)},
        "hard_negatives_flagged": int((hard & any_pred).sum()),
        "missed": [
            {"text": rows[i]["text"], "codes": rows[i]["codes"], "regimes": missed}
            for i in range(len(rows))
            if (missed := [r for k, r in enumerate(regimes) if truth[i, k] and not pred[i, k]])
        ],
        "false_alarms": [
            {"text": rows[i]["text"], "kind": rows[i]["kind"], "regimes": extra}
            for i in range(len(rows))
            if (extra := [r for k, r in enumerate(regimes) if pred[i, k] and not truth[i, k]])
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-precision", type=float, default=0.70)
    ap.add_argument("--recall-goal", type=float, default=0.95)
    ap.add_argument("--fresh", action="store_true", help="also score fresh.csv, fitted on all")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    result = header("screening_eval") | {"args": vars(args)}
    vocab = catalogue()
    regimes = list(vocab.regimes)
    settings = Settings(data_dir=ROOT / "data")
    screener = Screener(build_encoder(settings))
    codes = screener.codes
    rows, x, y = load(DATA, screener)
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
        weights, cuts = fit(x[tr], y[tr], sub, codes, regimes, args.min_precision, args.recall_goal)
        pred = regime_pred(scoring.confidence(x[te], weights), codes, cuts, regimes)
        held[te] = pred
        per_fold.append(
            {"fold": f, "thresholds": cuts, "weights": weights}
            | {r: pr(truth[te, k], pred[:, k]) for k, r in enumerate(regimes)}
        )
    result |= scored(rows, truth, held, regimes) | {"per_fold": per_fold}
    log("5-fold cross-validation on labelled.csv")
    for k, v in result["held_out"].items():
        log(f"{k:22s} precision {v['precision']}  recall {v['recall']}  ({v})")
    weights, cuts = fit(x, y, rows, codes, regimes, args.min_precision, args.recall_goal)
    model = {
        "name": "screening-v2",
        "note": "Fitted by bench/screening_eval.py --write on seed_data/screening/labelled.csv.",
        "vocabulary_version": vocab.version,
        "weights": {k: round(v, 4) for k, v in weights.items()},
        "thresholds": cuts,
    }
    result["model"] = model
    if args.fresh:
        frows, fx, _ = load(FRESH, screener)
        fconf = scoring.confidence(fx, model["weights"])
        fpred = regime_pred(fconf, codes, cuts, regimes)
        result["fresh"] = scored(frows, regime_truth(frows, regimes), fpred, regimes)
        log("fresh.csv, model fitted on all of labelled.csv")
        for k, v in result["fresh"]["held_out"].items():
            log(f"{k:22s} precision {v['precision']}  recall {v['recall']}  ({v})")
    if args.write:
        MODEL.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {MODEL}")
    write_result("screening_eval", result)


if __name__ == "__main__":
    main()
