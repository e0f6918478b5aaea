"""Evidence for a match: which need of one side the other side's offer answers, and how well.

For a pair (A, B) and one direction "B answers A" the sentence vectors give a similarity matrix::

    S[i, j] = cos(A.need_i, B.capability_j)

    quoted pair  = argmax_(i, j) S[i, j]    # the need and the offer that answers *that* need
    answer_i     = max_j S[i, j]            # how well B answers A's need i
    coverage     = mean_i answer_i          # how much of A's needs B covers
    gap          = argmin_i answer_i        # A's need that B answers worst

The quoted need and offer are chosen jointly from one matrix, so the offer shown always answers the
need shown next to it. Every explanation, of ``/matches``, ``/pairings``, search or an export, is
built from :meth:`SentenceTable.match`, so a pair is always explained with the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

SentenceData = tuple[Sequence[str], np.ndarray]  # sentences and their (n, dim) vectors


@dataclass
class DirectionEvidence:
    """One direction of many pairs, as arrays over rows: sentence numbers (-1: none) and scores."""

    need: np.ndarray  # the quoted need sentence
    offer: np.ndarray  # the offer sentence that answers it best
    similarity: np.ndarray  # S[need, offer], the best entry of the matrix
    gap: np.ndarray  # the need answered worst
    gap_similarity: np.ndarray  # how well that need is answered
    coverage: np.ndarray  # mean over the needs of their best answer


class SentenceTable:
    """Sentences of some profiles' texts, flat: the texts, one vector matrix (float16 as stored:
    half the memory of float32) and the ``[start, start + count)`` rows of each (field, slot).

    A slot is whatever small number the caller addresses a text's owner by: the profile id in an
    export (dense arrays over millions of rows), a position in a short list for one match list.
    """

    def __init__(self, size: int, fields: Iterable[str]) -> None:
        self.start = {f: np.zeros(size, dtype=np.int64) for f in fields}
        self.count = {f: np.zeros(size, dtype=np.int64) for f in fields}
        self.texts: list[str] = []
        self._blocks: list[np.ndarray] = []
        self.matrix = np.zeros((0, 1), np.float16)

    def add(self, slot: int, field: str, data: SentenceData) -> None:
        sents, vecs = data
        self.start[field][slot], self.count[field][slot] = len(self.texts), len(sents)
        self.texts.extend(sents)
        self._blocks.append(vecs)

    def seal(self) -> SentenceTable:
        """Stack the added vectors into :attr:`matrix`; call once, after the last ``add``."""
        if self._blocks:
            self.matrix = np.concatenate(self._blocks)
            self._blocks = []
        return self

    def match(self, need_owners: np.ndarray, offer_owners: np.ndarray) -> DirectionEvidence:
        """How the capabilities of ``offer_owners[r]`` answer the needs of ``need_owners[r]``,
        both in this table (see :func:`answer`)."""
        return answer(self, need_owners, self, offer_owners)

    def text(self, i: int) -> str | None:
        return self.texts[i] if i >= 0 else None


def answer(
    needs: SentenceTable, need_owners: np.ndarray, offers: SentenceTable, offer_owners: np.ndarray
) -> DirectionEvidence:
    """For each row r: how the capabilities of ``offer_owners[r]`` (in ``offers``) answer the
    needs of ``need_owners[r]`` (in ``needs``); see the module docstring. Rows are grouped by
    their (needs, offers) sentence counts, so each group is two gathers and one batched product.
    Sentence numbers in the result index ``needs.texts`` (need, gap) and ``offers.texts``."""
    rows_n = len(need_owners)
    out = DirectionEvidence(
        need=np.full(rows_n, -1, np.int64),
        offer=np.full(rows_n, -1, np.int64),
        similarity=np.zeros(rows_n, np.float32),
        gap=np.full(rows_n, -1, np.int64),
        gap_similarity=np.zeros(rows_n, np.float32),
        coverage=np.zeros(rows_n, np.float32),
    )
    cn, sn = needs.count["needs"][need_owners], needs.start["needs"][need_owners]
    cm, sm = offers.count["capabilities"][offer_owners], offers.start["capabilities"][offer_owners]
    ok = (cn > 0) & (cm > 0)
    shape = cn * (int(cm.max(initial=0)) + 1) + cm
    for key in np.unique(shape[ok]).tolist():
        rows = np.flatnonzero(ok & (shape == key))
        n, m = int(cn[rows[0]]), int(cm[rows[0]])
        at_n = sn[rows, None] + np.arange(n)
        at_m = sm[rows, None] + np.arange(m)
        sims = np.matmul(
            needs.matrix[at_n].astype(np.float32),
            offers.matrix[at_m].astype(np.float32).transpose(0, 2, 1),
        )
        r = np.arange(len(rows))
        flat = sims.reshape(len(rows), -1).argmax(axis=1)  # first maximum on ties
        i, j = np.divmod(flat, m)
        best = sims.max(axis=2)  # (rows, n): each need's best answer
        g = best.argmin(axis=1)
        out.need[rows], out.offer[rows] = at_n[r, i], at_m[r, j]
        out.similarity[rows] = sims[r, i, j]
        out.gap[rows], out.gap_similarity[rows] = at_n[r, g], best[r, g]
        out.coverage[rows] = best.mean(axis=1)
    return out
