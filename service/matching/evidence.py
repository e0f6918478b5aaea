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

import numba
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
    ok = np.flatnonzero((cn > 0) & (cm > 0))
    shape = cn[ok] * (int(cm.max(initial=0)) + 1) + cm[ok]
    # Rows of one shape, in row order: the groups np.unique then a mask per group gave, found
    # with one sort. Few calls per group: in an export this runs in a thread beside Python
    # work, and every numpy call there waits its turn for the GIL.
    order = np.argsort(shape, kind="stable")
    edges = np.flatnonzero(np.diff(shape[order])) + 1
    for rows in np.split(ok[order], edges) if len(ok) else []:
        n, m = int(cn[rows[0]]), int(cm[rows[0]])
        at_n, at_m = sn[rows], sm[rows]
        sims = np.matmul(
            rows_float32(needs.matrix, at_n, n),
            rows_float32(offers.matrix, at_m, m).transpose(0, 2, 1),
        )
        best = np.empty((len(rows), n), np.float32)  # each need's best answer
        _quoted(
            sims,
            rows,
            at_n,
            at_m,
            best,
            out.need,
            out.offer,
            out.similarity,
            out.gap,
            out.gap_similarity,
        )
        out.coverage[rows] = best.mean(axis=1)
    return out


def warm_up() -> None:
    """Compile the kernels now (from numba's on-disk cache when there is one), so that the first
    explanation of a new process does not wait a second or two for them."""
    table = SentenceTable(1, ("capabilities", "needs"))
    for field in table.start:
        table.add(0, field, ([field], np.zeros((1, 4), np.float16)))
    one = np.zeros(1, np.int64)
    table.seal().match(one, one)


# float32 of every float16 bit pattern, by numpy's own conversion: the kernel below falls back
# to it for the patterns its shortcut does not cover.
_HALF_TO_FLOAT = np.arange(1 << 16).astype(np.uint16).view(np.float16).astype(np.float32)


def rows_float32(matrix: np.ndarray, starts: np.ndarray, count: int) -> np.ndarray:
    """Rows ``[starts[r], starts[r] + count)`` of ``matrix`` for each r, shape (len(starts),
    count, dim), as float32, the same values as numpy's cast: a float16 ``matrix`` is gathered
    and widened in one pass (numpy's float16 cast is scalar code, five times slower on the small
    gathers of :func:`answer`, where it was most of an export's evidence time)."""
    if matrix.dtype != np.float16:
        return matrix[starts[:, None] + np.arange(count)].astype(np.float32, copy=False)
    bits = _gather_half(matrix.view(np.uint16), starts, count, _HALF_TO_FLOAT.view(np.uint32))
    return bits.view(np.float32)


@numba.njit(cache=True, nogil=True)
def _gather_half(half, starts, count, table):  # noqa: ANN001, ANN202 (numba)
    """Rows ``starts[r] + i`` (i < count) of ``half`` (uint16 bit patterns of float16), as
    float32 bit patterns.

    A normal float16 widens by moving its exponent and mantissa into place (vectorised); a row
    holding a subnormal, an infinity or a NaN is redone from ``table``."""
    dim = half.shape[1]
    out = np.empty((len(starts), count, dim), np.uint32)
    for r in range(len(starts)):
        for i in range(count):
            src, dst = half[starts[r] + i], out[r, i]
            special = False
            for d in range(dim):
                h = np.uint32(src[d])
                sign, mag = (h & 0x8000) << 16, h & 0x7FFF
                # exponent rebased from 15 to 127: (127 - 15) << 23 == 0x38000000
                dst[d] = sign | ((mag << 13) + 0x38000000) if mag != 0 else sign
                special |= (mag >= 0x7C00) | ((mag < 0x400) & (mag != 0))
            if special:
                for d in range(dim):
                    dst[d] = table[src[d]]
    return out


@numba.njit(cache=True, nogil=True)
def _quoted(sims, rows, at_n, at_m, best, need, offer, similarity, gap, gap_similarity):  # noqa: ANN001, ANN202 (numba)
    """For each r of ``sims`` (k, n, m), into row ``rows[r]`` of the outputs (the arrays of a
    ``DirectionEvidence``): the first largest entry (as numpy's argmax of the flattened
    matrix), its need and offer, and the first need answered worst (as argmin) with its answer;
    ``best[r]``: each need's best answer (max)."""
    k, n, m = sims.shape
    for r in range(k):
        bi, bj, bv = 0, 0, sims[r, 0, 0]
        for i in range(n):
            top = sims[r, i, 0]
            for j in range(m):
                v = sims[r, i, j]
                if v > bv:
                    bi, bj, bv = i, j, v
                top = max(top, v)
            best[r, i] = top
        g = 0
        for i in range(1, n):
            if best[r, i] < best[r, g]:
                g = i
        row = rows[r]
        need[row], offer[row], similarity[row] = at_n[r] + bi, at_m[r] + bj, bv
        gap[row], gap_similarity[row] = at_n[r] + g, best[r, g]
