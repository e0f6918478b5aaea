"""Evidence kernels against the numpy they replaced: the same sentences and the same floats."""

from __future__ import annotations

import numpy as np

from service.matching.evidence import SentenceTable, answer, rows_float32


def test_float16_rows_widen_exactly_as_numpy_casts_them():
    """Every float16 bit pattern (subnormals, infinities and NaNs included)."""
    half = np.arange(1 << 16).astype(np.uint16).view(np.float16).reshape(-1, 64)
    starts = np.array([0, 7, 500, 1022])
    got = rows_float32(half, starts, 2)
    want = half[starts[:, None] + np.arange(2)].astype(np.float32)
    assert got.dtype == np.float32
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def numpy_answer(needs: SentenceTable, a: np.ndarray, offers: SentenceTable, b: np.ndarray):
    """``answer`` as it was written in numpy before its kernels."""
    out = {k: np.full(len(a), -1, np.int64) for k in ("need", "offer", "gap")}
    out |= {k: np.zeros(len(a), np.float32) for k in ("similarity", "gap_similarity", "coverage")}
    for r, (x, y) in enumerate(zip(a, b, strict=True)):
        n, m = needs.count["needs"][x], offers.count["capabilities"][y]
        if not (n and m):
            continue
        at_n = needs.start["needs"][x] + np.arange(n)
        at_m = offers.start["capabilities"][y] + np.arange(m)
        sims = needs.matrix[at_n].astype(np.float32) @ offers.matrix[at_m].astype(np.float32).T
        i, j = divmod(int(sims.argmax()), m)
        best = sims.max(axis=1)
        g = int(best.argmin())
        out["need"][r], out["offer"][r], out["similarity"][r] = at_n[i], at_m[j], sims[i, j]
        out["gap"][r], out["gap_similarity"][r] = at_n[g], best[g]
        out["coverage"][r] = best.mean()
    return out


def test_answer_quotes_what_numpy_quoted_ties_included():
    rng = np.random.default_rng(3)
    table = SentenceTable(40, ("capabilities", "needs"))
    # a few distinct sentences, repeated: equal similarities, so ties take the first maximum
    pool = rng.standard_normal((6, 16)).astype(np.float16)
    for slot in range(40):
        for field in ("capabilities", "needs"):
            n = int(rng.integers(0, 5))
            table.add(
                slot,
                field,
                ([f"{slot} {field} {i}" for i in range(n)], pool[rng.integers(0, 6, n)]),
            )
    table.seal()
    a, b = rng.integers(0, 40, 300), rng.integers(0, 40, 300)
    got, want = answer(table, a, table, b), numpy_answer(table, a, table, b)
    for name, values in want.items():
        assert np.array_equal(getattr(got, name), values), name
