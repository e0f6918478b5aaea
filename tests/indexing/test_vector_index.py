"""The IVF index: ``InvertedLists.search`` (the batched path) returns what FAISS's own IVF search
does, and its float16 lists give float16 vectors back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.index import VectorIndex


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, dim))
    x = centres[rng.integers(0, 12, n)] + 0.7 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("filtered", [False, True])
def test_grouped_ivf_search_equals_faiss_search(filtered):
    x = clustered(3000, 32, seed=1)
    ids = np.arange(len(x), dtype=np.int64) * 7 + 3  # ids are not positions
    index = VectorIndex.build(32, ids, x, exact_max=100, nprobe=6)
    assert index.kind == "ivf"
    index.remove(ids[:40])  # removals leave holes in the lists
    queries = clustered(500, 32, seed=2)
    allowed = ids[np.random.default_rng(3).random(len(ids)) < 0.2] if filtered else None

    want_s, want_i = index.search(queries, 60, allowed)
    # chunk smaller than the batch, so the shared buffer is reused across chunks
    got_s, got_i = index.lists().search(queries, 60, allowed, chunk=128)

    assert got_i.shape == want_i.shape == (500, 60)
    assert (got_i == want_i).mean() > 0.999  # only float-rounding ties may swap
    found = want_i >= 0
    np.testing.assert_allclose(got_s[found], want_s[found], atol=1e-5)
    assert ((got_i >= 0) == found).all()
    if filtered:
        assert np.isin(got_i[got_i >= 0], allowed).all()
    assert not np.isin(got_i, ids[:40]).any()


def test_grouped_search_pads_when_fewer_candidates_than_k():
    x = clustered(200, 16, seed=4)
    ids = np.arange(200, dtype=np.int64)
    index = VectorIndex.build(16, ids, x, exact_max=10, nprobe=2)
    allowed = ids[:5]
    scores, got = index.lists().search(x[:3], 50, allowed)
    want_s, want = index.search(x[:3], 50, allowed)
    assert (got == want).all()
    assert (got[:, 5:] == -1).all() and np.isneginf(scores[:, 5:]).all()


def test_ivf_stores_float16_and_gives_float16_vectors_back_exactly(tmp_path):
    """The IVF lists hold half the bytes of float32, and vectors already at float16 precision
    (as the service's pair vectors are) come back bit for bit, from memory and from disk."""
    x = clustered(2000, 32, seed=5).astype(np.float16).astype(np.float32)
    ids = np.arange(len(x), dtype=np.int64) + 10
    index = VectorIndex.build(32, ids, x, exact_max=100, nprobe=4)
    assert index.kind == "ivf" and index._index.code_size == 2 * 32
    np.testing.assert_array_equal(index.reconstruct(ids[::7]), x[::7])
    index.save(tmp_path / "ix.faiss", {"model": "m"})
    loaded, _ = VectorIndex.load(tmp_path / "ix.faiss", model="m", dim=32, nprobe=4)
    np.testing.assert_array_equal(loaded.reconstruct(ids), x)
    np.testing.assert_array_equal(loaded.lists().vectors[np.argsort(loaded.lists().ids)], x)
