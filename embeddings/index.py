"""A FAISS inner-product index over normalised vectors, keyed by int64 ids, with a manifest.

Exact search (``IndexFlatIP``) by default; above a size chosen by the caller, an IVF index
(inner product, vectors stored as float16: ``IndexIVFScalarQuantizer`` with ``QT_fp16``, not
by residual) trades a little recall for speed. A search reads every probed list from memory,
so half the bytes is most of half the time; callers that keep float16-representable vectors
(``service.indexing.service.pair_vector``) get them back exactly from ``reconstruct``.
Both kinds support upsert, removal and reconstruction by id. ``save`` writes the index and a
sidecar manifest (model, dimension, count, kind, checksum, plus caller fields such as the last
change applied); ``load`` checks them and raises :class:`IndexLoadError` naming the fix when
anything disagrees.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

FORMAT_VERSION = 2  # 2: IVF lists hold float16 (1: float32)


class IndexLoadError(RuntimeError):
    """The saved index cannot be used; rebuild it from the stored vectors."""


class VectorIndex:
    def __init__(self, dim: int, kind: str = "flat", nlist: int = 0, nprobe: int = 32) -> None:
        self.dim = dim
        self.kind = kind
        self.nprobe = nprobe
        if kind == "flat":
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        elif kind == "ivf":
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFScalarQuantizer(
                quantizer,
                dim,
                max(1, nlist),
                faiss.ScalarQuantizer.QT_fp16,
                faiss.METRIC_INNER_PRODUCT,
            )
            ivf.by_residual = False  # codes are the vectors themselves: exact for float16 input
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
            ivf.nprobe = nprobe
            self._quantizer = quantizer  # keep alive: the IVF index does not own it
            self._index = ivf
        else:
            raise ValueError(f"unknown index kind {kind!r} (flat or ivf)")
        self._ids: set[int] = set()

    # -- construction --------------------------------------------------------------------
    @classmethod
    def build(
        cls, dim: int, ids: np.ndarray, vectors: np.ndarray, *, exact_max: int, nprobe: int = 32
    ) -> VectorIndex:
        """Exact index up to ``exact_max`` vectors, IVF (trained on ``vectors``) above it."""
        n = len(ids)
        if n <= exact_max:
            index = cls(dim, "flat")
        else:
            # ~sqrt(n) lists: measured at 50k pair vectors, 4*sqrt(n) lists halved recall.
            nlist = max(1, int(math.sqrt(n)))
            index = cls(dim, "ivf", nlist=nlist, nprobe=nprobe)
            sample = vectors[np.random.default_rng(0).permutation(n)[: nlist * 64]]
            index._index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.add(ids, vectors)
        return index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def __contains__(self, id_: int) -> bool:
        return int(id_) in self._ids

    def ids(self) -> np.ndarray:
        return np.fromiter(self._ids, dtype=np.int64, count=len(self._ids))

    # -- mutation ------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace the vectors of ``ids``."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(
                f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}"
            )
        self.remove(ids[[int(i) in self._ids for i in ids]])
        self._index.add_with_ids(vectors, ids)
        self._ids.update(int(i) for i in ids)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.asarray(
            [i for i in np.asarray(ids, dtype=np.int64) if int(i) in self._ids], dtype=np.int64
        )
        if len(ids) == 0:
            return 0
        # The IVF hashtable direct map only removes through an IDSelectorArray.
        sel = faiss.IDSelectorArray(ids) if self.kind == "ivf" else faiss.IDSelectorBatch(ids)
        removed = int(self._index.remove_ids(sel))
        self._ids.difference_update(int(i) for i in ids)
        return removed

    # -- queries -------------------------------------------------------------------------
    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query row; id -1 pads missing results.

        ``allowed`` restricts the search to those ids (exactly, before ranking).
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self))) if len(self) else 1
        if len(self) == 0 or (allowed is not None and len(allowed) == 0):
            return (
                np.full((len(queries), k), -np.inf, dtype=np.float32),
                np.full((len(queries), k), -1, dtype=np.int64),
            )
        params = None
        if allowed is not None:
            sel = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            if self.kind == "ivf":
                params = faiss.SearchParametersIVF(sel=sel, nprobe=self.nprobe)
            else:
                params = faiss.SearchParameters(sel=sel)
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids

    def lists(self) -> InvertedLists:
        """A copy of the IVF index's centroids and lists, for :meth:`InvertedLists.search`.

        Taking it is a memory copy (about one vector per indexed id); callers hold their lock
        only for that, then search the copy without it.
        """
        if self.kind != "ivf":
            raise ValueError("lists() needs an IVF index")
        ivf = self._index
        nlist, code_size = ivf.nlist, ivf.code_size
        sizes = np.array([ivf.invlists.list_size(n) for n in range(nlist)], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        ids = np.empty(int(offsets[-1]), dtype=np.int64)
        vectors = np.empty((int(offsets[-1]), self.dim), dtype=np.float32)
        stored = np.float16 if code_size == 2 * self.dim else np.float32
        for n in range(nlist):
            a, b = int(offsets[n]), int(offsets[n + 1])
            if a == b:
                continue
            ids[a:b] = faiss.rev_swig_ptr(ivf.invlists.get_ids(n), b - a)
            codes = faiss.rev_swig_ptr(ivf.invlists.get_codes(n), (b - a) * code_size)
            vectors[a:b] = codes.view(stored).reshape(b - a, self.dim)
        centroids = ivf.quantizer.reconstruct_n(0, nlist)
        return InvertedLists(centroids, offsets, ids, vectors, self.nprobe)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._index.reconstruct_batch(ids)

    # -- persistence ---------------------------------------------------------------------
    def snapshot(self, manifest: dict[str, Any]) -> tuple[faiss.Index, dict[str, Any]]:
        """A copy of the index and its manifest, taken at one instant.

        Only a memory copy (about 30-120 ms at 50,000 vectors), because the caller holds the
        lock that searches wait for: serialising took 0.6-0.75 s per country, and the periodic
        save stalled every match query of the worker for seconds. :meth:`write_snapshot`
        serialises the copy outside the lock."""
        copy = faiss.clone_index(self._index)
        meta = {
            **manifest,
            "format": FORMAT_VERSION,
            "dim": self.dim,
            "kind": self.kind,
            "count": len(self),
        }
        return copy, meta

    @staticmethod
    def write_snapshot(path: Path, copy: faiss.Index, meta: dict[str, Any]) -> None:
        """Write ``path`` then ``path.manifest.json`` (with the data's checksum), each under a
        temporary name then renamed."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # Straight to the file: serialize_index to memory took ten times longer (0.64 s
        # against 70 ms at 50,000 vectors), all of it holding the GIL.
        tmp = _temporary_name(path)
        faiss.write_index(copy, str(tmp))
        with open(tmp, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        meta = {**meta, "sha256": digest}
        _atomic_write(manifest_path(path), json.dumps(meta, indent=2).encode())

    def save(self, path: Path, manifest: dict[str, Any]) -> None:
        self.write_snapshot(path, *self.snapshot(manifest))

    @classmethod
    def load(
        cls, path: Path, *, model: str, dim: int, nprobe: int = 32
    ) -> tuple[VectorIndex, dict]:
        mpath = manifest_path(path)
        if not path.exists() or not mpath.exists():
            raise IndexLoadError(f"no saved index at {path}; it will be built from the database")
        try:
            meta = json.loads(mpath.read_text())
        except (OSError, ValueError) as exc:
            raise IndexLoadError(
                f"manifest {mpath} is unreadable ({exc}); rebuild the index"
            ) from exc
        if meta.get("format") != FORMAT_VERSION:
            raise IndexLoadError(f"index format {meta.get('format')} != {FORMAT_VERSION}; rebuild")
        if meta.get("model") != model or meta.get("dim") != dim:
            raise IndexLoadError(
                f"index was built for model {meta.get('model')!r} (dim {meta.get('dim')}), the "
                f"service runs {model!r} (dim {dim}); rebuild with `matchmaker reindex`"
            )
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise IndexLoadError(
                f"{path} does not match its manifest checksum (corrupt or partial)"
            )
        try:
            raw = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except RuntimeError as exc:
            raise IndexLoadError(f"{path} cannot be read by FAISS ({exc})") from exc
        index = cls.__new__(cls)
        index.dim = dim
        index.kind = meta.get("kind", "flat")
        index.nprobe = nprobe
        # deserialize_index already returns the concrete class; wrapping it again with
        # downcast_index would let the owning wrapper free the index underneath us.
        if index.kind == "ivf":
            raw.nprobe = nprobe
            raw.set_direct_map_type(faiss.DirectMap.Hashtable)
        index._index = raw
        ids = _ivf_ids(raw) if index.kind == "ivf" else faiss.vector_to_array(raw.id_map)
        index._ids = {int(i) for i in ids}
        if len(index._ids) != meta.get("count"):
            raise IndexLoadError(
                f"{path} holds {len(index._ids)} ids, manifest says {meta.get('count')}"
            )
        return index, meta


@dataclass(frozen=True)
class InvertedLists:
    """An IVF index laid out for batched search: list ``n`` holds ``ids[offsets[n]:offsets[n+1]]``.

    FAISS scans an IVF list once per query, so a batch of queries reads every probed list from
    memory again and again (bandwidth-bound: about 1,200 queries/s at 50,000 vectors of 768
    dimensions, nprobe 32). Grouping the batch by list turns each list into one matrix product
    with all the queries that probe it, read once. Probing and scoring are those of the IVF
    index's own search (the ``nprobe`` nearest centroids by inner product, inner products with
    the stored vectors inside them, here decoded to float32), so results are the same up to
    float rounding.
    """

    centroids: np.ndarray  # (nlist, dim)
    offsets: np.ndarray  # (nlist + 1,)
    ids: np.ndarray  # (n,) int64
    vectors: np.ndarray  # (n, dim) float32
    nprobe: int

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        chunk: int = 2048,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query, best first; id -1 pads missing results.

        Chunks of ``chunk`` queries are searched two at a time, in two threads (torch releases
        the GIL; a chunk's result does not depend on the other): one chunk at a time, torch's
        own threads over these small products took four times as long (8,192 queries at
        100,000 profiles: 8-10 s against 2 s).
        """
        import torch  # batch-only path; products and top-k run several times faster in torch

        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        out_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_i = np.full((len(queries), k), -1, dtype=np.int64)
        if len(self.ids) == 0 or len(queries) == 0:
            return out_s, out_i
        keep = None if allowed is None else torch.from_numpy(np.isin(self.ids, allowed))

        def one(start: int) -> None:
            end = start + chunk
            self._search_chunk(queries[start:end], k, keep, out_s[start:end], out_i[start:end])

        with ThreadPoolExecutor(2, thread_name_prefix="ivf-search") as pool:
            list(pool.map(one, range(0, len(queries), chunk)))
        return out_s, out_i

    def _search_chunk(
        self, queries: np.ndarray, k: int, keep: Any, out_s: np.ndarray, out_i: np.ndarray
    ) -> None:
        """:meth:`search` of one chunk of queries, into the first rows of ``out_s``/``out_i``."""
        import torch

        sizes = np.diff(self.offsets)
        nprobe = min(self.nprobe, len(self.centroids))
        width = int(sizes.max())  # a probed list's slot in the per-query score buffer
        k_found = min(k, nprobe * width)
        x = torch.from_numpy(self.vectors)
        cent = torch.from_numpy(np.ascontiguousarray(self.centroids, dtype=np.float32))
        q = torch.from_numpy(queries)
        c = len(q)
        # A (query, probe slot) row per probed list.
        view = torch.full((c * nprobe, width), -torch.inf)
        probes = torch.topk(q @ cent.T, nprobe, dim=1).indices  # (c, nprobe) list numbers
        flat = probes.reshape(-1)
        order = torch.argsort(flat, stable=True)  # buffer rows grouped by list
        lists, counts = torch.unique_consecutive(flat[order], return_counts=True)
        rows_all = order // nprobe
        pos = 0
        for lst, cnt in zip(lists.tolist(), counts.tolist(), strict=True):
            slots, rows = order[pos : pos + cnt], rows_all[pos : pos + cnt]
            pos += cnt
            a, b = int(self.offsets[lst]), int(self.offsets[lst + 1])
            if a == b:
                continue
            sims = torch.index_select(q, 0, rows) @ x[a:b].T
            if keep is not None:
                sims.masked_fill_(~keep[a:b], -torch.inf)
            view[:, : b - a].index_copy_(0, slots, sims)
        top = torch.topk(view.reshape(c, -1), k_found, dim=1)
        scores, flat_pos = top.values.numpy(), top.indices.numpy()
        slot, col = flat_pos // width, flat_pos % width
        member = self.offsets[np.take_along_axis(probes.numpy(), slot, axis=1)] + col
        found = np.isfinite(scores)
        out_s[:c, :k_found] = np.where(found, scores, -np.inf)
        out_i[:c, :k_found] = np.where(found, self.ids[np.where(found, member, 0)], -1)


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def _ivf_ids(ivf: Any) -> np.ndarray:
    invlists = ivf.invlists
    out = []
    for lst in range(ivf.nlist):
        size = invlists.list_size(lst)
        if size:
            ptr = invlists.get_ids(lst)
            out.append(faiss.rev_swig_ptr(ptr, size).copy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _temporary_name(path: Path) -> Path:
    # A name of its own per writer: several worker processes may save the same index.
    return path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = _temporary_name(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
