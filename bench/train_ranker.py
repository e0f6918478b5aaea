"""Fit the ranker model on the whole labelled set and write it as the shipped model.

Command (from the repository root; about two minutes on 2 cores, most of it encoding)::

    .venv/bin/python bench/train_ranker.py                   # -> service/matching/data/ranker-v2.json

The model is fitted on every labelled pair; its held-out quality comes from ``bench/quality.py``,
which fits the same way on four folds and reports the fifth (five times). Weights fitted on
all pairs are what a user gets; the figures reported for them are the held-out ones.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from ranker_data import (
    ROOT,
    blank_model,
    country_means,
    features,
    fit_subset,
    load_set,
    make_encoder,
    register,
    training_lists,
)

from service.matching.model import FEATURES, KINDS, RankerModel, Weights

DEFAULT_OUT = ROOT / "service" / "matching" / "data" / "ranker-v2.json"


# A search that states one side ranks by how well the candidates answer that side (issue 18):
# a needs-only search by the candidates' offers, not by needs like its own; a capabilities-only
# search by the candidates' needs, not by offers like its own. Learned freely, the labelled
# pairs give both "alike" features positive weights (partners often share a field), which
# would rank a needs-only search by who else is looking for the same thing.
LEFT_OUT = {
    "both": (),
    "needs_only": ("needs_needs", "bm25_needs_needs"),
    "capabilities_only": ("caps_caps", "bm25_caps_caps"),
}


def fit_all(data, queries: list[int], means: tuple[dict, dict]) -> RankerModel:  # noqa: ANN001
    """A model fitted on ``queries`` (positions) for every kind of query."""
    model = blank_model(*means)
    kinds: dict[str, Weights] = {}
    for kind in KINDS:
        feats = features(data, model, kind)
        subset = [f for f in FEATURES if f not in LEFT_OUT[kind]]
        w = fit_subset(*training_lists(data, feats, queries), subset)
        # spread: the best candidate of a typical (median) query scores sigmoid(3) = 0.95
        top = np.median([w.z(feats.x[q]).max() for q in queries])
        kinds[kind] = Weights(w.w, w.mean, w.scale, float(max(top, 1e-6) / 3.0))
    return RankerModel("trained", kinds, *means)


def to_json(model: RankerModel, name: str, note: str) -> dict:
    return {
        "name": name,
        "note": note,
        "features": list(FEATURES),
        "kinds": {
            k: {
                "weights": w.w.tolist(),
                "mean": w.mean.tolist(),
                "scale": w.scale.tolist(),
                "temperature": w.temperature,
            }
            for k, w in model.kinds.items()
        },
        "mean_caps": {
            c: np.asarray(v, float).round(6).tolist() for c, v in model.mean_caps.items()
        },
        "mean_needs": {
            c: np.asarray(v, float).round(6).tolist() for c, v in model.mean_needs.items()
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--name", default="ranker-v2")
    a = ap.parse_args()
    t0 = time.perf_counter()
    data = load_set()
    with tempfile.TemporaryDirectory() as tmp:
        register(data, make_encoder(), Path(tmp))
        means = country_means(data)
        model = fit_all(data, list(range(len(data.profiles))), means)
    note = (
        f"listwise linear model fitted on all {len(data.pairs)} labelled pairs of "
        f"seed_data/real ({len(data.profiles)} profiles) by bench/train_ranker.py"
    )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(to_json(model, a.name, note), indent=1) + "\n")
    print(f"wrote {a.out} in {time.perf_counter() - t0:.0f} s")
    for k, w in model.kinds.items():
        print(k, dict(zip(FEATURES, np.round(w.w, 3).tolist(), strict=True)))


if __name__ == "__main__":
    main()
