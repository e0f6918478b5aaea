"""Keyword statistics of the indexed profiles, and the pair features computed from them.

Each profile's ``capabilities`` and ``needs`` are bags of stemmed terms (``embeddings.lexical``);
its *whole* document is the two together. The store keeps, per profile and field, the sorted
term numbers and counts in flat append-only buffers, and over the whole registry the document
frequency of every term (in whole documents) and the total length of each field, all integers,
so the statistics of a registry do not depend on the order in which profiles arrived.

For a query profile A and a candidate B (``pair_features``), with Lucene's BM25::

    idf(t)        = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
    sat(tf, len)  = tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))    # k1 1.2, b 0.75
    bm25(Q -> D)  = sum over terms t of Q also in D of idf(t) * sat(tf_D(t), len_D)
    cover(Q -> D) = sum of idf(t) over terms of Q found in D / sum of idf(t) over terms of Q

    bm25_needs       = bm25(A.needs -> B.capabilities) + bm25(B.needs -> A.capabilities)
    bm25_whole       = bm25(A.whole -> B.whole) + bm25(B.whole -> A.whole)
    cover            = cover(A.needs -> B.capabilities) + cover(B.needs -> A.capabilities)
    bm25_caps_caps   = bm25(A.caps -> B.caps) + bm25(B.caps -> A.caps)    # caps: capabilities
    bm25_needs_needs = bm25(A.needs -> B.needs) + bm25(B.needs -> A.needs)

All five are symmetric in A and B. The last two say how much the two firms offer, or look for,
the same named things: on the labelled partnerships, offering the same products in the same
words marks a competitor rather than a partner (the learned weight of ``bm25_caps_caps`` is
negative, while the dense ``caps_caps``, "the same field", is positive).

The kernel is compiled with numba: a pair costs a few microseconds and releases the GIL, so the
export's threads score pairs in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numba
import numpy as np

from embeddings import lexical

FIELDS = ("capabilities", "needs", "whole")
CAPS, NEEDS, WHOLE = 0, 1, 2
K1, B = 1.2, 0.75
LEXICAL_FEATURES = ("bm25_needs", "bm25_whole", "cover", "bm25_caps_caps", "bm25_needs_needs")


Terms = tuple[np.ndarray, np.ndarray]  # (term hashes, counts) of one field


class TermStore:
    """Term numbers and counts of every indexed profile (see module docstring).

    Terms are numbered in the order this process first sees them; the numbers never leave the
    process (profiles store the terms' stable hashes), so only membership and counts matter.
    """

    def __init__(self) -> None:
        self._vocab: dict[int, int] = {}
        self.df = np.zeros(1024, np.int64)
        self.terms = np.zeros(1 << 16, np.int32)  # flat buffer of term numbers
        self.counts = np.zeros(1 << 16, np.int32)
        self.used = 0  # buffer entries written, live or dead
        self.start = np.zeros((1024, 3), np.int64)
        self.length = np.zeros((1024, 3), np.int64)  # terms in the field, counted with repeats
        self.size = np.zeros((1024, 3), np.int64)  # distinct terms (entries in the buffer)
        self.present = np.zeros(1024, bool)
        self.docs = 0
        self.total = np.zeros(3, np.int64)
        self.lock = threading.RLock()
        self._idf: np.ndarray | None = None  # idf of every term number, until the next change

    @classmethod
    def build(cls, items: list[tuple[int, Terms, Terms]]) -> TermStore:
        """A store of many profiles ``(id, capabilities terms, needs terms)`` at once, vectorised
        (at start-up: adding 100,000 profiles one by one took half a minute). Terms are numbered
        by the order of their hashes."""
        store = cls()
        if not items:
            return store
        pids = np.array([p for p, _, _ in items], np.int64)
        store._grow_ids(int(pids.max()))
        owner, hashes, counts = [], [], []
        for f in (CAPS, NEEDS):
            lens = np.array([len(it[1 + f][0]) for it in items], np.int64)
            owner.append(np.repeat(pids, lens))
            hashes.append(np.concatenate([it[1 + f][0] for it in items]).astype(np.int64))
            counts.append(np.concatenate([it[1 + f][1] for it in items]).astype(np.int32))
        uniq, inv = np.unique(np.concatenate(hashes), return_inverse=True)
        del hashes
        store._vocab = dict(zip(uniq.tolist(), range(len(uniq)), strict=True))
        vocab = max(len(uniq), 1)
        # Each field's entries sorted by (profile, term) through one int64 key per entry (one
        # argsort; at 100,000 profiles two np.unique and three lexsorts took a second of
        # memory: about 1 GB for 7.4 million terms).
        split = len(owner[0])
        keys = [owner[0] * vocab + inv[:split], owner[1] * vocab + inv[split:]]
        del owner, inv
        # whole documents: each profile's two fields, equal terms' counts added
        keys.append(np.concatenate(keys))
        counts.append(np.concatenate(counts))
        parts_t, parts_c, at = [], [], 0
        for f in (CAPS, NEEDS, WHOLE):
            order = np.argsort(keys[f], kind="stable")
            key, cnt = keys[f][order], counts[f][order].astype(np.int64)
            del order
            if f == WHOLE and len(key):
                first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
                key, cnt = key[first], np.add.reduceat(cnt, first)
            own, num = np.divmod(key, vocab)
            del key
            size = np.bincount(own, minlength=len(store.present))
            store.size[:, f] = size
            store.start[:, f] = at + np.cumsum(size) - size
            store.length[:, f] = np.bincount(own, weights=cnt, minlength=len(store.present))
            store.total[f] = int(cnt.sum())
            parts_t.append(num.astype(np.int32))
            parts_c.append(cnt.astype(np.int32))
            at += len(num)
        store.terms, store.counts = np.concatenate(parts_t), np.concatenate(parts_c)
        store.used = at
        store.df = np.bincount(parts_t[WHOLE], minlength=vocab).astype(np.int64)
        store.present[pids] = True
        store.docs = len(pids)
        return store

    def _grow_ids(self, max_id: int) -> None:
        n = len(self.present)
        if max_id < n:
            return
        new = max(max_id + 1, 2 * n)
        for name in ("start", "length", "size", "present"):
            old = getattr(self, name)
            arr = np.zeros((new, *old.shape[1:]), old.dtype)
            arr[:n] = old
            setattr(self, name, arr)

    def _numbers(self, hashes: np.ndarray) -> np.ndarray:
        out = np.empty(len(hashes), np.int32)
        for n, h in enumerate(hashes.tolist()):
            num = self._vocab.get(h)
            if num is None:
                num = self._vocab[h] = len(self._vocab)
            out[n] = num
        if len(self._vocab) > len(self.df):
            df = np.zeros(max(len(self._vocab), 2 * len(self.df)), np.int64)
            df[: len(self.df)] = self.df
            self.df = df
        return out

    def _append(self, terms: np.ndarray, counts: np.ndarray) -> int:
        end = self.used + len(terms)
        if end > len(self.terms):
            live = int(self.size[self.present].sum())
            if live + len(terms) <= len(self.terms) // 2:
                self._compact()
                return self._append(terms, counts)
            cap = max(end, 2 * len(self.terms))
            for name in ("terms", "counts"):
                arr = np.zeros(cap, np.int32)
                arr[: self.used] = getattr(self, name)[: self.used]
                setattr(self, name, arr)
        at = self.used
        self.terms[at : at + len(terms)] = terms
        self.counts[at : at + len(terms)] = counts
        self.used += len(terms)
        return at

    def _compact(self) -> None:
        """Copy the live entries to fresh buffers (old versions of edited profiles are dead)."""
        ids = np.flatnonzero(self.present)
        total = int(self.size[ids].sum())
        terms, counts = np.zeros(max(total, 1 << 16), np.int32), np.zeros_like(self.counts)
        at = 0
        for i in ids.tolist():
            for f in range(3):
                s, n = self.start[i, f], self.size[i, f]
                terms[at : at + n] = self.terms[s : s + n]
                counts[at : at + n] = self.counts[s : s + n]
                self.start[i, f] = at
                at += n
        self.terms, self.counts, self.used = terms, counts, at

    def set(
        self, pid: int, caps: tuple[np.ndarray, np.ndarray], needs: tuple[np.ndarray, np.ndarray]
    ) -> None:
        """Index (or re-index) profile ``pid`` from its fields' (term hashes, counts)."""
        with self.lock:
            self.clear(pid)
            self._grow_ids(pid)
            fields = [caps, needs, _merge(caps, needs)]
            for f, (hashes, counts) in enumerate(fields):
                nums = self._numbers(hashes)
                order = np.argsort(nums, kind="stable")
                nums, cnt = nums[order], counts[order].astype(np.int32)
                self.start[pid, f] = self._append(nums, cnt)
                self.size[pid, f] = len(nums)
                self.length[pid, f] = int(cnt.sum())
                self.total[f] += int(cnt.sum())
                if f == WHOLE:
                    self.df[nums] += 1
                    self._idf = None
            self.present[pid] = True
            self.docs += 1

    def clear(self, pid: int) -> None:
        with self.lock:
            if pid >= len(self.present) or not self.present[pid]:
                return
            s, n = self.start[pid, WHOLE], self.size[pid, WHOLE]
            self.df[self.terms[s : s + n]] -= 1
            self._idf = None
            self.total -= self.length[pid]
            self.present[pid] = False
            self.docs -= 1

    def remove(self, ids: Iterable[int]) -> None:
        with self.lock:
            for i in ids:
                self.clear(int(i))

    def query(
        self, caps: tuple[np.ndarray, np.ndarray], needs: tuple[np.ndarray, np.ndarray]
    ) -> QueryTerms:
        """An unindexed text's terms (an ad-hoc search) in this store's numbering; terms no
        indexed profile uses are left out (they match nothing)."""
        with self.lock:
            out = []
            for hashes, counts in (caps, needs, _merge(caps, needs)):
                known = [
                    (self._vocab[h], c)
                    for h, c in zip(hashes.tolist(), counts.tolist(), strict=True)
                    if h in self._vocab
                ]
                known.sort()
                out.append(
                    (
                        np.array([t for t, _ in known], np.int32),
                        np.array([c for _, c in known], np.int32),
                        int(counts.sum()),
                    )
                )
            return QueryTerms(out)

    def pair_features(
        self, a: np.ndarray, b: np.ndarray, query: QueryTerms | None = None
    ) -> np.ndarray:
        """(n, 5) features ``LEXICAL_FEATURES`` of the pairs (a[i], b[i]) of profile ids; with
        ``query``, ``a`` is ignored and the query's terms stand for A.

        Only the pairs' offsets are read under the lock. The kernel then runs outside it: a
        later change appends past what those offsets cover, and a compaction or a growth
        allocates new buffers, so what the offsets point at never changes underneath.
        """
        b = np.asarray(b, np.int64)
        with self.lock:
            if self._idf is None:
                df = self.df[: len(self._vocab)]
                self._idf = np.log1p((self.docs - df + 0.5) / (df + 0.5))
            idf, avg = self._idf, self.total / max(self.docs, 1)
            d = (self.terms, self.counts, self.start[b], self.size[b], self.length[b])
            if query is None:
                a = np.asarray(a, np.int64)
                q = (self.terms, self.counts, self.start[a], self.size[a], self.length[a])
        if query is not None:
            rows = np.zeros(len(b), np.int64)
            q = (query.terms, query.counts, query.start[rows], query.size[rows], query.length[rows])
        return _pairs(*q, *d, idf, avg)


class QueryTerms:
    """Terms of an unindexed text, laid out like one profile of a ``TermStore``."""

    def __init__(self, fields: list[tuple[np.ndarray, np.ndarray, int]]) -> None:
        self.terms = np.concatenate([t for t, _, _ in fields]).astype(np.int32)
        self.counts = np.concatenate([c for _, c, _ in fields]).astype(np.int32)
        sizes = [len(t) for t, _, _ in fields]
        self.start = np.array([np.cumsum([0, *sizes[:-1]])], np.int64)
        self.size = np.array([sizes], np.int64)
        self.length = np.array([[n for _, _, n in fields]], np.int64)


def _merge(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Whole-document terms: the union of two fields' terms, counts added."""
    ids = np.concatenate([a[0], b[0]])
    counts = np.concatenate([a[1], b[1]]).astype(np.int64)
    uniq, inv = np.unique(ids, return_inverse=True)
    return uniq, np.bincount(inv, weights=counts, minlength=len(uniq)).astype(np.int32)


def warm_up() -> None:
    """Compile the kernels now (from numba's on-disk cache when there is one), so that the first
    match list of a new process does not wait a second or two for it."""
    TermStore().pair_features(np.zeros(0, np.int64), np.zeros(0, np.int64))


def profile_terms(capabilities: str, needs: str) -> tuple[tuple, tuple]:
    return lexical.terms(capabilities), lexical.terms(needs)


@numba.njit(cache=True, nogil=True, inline="always")
def _sat(tf, length, avg):
    """BM25's saturated term frequency of a term seen ``tf`` times in a field of ``length``."""
    norm = K1 * (1.0 - B + B * length / avg) if avg > 0 else K1
    return tf * (K1 + 1.0) / (tf + norm)


@numba.njit(cache=True, nogil=True)
def _spread(sat, terms, counts, start, size, length, avg):
    """Write one field of a profile into the dense array ``sat``: its terms' saturated counts."""
    for i in range(start, start + size):
        sat[terms[i]] = _sat(counts[i], length, avg)


@numba.njit(cache=True, nogil=True)
def _clear(sat, terms, start, size):
    """Undo ``_spread`` of the same field."""
    for i in range(start, start + size):
        sat[terms[i]] = 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def _one(sat):
    """1.0 where A has the term (its saturated count is positive), else 0.0."""
    return 1.0 if sat > 0.0 else 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def _same_query(qs, qn, r):
    """Rows r - 1 and r read the same query terms (the same offsets and sizes of every field)."""
    for f in range(3):  # noqa: SIM110 (a loop numba compiles; all() of a generator it does not)
        if qs[r, f] != qs[r - 1, f] or qn[r, f] != qn[r - 1, f]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _pairs(qt, qc, qs, qn, ql, dt, dc, ds, dn, dl, idf, avg):
    """Rows of ``LEXICAL_FEATURES``: pair r is (row r of the q-offsets, row r of the d-offsets).

    A's three fields are spread into dense arrays over the term numbers (``sat[t]`` > 0 when A
    has term t), so each pair walks B's terms once, with one lookup per term, instead of
    merging sorted lists five times. Consecutive pairs of one query (the usual case: a query
    against its pool) spread A once. Every sum runs over B's terms in their stored order, so a
    pair's features never depend on the pairs computed with it.
    """
    out = np.zeros((len(qs), 5), np.float64)
    sat = np.zeros((3, len(idf)), np.float64)  # A's capabilities, needs, whole
    need_total = 0.0
    for r in range(len(qs)):
        if r == 0 or not _same_query(qs, qn, r):  # clear the previous query's, spread this one
            if r > 0:
                for f in range(3):
                    _clear(sat[f], qt, qs[r - 1, f], qn[r - 1, f])
            for f in range(3):
                _spread(sat[f], qt, qc, qs[r, f], qn[r, f], ql[r, f], avg[f])
            need_total = 0.0
            for i in range(qs[r, 1], qs[r, 1] + qn[r, 1]):
                need_total += idf[qt[i]]
        a_caps, a_needs, a_whole = sat[0], sat[1], sat[2]
        # Without branches: a term A lacks adds an exact +0.0 (every sum starts at +0.0 and
        # adds non-negative terms), so the sums are bit for bit those of ``if``s, which the
        # CPU mispredicted for a third of the kernel's time.
        bm_needs = found_a = caps_caps = 0.0
        for j in range(ds[r, 0], ds[r, 0] + dn[r, 0]):  # B's capabilities
            t = dt[j]
            w, sb = idf[t], _sat(dc[j], dl[r, 0], avg[0])
            has_need, has_cap = _one(a_needs[t]), _one(a_caps[t])
            bm_needs += (w * sb) * has_need  # A's needs -> B's capabilities
            found_a += w * has_need
            caps_caps += (w * (sb + a_caps[t])) * has_cap
        found_b = total_b = needs_needs = 0.0
        for j in range(ds[r, 1], ds[r, 1] + dn[r, 1]):  # B's needs
            t = dt[j]
            w = idf[t]
            total_b += w
            has_cap, has_need = _one(a_caps[t]), _one(a_needs[t])
            bm_needs += (w * a_caps[t]) * has_cap  # B's needs -> A's capabilities
            found_b += w * has_cap
            needs_needs += (w * (_sat(dc[j], dl[r, 1], avg[1]) + a_needs[t])) * has_need
        whole = 0.0
        for j in range(ds[r, 2], ds[r, 2] + dn[r, 2]):  # whole documents
            t = dt[j]
            whole += (idf[t] * (_sat(dc[j], dl[r, 2], avg[2]) + a_whole[t])) * _one(a_whole[t])
        out[r, 0] = bm_needs
        out[r, 1] = whole
        out[r, 2] = (found_a / need_total if need_total > 0 else 0.0) + (
            found_b / total_b if total_b > 0 else 0.0
        )
        out[r, 3] = caps_caps
        out[r, 4] = needs_needs
    return out
