"""Pure scoring of capability sentences against export-control categories.

For a sentence *s* and a category *c*, up to five features (a model file names those it uses,
``FEATURES`` lists all that exist):

- ``cosine``: the highest cosine between *s* and the category's prototypes (its plain
  description and its example sentences), all-MiniLM-L6-v2 vectors;
- ``term``: 1 when one of the category's curated phrases occurs in *s* (stemmed words, in
  order, ``embeddings.lexical.words``), else 0;
- ``civil``: 1 when one of the category's civil-use cues occurs in *s* ("air traffic control"
  beside "fire control", "container ship" beside "frigate"), else 0;
- ``exemplar_margin``: the highest cosine between *s* and the category's prototypes or its
  labelled exemplar sentences (``data/exemplars.csv``: capability sentences with the categories
  they fall in, or none), minus the highest cosine between *s* and an uncontrolled exemplar
  (civil counterparts such as weather radar or merchant hulls);
- ``regime_margin``: the same with the exemplars of any category of *c*'s regime.

The confidence is a logistic model over them, fitted on the labelled sets
(``bench/screening_eval.py``, stored in ``data/screening-model.json``)::

    confidence = sigmoid(b + Σ w_f · f)

A category is flagged on a sentence when the confidence reaches its regime's threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from embeddings.lexical import words

FEATURES = ("cosine", "term", "civil", "exemplar_margin", "regime_margin")
EXEMPLAR_FEATURES = ("exemplar_margin", "regime_margin")


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


def exemplar_margins(
    sims: np.ndarray,
    labels: np.ndarray,
    uncontrolled: np.ndarray,
    regime: np.ndarray,
    cosine: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``exemplar_margin`` and ``regime_margin`` (each sentences × categories).

    ``sims``: (sentences × exemplars) cosines (an exemplar a sentence must not see, such as
    itself in cross-validation, set to -1); ``labels``: (exemplars × categories) 0/1;
    ``uncontrolled``: (exemplars,) whether an exemplar falls in no category;
    ``regime``: each category's regime (any labels);
    ``cosine``: the prototype feature (sentences × categories), the floor of the category's
    similarity when it has no exemplar."""
    n = sims.shape[0]
    pos = labels.astype(bool)
    uncontrolled = np.asarray(uncontrolled, bool)
    neg = sims[:, uncontrolled].max(1) if uncontrolled.any() else np.zeros(n)
    cat = cosine.astype(np.float64).copy()
    for j in np.flatnonzero(pos.any(0)):
        cat[:, j] = np.maximum(cat[:, j], sims[:, pos[:, j]].max(1))
    reg = np.zeros_like(cat)
    for r in np.unique(regime):
        cols = regime == r
        held = pos[:, cols].any(1)
        if held.any():
            reg[:, cols] = sims[:, held].max(1)[:, None]
    return cat - neg[:, None], reg - neg[:, None]


def confidence(x: np.ndarray, weights: dict[str, float], features: Sequence[str]) -> np.ndarray:
    """``sigmoid(b + Σ w_f · x_f)`` over the last axis of ``x`` (features in ``features``
    order)."""
    w = np.array([weights[f] for f in features], dtype=np.float64)
    z = weights["bias"] + x @ w
    return 1.0 / (1.0 + np.exp(-z))
