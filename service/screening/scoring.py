"""Pure scoring of capability sentences against export-control categories.

For a sentence *s* and a category *c*, three features:

- ``cosine``: the highest cosine between *s* and the category's prototypes (its plain
  description and its example sentences), all-MiniLM-L6-v2 vectors;
- ``term``: 1 when one of the category's curated phrases occurs in *s* (stemmed words, in
  order, ``embeddings.lexical.words``), else 0;
- ``civil``: 1 when one of the category's civil-use cues occurs in *s* ("air traffic control"
  beside "fire control", "container ship" beside "frigate"), else 0.

The confidence is a logistic model over them, fitted on the labelled set
(``bench/screening_eval.py``, stored in ``data/screening-model.json``)::

    confidence = sigmoid(b + w_cos · cosine + w_term · term + w_civil · civil)

A category is flagged on a sentence when the confidence reaches its regime's threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from embeddings.lexical import words

FEATURES = ("cosine", "term", "civil")


def phrase(term: str) -> tuple[str, ...]:
    """A curated term as the stemmed words ``words`` gives a sentence."""
    return tuple(words(term))


def contains(sentence_words: Sequence[str], phrases: Iterable[tuple[str, ...]]) -> bool:
    """Whether any phrase occurs in the sentence as consecutive words."""
    n = len(sentence_words)
    for p in phrases:
        k = len(p)
        if k == 0 or k > n:
            continue
        for i in range(n - k + 1):
            if tuple(sentence_words[i : i + k]) == p:
                return True
    return False


def max_per_group(sims: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``sims`` (sentences × prototypes) → (sentences × categories): the highest cosine over each
    category's prototypes, the prototypes of category *j* starting at column ``starts[j]``."""
    return np.maximum.reduceat(sims, starts, axis=1)


def confidence(x: np.ndarray, weights: dict[str, float]) -> np.ndarray:
    """``sigmoid(b + Σ w_f · x_f)`` over the last axis of ``x`` (features in ``FEATURES`` order)."""
    w = np.array([weights[f] for f in FEATURES], dtype=np.float64)
    z = weights["bias"] + x @ w
    return 1.0 / (1.0 + np.exp(-z))


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 5000, lr: float = 5.0
) -> dict[str, float]:
    """Weights of ``confidence`` by gradient descent on the mean log loss, classes balanced
    (positives are rare), with a small L2 penalty. ``x``: (n × features), ``y``: 0/1."""
    x = x.astype(np.float64)
    pos = max(float(y.sum()), 1.0)
    neg = max(float(len(y) - y.sum()), 1.0)
    sw = np.where(y > 0, 0.5 / pos, 0.5 / neg)
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(b + x @ w)))
        g = sw * (p - y)
        w -= lr * (x.T @ g + l2 * w)
        b -= lr * g.sum()
    return {"bias": float(b)} | {f: float(v) for f, v in zip(FEATURES, w, strict=True)}
