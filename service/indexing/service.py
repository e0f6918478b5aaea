"""The in-process search index: one FAISS index per country, kept equal to the database.

Each profile is indexed once, as a *pair vector* ``[capabilities | needs]`` (two normalised
384-d halves). A query for partners of profile A is A's *swapped* vector ``[needs | capabilities]``,
so one inner product scores both directions at once::

    <[A.needs, A.caps], [B.caps, B.needs]> = cos(A.needs, B.caps) + cos(A.caps, B.needs)

i.e. "B offers what A needs" plus "A offers what B needs". Candidates come from the other
country's index; ``service.matching`` re-ranks them exactly.

Consistency: the database is the source of truth. Every write appends to ``profile_changes`` in
its transaction; every worker applies the log in ``seq`` order (after its own commits, before
each match query and on a short timer), so a write acknowledged by any worker is visible to the
next request on any worker. The index is saved under the data dir with a manifest recording the
last change applied; on start it is loaded and caught up, or rebuilt from the stored vectors
(never re-encoded) when missing, corrupt, stale or built for another model.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from embeddings.index import IndexLoadError, VectorIndex, manifest_path
from service.core.threads import run_at_low_priority
from service.indexing.columns import (
    COUNTRY_CODE,
    META_COLUMNS,
    Columns,
    IndexedProfile,
    Summary,
    indexed_profile,
    pair_vector,
    terms_of,
)
from service.indexing.lexical import TermStore
from service.indexing.sentences import SentenceCache
from service.profiles import changes
from service.profiles.models import Profile, ProfileEmbedding
from service.vocab import COUNTRIES

log = logging.getLogger(__name__)
# Table columns, not ORM attributes: the index reads them on the request path (catch-up),
# where the ORM's compile and row-loading layers cost more CPU than the queries themselves.
_profile = Profile.__table__.c
_embedding = ProfileEmbedding.__table__.c


class MatchIndex:
    def __init__(
        self,
        *,
        model: str,
        dim: int,
        directory: Path,
        exact_max: int,
        nprobe: int = 32,
        sentence_cache_size: int = 0,
    ) -> None:
        self.model = model
        self.dim = dim  # per text field; the pair vector has 2 * dim
        self.directory = directory
        self.exact_max = exact_max
        self.nprobe = nprobe
        self.indexes: dict[str, VectorIndex] = {c: VectorIndex(2 * dim) for c in COUNTRIES}
        self.columns = Columns(dim=dim)
        self.terms = TermStore()  # keyword terms of every indexed profile
        self.last_seq = 0
        self.saved_seq = -1
        self.ready = False
        # One lock for index mutation and search: FAISS indexes are not safe for concurrent
        # writes and reads, and searches take milliseconds.
        self.lock = threading.RLock()
        self._applying = threading.Lock()  # held by the one thread applying changes (catch_up)
        # Sentences quoted by explanations, keyed by (profile id, field, text key): an entry
        # for an old version of a text is simply never asked for again (see ``text_keys``).
        self.sentence_cache = SentenceCache(sentence_cache_size)

    # -- in-memory updates ---------------------------------------------------------------
    def upsert(self, profiles: Iterable[IndexedProfile]) -> None:
        by_country: dict[str, list[IndexedProfile]] = {c: [] for c in COUNTRIES}
        for p in profiles:
            by_country[p.country].append(p)
        with self.lock:
            for country, items in by_country.items():
                if not items:
                    continue
                ids = np.array([p.id for p in items], dtype=np.int64)
                # A profile never changes country, but be exact if it ever did.
                self.indexes[COUNTRIES[1 - COUNTRY_CODE[country]]].remove(ids)
                vecs = np.stack([pair_vector(p.capabilities, p.needs) for p in items])
                self.indexes[country].add(ids, vecs)
                for p in items:
                    self.columns.set(p)
                    self._set_terms(self.terms, p)

    def remove(self, ids: Iterable[int]) -> None:
        arr = np.fromiter(ids, dtype=np.int64)
        with self.lock:
            for idx in self.indexes.values():
                idx.remove(arr)
            for i in arr:
                self.columns.clear(int(i))
            self.terms.remove(arr.tolist())

    @staticmethod
    def _set_terms(store: TermStore, p: IndexedProfile) -> None:
        store.set(*terms_of(p))

    def count(self) -> dict[str, int]:
        return {c: len(ix) for c, ix in self.indexes.items()}

    def summaries(self, ids: Iterable[int]) -> dict[int, Summary]:
        """Match-list summaries of indexed profiles, as of the last change applied (a profile
        removed since it was ranked is left out)."""
        with self.lock:
            found = {int(i): self.columns.summary[int(i)] for i in ids}
        return {i: s for i, s in found.items() if s is not None}

    def find(self, public_id: str) -> Summary | None:
        """The indexed profile with this public id, as of the last change applied."""
        with self.lock:
            id_ = self.columns.by_public_id.get(public_id)
            return None if id_ is None else self.columns.summary[id_]

    def text_keys(self, ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """Content keys of the (capabilities, needs) texts the index holds for ``ids``."""
        with self.lock:
            return {int(i): tuple(self.columns.text_keys[int(i)].tolist()) for i in ids}

    def pair_rows(self, ids: np.ndarray) -> np.ndarray:
        """Pair vectors ``[capabilities | needs]`` of indexed profiles, in the shape of ``ids``
        plus one axis (a gathered copy)."""
        with self.lock:
            return self.columns.pairs[ids]

    def size(self) -> int:
        """How many profiles the index holds, both countries."""
        return sum(len(ix) for ix in self.indexes.values())

    def scans_exactly(self, sizes: Iterable[int | None]) -> bool:
        """Whether a search restricted to sets of ``sizes`` profiles (None: a whole country)
        is an exact scan: every set small enough for one, or every country's index flat."""
        small = all(n is not None and n <= self.exact_max for n in sizes)
        return small or all(ix.kind == "flat" for ix in self.indexes.values())

    def vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(capabilities, needs) matrices of indexed profiles."""
        with self.lock:
            pairs = self.columns.pairs[np.asarray(ids, dtype=np.int64)]
        return pairs[:, : self.dim], pairs[:, self.dim :]

    # -- database sync -------------------------------------------------------------------
    def load_rows(self, session: Session, ids: list[int] | None) -> list[IndexedProfile]:
        """Indexed form of the given profiles (or all) as stored in the database."""
        q = (
            select(
                *META_COLUMNS,
                _embedding.field,
                _embedding.vector,
                _embedding.text_hash,
                _embedding.terms,
            )
            .join(Profile.__table__, _embedding.profile_id == _profile.id)
            .where(_embedding.model == self.model)
        )
        if ids is not None:
            q = q.where(_profile.id.in_(ids))
        meta: dict[int, Any] = {}
        vectors: dict[int, dict[str, np.ndarray]] = {}
        hashes: dict[int, dict[str, str]] = {}
        terms: dict[int, dict[str, bytes]] = {}
        for row in session.connection().execute(q):
            meta[row.id] = row
            vectors.setdefault(row.id, {})[row.field] = np.frombuffer(row.vector, np.float32)
            hashes.setdefault(row.id, {})[row.field] = row.text_hash
            terms.setdefault(row.id, {})[row.field] = row.terms
        return [
            indexed_profile(meta[i], v["capabilities"], v["needs"], hashes[i], terms[i])
            for i, v in vectors.items()
            if "capabilities" in v and "needs" in v
        ]

    def follow(self, sessions: sessionmaker[Session]) -> None:
        """Catch up after every commit, by a session of ``sessions``, that changed profiles: a
        write is in this worker's index before its response is sent."""

        def catch_up_now() -> None:
            with sessions() as session:
                self.catch_up(session)

        changes.after_commit(sessions, catch_up_now)

    def catch_up(self, session: Session) -> int:
        """Apply every change after ``last_seq``; returns how many changes were applied."""
        # Every match request asks this; most often the answer is "nothing new".
        new = changes.after(session.connection(), self.last_seq)
        if not new:
            return 0
        # One thread applies at a time. Under load several requests see the same new changes
        # at once; each loading and upserting the same rows, they only queued for the lock.
        with self._applying:
            new = [c for c in new if c.seq > self.last_seq]  # others' work is done
            if not new:
                return 0
            touched = sorted({c.profile_id for c in new})
            for start in range(0, len(touched), 2000):
                chunk = touched[start : start + 2000]
                rows = self.load_rows(session, chunk)
                present = {r.id for r in rows}
                with self.lock:
                    self.upsert(rows)
                    self.remove(i for i in chunk if i not in present)
            with self.lock:
                self.last_seq = max(self.last_seq, new[-1].seq)
        return len(new)

    def rebuild(self, session: Session, progress: bool = False) -> None:
        """Rebuild every index from the stored vectors (no encoding)."""
        from tqdm import tqdm

        last_seq = changes.last_seq(session)
        all_ids = list(session.scalars(select(Profile.id).order_by(Profile.id)))
        rows: list[IndexedProfile] = []
        bar = tqdm(total=len(all_ids), desc="reindex", unit="profile", disable=not progress)
        for start in range(0, len(all_ids), 5000):
            chunk = all_ids[start : start + 5000]
            rows.extend(self.load_rows(session, chunk))
            bar.update(len(chunk))
        bar.close()
        indexes: dict[str, VectorIndex] = {}
        columns = Columns(max(1024, (max(all_ids) + 1) if all_ids else 0), self.dim)
        for country in COUNTRIES:
            items = [r for r in rows if r.country == country]
            ids = np.array([r.id for r in items], dtype=np.int64)
            vecs = (
                np.stack([pair_vector(r.capabilities, r.needs) for r in items])
                if items
                else np.zeros((0, 2 * self.dim), dtype=np.float32)
            )
            indexes[country] = VectorIndex.build(
                2 * self.dim, ids, vecs, exact_max=self.exact_max, nprobe=self.nprobe
            )
        for r in rows:
            columns.set(r)
        store = TermStore.build([terms_of(r) for r in rows])
        with self.lock:
            self.indexes = indexes
            self.columns = columns
            self.terms = store
            self.last_seq = last_seq
        log.info(
            "index rebuilt from the database: %s profiles, last change %s", self.count(), last_seq
        )

    def _path(self, country: str) -> Path:
        return self.directory / f"profiles-{country}.faiss"

    def save(self, *, unless_saved_within: float | None = None) -> bool:
        """Write the index if it changed since this worker last saved it; returns whether it did.

        Copies under the lock (searches wait only for a memory copy), then writes the files
        outside it in a thread of lowered CPU priority, so requests keep the cores.

        ``unless_saved_within`` makes it a periodic save by one worker among several: skipped
        while another worker is writing, or when one wrote less than that many seconds ago. The
        workers hold the same index, so one fresh copy serves all; the change log covers the
        rest at the next start.
        """
        with self.lock:
            if self.saved_seq == self.last_seq:
                return False
        self.directory.mkdir(parents=True, exist_ok=True)
        # Workers share the directory: one writer at a time, so files and manifests pair up.
        with open(self.directory / ".lock", "a") as lock:
            if unless_saved_within is None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            else:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                if self._seconds_since_saved() < unless_saved_within:
                    return False
            with self.lock:
                seq = self.last_seq
                snaps = {
                    c: ix.snapshot({"model": self.model, "last_seq": seq})
                    for c, ix in self.indexes.items()
                }

            def write() -> None:
                for country, (data, meta) in snaps.items():
                    VectorIndex.write_snapshot(self._path(country), data, meta)

            run_at_low_priority(write)
        self.saved_seq = seq
        return True

    def _seconds_since_saved(self) -> float:
        try:  # the manifest of the last country is the last file a save writes
            written = manifest_path(self._path(COUNTRIES[-1])).stat().st_mtime
        except FileNotFoundError:
            return float("inf")
        return time.time() - written

    def load_or_rebuild(self, session: Session) -> str:
        """Load the saved index and catch up, or rebuild. Returns what happened."""
        how = "loaded"
        try:
            loaded: dict[str, VectorIndex] = {}
            seqs = set()
            for country in COUNTRIES:
                ix, meta = VectorIndex.load(
                    self._path(country), model=self.model, dim=2 * self.dim, nprobe=self.nprobe
                )
                expected = "flat" if len(ix) <= self.exact_max else "ivf"
                if ix.kind != expected:
                    raise IndexLoadError(
                        f"saved {country} index is {ix.kind}, settings call for {expected}"
                    )
                loaded[country] = ix
                seqs.add(meta.get("last_seq"))
            if len(seqs) != 1:
                raise IndexLoadError(f"country indexes were saved at different changes {seqs}")
            seq = int(seqs.pop())
            db_seq = changes.last_seq(session)
            if seq > db_seq:
                raise IndexLoadError(f"index is ahead of the database (change {seq} > {db_seq})")
            ids = [i for ix in loaded.values() for i in ix.ids().tolist()]
            columns = Columns(max(1024, max(ids, default=0) + 1), self.dim)
            meta = self._meta_rows(session, ids)
            for r in meta:
                columns.set(r)
            store = TermStore.build([terms_of(r) for r in meta])
            for ix in loaded.values():  # vectors come from the saved index, not re-read
                part = ix.ids()
                for start in range(0, len(part), 20_000):
                    chunk = part[start : start + 20_000]
                    columns.pairs[chunk] = ix.reconstruct(chunk)
            with self.lock:
                self.indexes, self.columns, self.last_seq = loaded, columns, seq
                self.terms = store
            self.catch_up(session)
            if not self._agrees_with_db(session):
                raise IndexLoadError("index and database disagree on profile counts (stale index)")
            self.saved_seq = seq
        except IndexLoadError as exc:
            log.warning("rebuilding the search index from stored vectors: %s", exc)
            self.rebuild(session)
            how = "rebuilt"
        self.ready = True
        return how

    def _meta_rows(self, session: Session, ids: list[int]) -> list[IndexedProfile]:
        """Everything but the vectors (which the saved index holds) of ``ids``."""
        out = []
        empty = np.zeros(0, dtype=np.float32)
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            hashes: dict[int, dict[str, str]] = {}
            terms: dict[int, dict[str, bytes]] = {}
            text_rows = select(
                _embedding.profile_id, _embedding.field, _embedding.text_hash, _embedding.terms
            ).where(_embedding.profile_id.in_(chunk), _embedding.model == self.model)
            for pid, field, h, t in session.connection().execute(text_rows):
                hashes.setdefault(pid, {})[field] = h
                terms.setdefault(pid, {})[field] = t
            for r in session.connection().execute(
                select(*META_COLUMNS).where(_profile.id.in_(chunk))
            ):
                out.append(indexed_profile(r, empty, empty, hashes.get(r.id), terms.get(r.id)))
        return out

    def _agrees_with_db(self, session: Session) -> bool:
        rows = session.execute(select(Profile.country, func.count()).group_by(Profile.country))
        db = {c: 0 for c in COUNTRIES} | {r[0]: r[1] for r in rows}
        return db == self.count()
