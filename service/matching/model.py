"""The ranker model: a linear score over the pair features, learned from real partnerships.

The model is data (``service/matching/data/ranker-<version>.json``), written by
``bench/train_ranker.py`` and versioned by name. It holds, for each kind of query, the features'
weights with the mean and scale they were standardised by::

    z     = sum_i  w_i * (x_i - mean_i) / scale_i        # x: the pair's features
    score = 1 / (1 + exp(-z / T))                       # in (0, 1); best first

``T`` (per kind) only spreads the scores: it is set so that the best candidate of a typical
training query scores about 0.95, an average candidate 0.5; it never changes an order.

``both`` scores registered profiles and searches that state needs and capabilities;
``needs_only`` and ``capabilities_only`` score searches that state one side, trained with the
other side left empty. The weights were fitted listwise (softmax over each query's candidates,
the true partners as targets) on the labelled set in ``seed_data/real``.

The model also holds each country's mean capability and need vectors: ``hub`` measures how
close a profile sits to the average of what the other country needs and offers, which lets
the model discount generalists that are close to everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
DEFAULT_MODEL = DATA / "ranker-v2.json"
# The features, in the order of the weights. Each is symmetric in the two profiles.
FEATURES = (
    "dense_sum",  # cos(A.needs, B.caps) + cos(B.needs, A.caps)
    "dense_min",  # min of the two: both must gain
    "caps_caps",  # cos(A.caps, B.caps): alike offers (competitors, or the same field)
    "needs_needs",  # cos(A.needs, B.needs): they look for the same things
    "hub",  # h(A) + h(B), h = closeness to the other country's mean needs and offers
    "bm25_needs",  # BM25 of each side's needs against the other's capabilities, summed
    "bm25_whole",  # BM25 of the whole texts, both ways
    "cover",  # share of each side's needs' keyword weight found in the other's offer, summed
    "sector_fit",
    "bm25_caps_caps",  # BM25 of the capability texts against each other: the same named offers
    "bm25_needs_needs",  # BM25 of the need texts against each other: the same named wants
)
# partnership_fit is shown with every match but is not a feature: in the labelled set the
# partnership types were written by people who knew the deal, so its learned weight could not be
# trusted, and on the independently graded lists a model without it did better (0.816 against
# 0.800 nDCG@10).
KINDS = ("both", "needs_only", "capabilities_only")


@dataclass(frozen=True)
class Weights:
    w: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    temperature: float = 1.0

    def score(self, x: np.ndarray) -> np.ndarray:
        """Scores in (0, 1) of feature rows ``x`` (module docstring)."""
        return sigmoid(self.z(x) / self.temperature)

    def z(self, x: np.ndarray, only: np.ndarray | None = None) -> np.ndarray:
        """Linear score of feature rows ``x`` (..., len(FEATURES)); ``only`` masks features."""
        w = self.w if only is None else np.where(only, self.w, 0.0)
        return ((x - self.mean) / self.scale) @ w


@dataclass(frozen=True)
class RankerModel:
    name: str
    kinds: dict[str, Weights]
    mean_caps: dict[str, np.ndarray]  # per country
    mean_needs: dict[str, np.ndarray]


def load(path: Path | str | None = None) -> RankerModel:
    return _load(str(path or DEFAULT_MODEL))


@cache
def _load(path: str) -> RankerModel:
    data = json.loads(Path(path).read_text())
    unknown = sorted(set(data["features"]) - set(FEATURES))
    if unknown:
        raise ValueError(f"ranker model {path} has features this code does not compute: {unknown}")
    # A model written before a feature existed (ranker-v1) gives it weight 0, so earlier models
    # stay selectable and score exactly as they did.
    cols = [FEATURES.index(f) for f in data["features"]]

    def spread(values: list[float], fill: float) -> np.ndarray:
        out = np.full(len(FEATURES), fill, np.float64)
        out[cols] = values
        return out

    kinds = {
        k: Weights(
            spread(v["weights"], 0.0),
            spread(v["mean"], 0.0),
            spread(v["scale"], 1.0),
            float(v.get("temperature", 1.0)),
        )
        for k, v in data["kinds"].items()
    }
    return RankerModel(
        data["name"],
        kinds,
        {c: np.array(v, np.float32) for c, v in data["mean_caps"].items()},
        {c: np.array(v, np.float32) for c, v in data["mean_needs"].items()},
    )


def sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))).astype(np.float32)
