"""A candidate screening model tried against screening-v2, and not shipped: logistic regression
on the sentence vector plus the three features of screening-v2, per regime.

Command (from the repository root):

    .venv/bin/python bench/screening_v3_trial.py [--fresh]

Same sentences, vectors (the service's encoder, stored as float16 as profiles store them),
features and folds as bench/screening_eval.py (5 folds stratified by kind, seed 0), same
per-regime scoring (a sentence is positive for a regime when a flagged category, with those it
implies, belongs to it). Two forms, both scikit-learn ``LogisticRegression`` with
``class_weight="balanced"`` on standardised inputs, C chosen from a grid by inner
cross-validation (average precision) on the training folds only:

* ``per_regime_category`` (the candidate; drop-in for the service, a dot product and a
  sigmoid per category): for each regime, one model over (sentence, category of that regime)
  pairs, inputs the 384-d sentence vector and the category's cosine, term and civil features,
  label whether the sentence falls in that category. Inner folds grouped by sentence.
* ``per_regime_sentence``: for each regime, one model over sentences, inputs the vector and
  the regime's highest cosine, any term hit, and the civil cue of its closest category; label
  whether the sentence falls in the regime (SCOMET: with implied categories).

Thresholds: chosen on out-of-fold predictions of an inner cross-validation inside the
training folds (the in-sample predictions of a 387-input model are near-separable and would
put the thresholds too high), by the rule of screening_eval.py: the highest threshold with
training recall >= --recall-goal at training precision >= 0.70, else the best recall at that
precision. --fresh fits the candidate on all of labelled.csv and scores fresh.csv once.
Writes bench/results/screening_v3_trial.json.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, header, log, write_result  # noqa: E402
from screening_eval import figures, pr  # noqa: E402  (the same reporting as screening-v2's)

from service.bootstrap import build_encoder  # noqa: E402
from service.config import Settings  # noqa: E402
from service.controls import catalogue  # noqa: E402
from service.screening.engine import Screener  # noqa: E402

DATA = ROOT / "seed_data" / "screening" / "labelled.csv"
FRESH = ROOT / "seed_data" / "screening" / "fresh.csv"


# The helpers of bench/screening_eval.py as they were when this trial was run (screening-v2,
# labelled.csv only), so that its figures still reproduce.
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


C_CATEGORY = [0.01, 0.1, 1.0]
C_SENTENCE = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]


def pipeline(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    )


def tune(z, y, grid, cv, groups=None):
    """C by inner CV, the fitted estimator, and out-of-fold probabilities at that C."""
    from sklearn.model_selection import GridSearchCV, cross_val_predict

    gs = GridSearchCV(
        pipeline(1.0), {"logisticregression__C": grid}, cv=cv, scoring="average_precision"
    ).fit(z, y, groups=groups)
    c = gs.best_params_["logisticregression__C"]
    oof = cross_val_predict(pipeline(c), z, y, cv=cv, groups=groups, method="predict_proba")
    return gs.best_estimator_, c, oof[:, 1]


def choose(trials, min_precision, goal) -> float:
    ok = [t for t in trials if t[1] >= min_precision]
    reached = [t for t in ok if t[2] >= goal]
    if reached:
        return max(t for t, _, _ in reached)
    if ok:
        return max(ok, key=lambda t: (t[2], t[0]))[0]
    return max(trials, key=lambda t: (t[1], t[0]))[0]


class Data:
    def __init__(self, path: Path, screener: Screener, regimes: list[str]) -> None:
        vocab = catalogue()
        self.rows = list(csv.DictReader(path.open(encoding="utf-8")))
        texts = [r["text"] for r in self.rows]
        self.v = screener.encoder.encode_sentences(texts).astype(np.float16).astype(np.float32)
        self.x = screener.base_features(texts, self.v)
        self.truth = regime_truth(self.rows, regimes)
        codes = screener.codes
        self.y = np.zeros((len(self.rows), len(codes)))
        for i, r in enumerate(self.rows):
            for c in r["codes"].split():
                if c in codes:
                    self.y[i, codes.index(c)] = 1
        self.reg_of = np.array([vocab.categories[c].regime for c in codes])


class PerRegimeCategory:
    """The candidate: confidence of (sentence, category) = sigmoid(b_R + w_R·v + a_R·f_c)."""

    def __init__(self, codes, regimes, reg_of, min_precision, goal):
        self.codes, self.regimes, self.reg_of = codes, regimes, reg_of
        self.min_precision, self.goal = min_precision, goal

    def inputs(self, v, x, k):
        m = np.flatnonzero(self.reg_of == self.regimes[k])
        z = np.hstack([np.repeat(v, len(m), axis=0), x[:, m, :].reshape(len(v) * len(m), -1)])
        return z, m, np.repeat(np.arange(len(v)), len(m))

    def fit(self, v, x, y, truth):
        from sklearn.model_selection import StratifiedGroupKFold

        self.models, self.c = {}, {}
        oof = np.zeros((len(v), len(self.codes)))
        for k, r in enumerate(self.regimes):
            z, m, g = self.inputs(v, x, k)
            yy = y[:, m].reshape(-1).astype(int)
            if yy.sum() < 4:
                continue
            cv = StratifiedGroupKFold(3, shuffle=True, random_state=0)
            est, c, p = tune(z, yy, C_CATEGORY, cv, groups=g)
            self.models[k], self.c[r] = (est, m), c
            oof[:, m] = p.reshape(len(v), len(m))
        cuts = {r: 0.5 for r in self.regimes}
        for r in sorted(self.regimes, key=lambda r: r == "scomet"):  # SCOMET after ML, DU
            k = self.regimes.index(r)
            trials = []
            for t in GRID:
                pred = regime_pred(oof, self.codes, cuts | {r: float(t)}, self.regimes)[:, k]
                m = pr(truth[:, k], pred)
                trials.append((float(t), m["precision"] or 0.0, m["recall"] or 0.0))
            cuts[r] = choose(trials, self.min_precision, self.goal)
        self.cuts = cuts
        return self

    def predict(self, v, x):
        conf = np.zeros((len(v), len(self.codes)))
        for k, (est, m) in self.models.items():
            z, _, _ = self.inputs(v, x, k)
            conf[:, m] = est.predict_proba(z)[:, 1].reshape(len(v), len(m))
        return regime_pred(conf, self.codes, self.cuts, self.regimes)


class PerRegimeSentence:
    """The alternative: P(sentence in regime R) = sigmoid(b_R + w_R·v + a_R·g_R)."""

    def __init__(self, codes, regimes, reg_of, min_precision, goal):
        self.regimes, self.reg_of = regimes, reg_of
        self.min_precision, self.goal = min_precision, goal

    def inputs(self, v, x, k):
        m = self.reg_of == self.regimes[k]
        cos, term, civil = x[:, m, 0], x[:, m, 1], x[:, m, 2]
        best = civil[np.arange(len(v)), cos.argmax(1)]
        return np.hstack([v, cos.max(1)[:, None], term.max(1)[:, None], best[:, None]])

    def fit(self, v, x, y, truth):
        from sklearn.model_selection import StratifiedKFold

        self.models, self.cuts, self.c = {}, {}, {}
        for k, r in enumerate(self.regimes):
            yy = truth[:, k].astype(int)
            cv = StratifiedKFold(4, shuffle=True, random_state=0)
            est, c, p = tune(self.inputs(v, x, k), yy, C_SENTENCE, cv)
            trials = []
            for t in GRID:
                m = pr(truth[:, k], p >= t)
                trials.append((float(t), m["precision"] or 0.0, m["recall"] or 0.0))
            self.models[k], self.c[r] = est, c
            self.cuts[r] = choose(trials, self.min_precision, self.goal)
        return self

    def predict(self, v, x):
        out = np.zeros((len(v), len(self.regimes)), bool)
        for k, r in enumerate(self.regimes):
            p = self.models[k].predict_proba(self.inputs(v, x, k))[:, 1]
            out[:, k] = p >= self.cuts[r]
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-precision", type=float, default=0.70)
    ap.add_argument("--recall-goal", type=float, default=0.95)
    ap.add_argument("--fresh", action="store_true", help="fit the candidate on all, score fresh")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    result = header("screening_v3_trial") | {"args": vars(args)}
    regimes = list(catalogue().regimes)
    screener = Screener(build_encoder(Settings(data_dir=ROOT / "data")))
    codes = screener.codes
    d = Data(DATA, screener, regimes)
    rng = np.random.default_rng(args.seed)  # the folds of screening_eval.py
    fold = np.zeros(len(d.rows), int)
    for kind in sorted({r["kind"] for r in d.rows}):
        idx = rng.permutation([i for i, r in enumerate(d.rows) if r["kind"] == kind])
        fold[idx] = np.arange(len(idx)) % args.folds
    forms = {"per_regime_category": PerRegimeCategory, "per_regime_sentence": PerRegimeSentence}
    for name, form in forms.items():
        t0 = time.time()
        held = np.zeros_like(d.truth)
        per_fold = []
        for f in range(args.folds):
            tr, te = fold != f, fold == f
            m = form(codes, regimes, d.reg_of, args.min_precision, args.recall_goal)
            m.fit(d.v[tr], d.x[tr], d.y[tr], d.truth[tr])
            held[te] = m.predict(d.v[te], d.x[te])
            per_fold.append({"fold": f, "C": m.c, "thresholds": m.cuts})
        result[name] = {"cv": figures(d.rows, d.truth, held, regimes), "per_fold": per_fold}
        log(f"{name}: 5-fold cross-validation on labelled.csv ({time.time() - t0:.0f} s)")
        for k, v in result[name]["cv"]["held_out"].items():
            log(f"  {k:22s} precision {v['precision']}  recall {v['recall']}  ({v})")
    if args.fresh:
        m = PerRegimeCategory(codes, regimes, d.reg_of, args.min_precision, args.recall_goal)
        m.fit(d.v, d.x, d.y, d.truth)
        fd = Data(FRESH, screener, regimes)
        result["per_regime_category"]["fresh"] = figures(
            fd.rows, fd.truth, m.predict(fd.v, fd.x), regimes
        ) | {"C": m.c, "thresholds": m.cuts}
        log("per_regime_category fitted on all of labelled.csv: fresh.csv")
        for k, v in result["per_regime_category"]["fresh"]["held_out"].items():
            log(f"  {k:22s} precision {v['precision']}  recall {v['recall']}  ({v})")
    write_result("screening_v3_trial", result)


if __name__ == "__main__":
    main()
