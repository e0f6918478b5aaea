"""Computing and writing the candidate-pairings export (CSV, JSONL, Parquet).

One row per (IN, KR) pair that is in the top-K of either side, with both ranks. Rows come from
``service.matching.ranking.top_pairs``, the same ranking path as ``/matches``. Files are written
under a temporary name and renamed when complete, so no reader ever sees a partial file.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.core.csvsafe import SafeCsvWriter
from service.exports.schemas import COLUMNS, ExportParams
from service.files import private_dir, private_file
from service.indexing.search import Filters
from service.indexing.service import MatchIndex
from service.introductions.queries import export_pair_states
from service.matching.evidence import DirectionEvidence, SentenceTable, answer
from service.matching.explain import Side, prose
from service.matching.features import COMPONENTS
from service.matching.ranking import top_pairs
from service.matching.service import PAIRING_DIRECTIONS
from service.profiles import repository as repo
from service.profiles.models import TEXT_FIELDS, Profile, ProfileEmbedding
from service.screening import service as screening

log = logging.getLogger(__name__)
Progress = Callable[[float], None]
PARQUET_SCHEMA = pa.schema(
    [
        ("in_id", pa.string()),
        ("in_name", pa.string()),
        ("in_city", pa.string()),
        ("kr_id", pa.string()),
        ("kr_name", pa.string()),
        ("kr_city", pa.string()),
        ("shared_sectors", pa.list_(pa.string())),
        ("score", pa.float32()),
        ("sector_fit", pa.float32()),
        ("complementarity", pa.float32()),
        ("similarity", pa.float32()),
        ("partnership_fit", pa.float32()),
        ("keywords", pa.float32()),
        ("rank_for_in", pa.int16()),
        ("rank_for_kr", pa.int16()),
        ("pair_state", pa.string()),
        ("screening_status", pa.string()),
        ("screening_categories", pa.list_(pa.string())),
        ("explanation", pa.string()),
        (
            "evidence",
            pa.list_(
                pa.struct(
                    [
                        ("direction", pa.string()),
                        ("need", pa.string()),
                        ("offer", pa.string()),
                        ("similarity", pa.float32()),
                    ]
                )
            ),
        ),
    ]
)
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


def candidate_pairs(
    index: MatchIndex, params: ExportParams, settings: Settings, progress: Progress
) -> dict[str, np.ndarray]:
    """Unique (IN, KR) pairs from both sides' top-K lists, filtered and ordered for the file."""
    out = top_pairs(
        index,
        k=params.top_k,
        pool=settings.candidate_pool,
        ranker=settings.ranker,
        filters=Filters(sector=params.sector),
        min_score=params.min_score,
        progress=lambda p: progress(0.5 * p),
    )
    if not out:
        return {}
    keep = np.ones(len(out["in"]), dtype=bool)
    if params.country == "IN":
        keep = out["rank_for_in"] > 0
    elif params.country == "KR":
        keep = out["rank_for_kr"] > 0
    out = {k: v[keep] for k, v in out.items()}
    # Best pairs first within each Indian profile; a stable, documented order.
    order = np.lexsort((out["kr"], -out["score"], out["in"]))
    return {k: v[order] for k, v in out.items()}


@dataclass
class Written:
    """What an export wrote: ``rows``, and ``skipped_pairs``, the candidate pairs left out
    because one of their profiles was deleted while the export ran."""

    rows: int = 0
    skipped_pairs: int = 0


class ProfileColumns:
    """Public fields of the exported profiles, addressed by id; ``found[id]`` is False for a
    profile no longer in the database (deleted since the pairs were ranked)."""

    def __init__(self, session: Session, ids: np.ndarray) -> None:
        size = int(ids.max()) + 1 if len(ids) else 1
        self.found = np.zeros(size, dtype=bool)
        self.public_id = np.empty(size, dtype=object)
        self.name = np.empty(size, dtype=object)
        self.city = np.empty(size, dtype=object)
        self.sectors = np.empty(size, dtype=object)
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000].tolist()
            rows = session.execute(
                select(
                    Profile.id, Profile.public_id, Profile.name, Profile.city, Profile.sectors
                ).where(Profile.id.in_(chunk))
            )
            for pid, pub, name, city, sectors in rows:
                self.public_id[pid], self.name[pid], self.city[pid] = pub, name, city
                self.sectors[pid] = tuple(sectors)
                self.found[pid] = True


class SentenceStore(SentenceTable):
    """The stored sentences of some profiles' ``fields``, addressed by profile id.

    The vector matrix is allocated once, at the size the database reports for the vectors
    (``length`` of the stored blobs), and filled as the rows arrive: stacking the rows' blocks
    at the end held every block and the stacked copy at once (the Korean side of 100,000
    profiles: 320 MB twice)."""

    def __init__(self, session: Session, ids: np.ndarray, fields: tuple[str, ...]) -> None:
        super().__init__(int(ids.max()) + 1 if len(ids) else 1, fields)
        t = ProfileEmbedding.__table__.c
        chunks = [ids[begin : begin + 5000].tolist() for begin in range(0, len(ids), 5000)]
        size = sum(
            session.connection()
            .execute(
                select(func.coalesce(func.sum(func.length(t.sentence_vectors)), 0)).where(
                    t.profile_id.in_(chunk), t.field.in_(fields)
                )
            )
            .scalar_one()
            for chunk in chunks
        )
        flat, used, dim = np.empty(int(size) // 2, np.float16), 0, 1
        for chunk in chunks:
            for (pid, field), (sents, vecs) in repo.sentence_data(
                session, chunk, fields, as_float16=True
            ).items():
                self.start[field][pid], self.count[field][pid] = len(self.texts), len(sents)
                self.texts.extend(sents)
                if used + vecs.size > len(flat):  # a text grew since it was measured
                    flat = np.concatenate([flat[:used], np.empty(vecs.size + used, np.float16)])
                flat[used : used + vecs.size] = vecs.ravel()
                used += vecs.size
                dim = vecs.shape[1] if len(sents) else dim
        self.matrix = flat[:used].reshape(-1, dim) if used else self.matrix

    def loaded(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` had sentences stored when this table was read (False: the profile
        was deleted before)."""
        return (self.count["capabilities"][ids] > 0) | (self.count["needs"][ids] > 0)


@cache
def shared_sectors(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    """A's sectors that B shares, in A's order (few distinct sector sets: cached)."""
    return tuple(s for s in a if s in b)


def quotes(ev: DirectionEvidence, needs: SentenceTable, offers: SentenceTable) -> list[Side | None]:
    """``explain.side`` of every row of ``ev``: the sentences looked up in one pass."""
    n_texts, o_texts = needs.texts, offers.texts
    return [
        Side(n_texts[i], o_texts[j], round(sim, 4), n_texts[g] if g != i else None, gap_sim)
        if i >= 0 and j >= 0
        else None
        for i, j, sim, g, gap_sim in zip(
            ev.need.tolist(),
            ev.offer.tolist(),
            ev.similarity.tolist(),
            ev.gap.tolist(),
            ev.gap_similarity.tolist(),
            strict=True,
        )
    ]


EVIDENCE_TYPE = pa.list_(
    pa.struct(
        [
            ("direction", pa.string()),
            ("need", pa.string()),
            ("offer", pa.string()),
            ("similarity", pa.float64()),  # rounded doubles, as /matches shows them
        ]
    )
)


def evidence_column(forward: list[Side | None], back: list[Side | None]) -> pa.Array:
    """The evidence of every row (``explain.render``'s, built as one Arrow column): the
    forward quote, then the one in return, each where there is one."""
    entries = [s for pair in zip(forward, back, strict=True) for s in pair]
    present = np.fromiter((s is not None for s in entries), bool, len(entries))
    quoted = [s for s in entries if s is not None]
    offsets = np.zeros(len(forward) + 1, np.int32)
    np.cumsum(present.reshape(-1, 2).sum(axis=1), out=offsets[1:])
    fields = [
        pa.array(np.tile(np.array(PAIRING_DIRECTIONS, object), len(forward))[present], pa.string()),
        pa.array([s.need for s in quoted], pa.string()),
        pa.array([s.offer for s in quoted], pa.string()),
        pa.array([s.similarity for s in quoted], pa.float64()),
    ]
    items = pa.StructArray.from_arrays(fields, fields=list(EVIDENCE_TYPE.value_type))
    return pa.ListArray.from_arrays(pa.array(offsets), items, type=EVIDENCE_TYPE)


class _Chunk(NamedTuple):
    """One chunk of export rows and the sentences of its Indian profiles (``iter_rows``)."""

    rows: np.ndarray  # positions in the pairs
    a: np.ndarray  # Indian profile ids
    b: np.ndarray  # Korean profile ids
    in_store: SentenceStore
    skipped: int  # pairs left out: a profile was deleted meanwhile


class Screening:
    """What pair screening needs of the exported profiles (``screening.sides``), read once:
    asked per chunk, the same Korean profiles were read again and again."""

    def __init__(self, session: Session, ids: np.ndarray) -> None:
        self.found: dict[int, screening.Side] = {}
        for start in range(0, len(ids), 5000):
            self.found |= screening.sides(session, ids[start : start + 5000].tolist())
        self.plain = {i for i, s in self.found.items() if not (s.declared or s.flags)}

    def pairs(
        self,
        a: np.ndarray,
        b: np.ndarray,
        forward: list[Side | None],
        back: list[Side | None],
    ) -> tuple[list[str], list[list[str]]]:
        """Status and categories of the pairs (a[r], b[r]): ``pair_screening`` with the
        sentences each pair's evidence quotes, called only where a side declares a controlled
        technology or was flagged (for the others it is always "clear", no categories)."""
        status, categories = ["clear"] * len(a), [[] for _ in range(len(a))]
        for r, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
            if x in self.plain and y in self.plain:
                continue
            quoted = {q for s in (forward[r], back[r]) if s is not None for q in (s.need, s.offer)}
            check = screening.pair_screening(self.found[x], self.found[y], quoted)
            status[r], categories[r] = check.status, check.categories
        return status, categories


def iter_rows(
    session: Session,
    index: MatchIndex | None,  # not read: rows come from ``pairs`` and the database
    pairs: dict[str, np.ndarray],
    progress: Progress,
    competitor_threshold: float,
    written: Written | None = None,
    chunk: int = 10_000,
    states: dict[tuple[int, int], str] | None = None,
    only_screening: str | None = None,
) -> Iterator[dict[str, list]]:
    """Export columns in chunks of rows, explanations quoted exactly as ``/matches`` does.

    Rows are ordered by Indian profile, so each chunk loads the sentences of its own Indian
    profiles; the Korean capability sentences, needed throughout, are loaded once.

    The pairs were ranked from the in-memory index, and profiles are read from the database
    afterwards, chunk by chunk: a profile deleted in between is simply gone. Its pairs are left
    out and counted in ``written.skipped_pairs`` (a deletion should not fail a long export,
    and rows are never written with half their data missing).
    """
    written = written if written is not None else Written()
    n = len(pairs.get("in", []))
    if n == 0:
        return
    ids = np.unique(np.concatenate([pairs["in"], pairs["kr"]]))
    profiles = ProfileColumns(session, ids)
    screen = Screening(session, ids)
    kr_store = SentenceStore(session, np.unique(pairs["kr"]), TEXT_FIELDS)
    log.info("export: %d rows; Korean sentences loaded", n)

    def sentences(start: int) -> _Chunk:
        """The pairs of the chunk at ``start`` whose profiles are all still there, with the
        sentences of its Indian profiles."""
        sl = np.arange(start, min(n, start + chunk))
        a, b = pairs["in"][sl], pairs["kr"][sl]
        in_store = SentenceStore(session, np.unique(a), TEXT_FIELDS)
        whole = profiles.found[a] & profiles.found[b] & in_store.loaded(a) & kr_store.loaded(b)
        skipped = int((~whole).sum())
        if skipped:
            sl, a, b = sl[whole], a[whole], b[whole]
        return _Chunk(sl, a, b, in_store, skipped)

    def evidence(c: _Chunk) -> tuple[DirectionEvidence, DirectionEvidence]:
        # Each Indian profile's sentences are gathered for about ten rows: widened from float16
        # once here instead of at every gather (the same float32 values either way).
        c.in_store.matrix = c.in_store.matrix.astype(np.float32)
        return answer(c.in_store, c.a, kr_store, c.b), answer(kr_store, c.b, c.in_store, c.a)

    # A chunk's evidence (numpy, which releases the GIL) is computed in a thread while this
    # one quotes and words the rows of the chunk before and reads the sentences of the chunk
    # after (Python, holding the GIL): the two share the cores. Reading in that thread instead
    # made it wait for the GIL at every step. The session stays with this thread.
    with ThreadPoolExecutor(1, thread_name_prefix="export-evidence") as pool:
        following = sentences(0)
        ahead = pool.submit(evidence, following)
        for start in range(0, n, chunk):
            (sl, a, b, in_store, skipped), pending = following, ahead
            if start + chunk < n:
                following = sentences(start + chunk)
                ahead = pool.submit(evidence, following)
            forward, back = pending.result()
            written.skipped_pairs += skipped
            if not len(sl):
                progress(0.5 + 0.5 * min(n, start + chunk) / n)
                continue
            a_sec, b_sec = profiles.sectors[a], profiles.sectors[b]
            a_name, b_name = profiles.name[a], profiles.name[b]
            cols: dict[str, list] = {
                "in_id": profiles.public_id[a].tolist(),
                "in_name": a_name.tolist(),
                "in_city": profiles.city[a].tolist(),
                "kr_id": profiles.public_id[b].tolist(),
                "kr_name": b_name.tolist(),
                "kr_city": profiles.city[b].tolist(),
                "shared_sectors": [shared_sectors(x, y) for x, y in zip(a_sec, b_sec, strict=True)],
                "score": np.round(pairs["score"][sl].astype(np.float64), 6).tolist(),
            }
            for c in COMPONENTS:
                cols[c] = np.round(pairs[c][sl].astype(np.float64), 6).tolist()
            for rank in ("rank_for_in", "rank_for_kr"):
                cols[rank] = [int(r) or None for r in pairs[rank][sl].tolist()]
            cols["pair_state"] = (
                [states.get(k, "none") for k in zip(a.tolist(), b.tolist(), strict=True)]
                if states
                else ["none"] * len(a)
            )
            rival = (pairs["similarity"][sl] >= competitor_threshold).tolist()
            fwd = quotes(forward, in_store, kr_store)
            bwd = quotes(back, kr_store, in_store)
            a_names, b_names = a_name.tolist(), b_name.tolist()
            a_secs, b_secs = a_sec.tolist(), b_sec.tolist()
            cols["explanation"] = [
                prose((a_names[r], b_names[r]), (a_secs[r], b_secs[r]), sides, rival[r])
                for r, sides in enumerate(zip(fwd, bwd, strict=True))
            ]
            cols["evidence"] = evidence_column(fwd, bwd)
            cols["screening_status"], cols["screening_categories"] = screen.pairs(a, b, fwd, bwd)
            progress(0.5 + 0.5 * min(n, start + chunk) / n)
            if only_screening is not None:
                # Known only once the pair's evidence is quoted: filtered here, not in ranking.
                keep = [status == only_screening for status in cols["screening_status"]]
                mask = pa.array(keep, pa.bool_())
                cols = {
                    k: col.filter(mask)
                    if isinstance(col, pa.Array)
                    else [v for v, y in zip(col, keep, strict=True) if y]
                    for k, col in cols.items()
                }
                if not cols["in_id"]:
                    continue
            yield cols


class _Writer:
    def __init__(self, fmt: str, path: Path) -> None:
        self.fmt = fmt
        self.pq: pq.ParquetWriter | None = None
        if fmt == "parquet":
            self.pq = pq.ParquetWriter(str(path), PARQUET_SCHEMA, compression="zstd")
            return
        # utf-8-sig: the BOM makes spreadsheet programs read Hangul and Devanagari correctly.
        self.fh = open(  # noqa: SIM115 - closed in close(), after the last chunk
            path, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline=""
        )
        if fmt == "csv":
            # Cells that start like a formula are neutralised (service.core.csvsafe).
            self.csv = SafeCsvWriter(self.fh)
            self.csv.writerow(COLUMNS)

    def write(self, cols: dict[str, list | pa.Array]) -> None:
        if self.pq is not None:
            self.pq.write_table(pa.Table.from_pydict(cols, schema=PARQUET_SCHEMA))
            return
        cols = {c: v.to_pylist() if isinstance(v, pa.Array) else v for c, v in cols.items()}
        rows = zip(*(cols[c] for c in COLUMNS), strict=True)
        if self.fmt == "csv":
            lists = (COLUMNS.index("shared_sectors"), COLUMNS.index("screening_categories"))
            ev = COLUMNS.index("evidence")  # the last column: JSON text in a CSV cell
            self.csv.writerows(
                (
                    *(";".join(v) if i in lists else v for i, v in enumerate(r[:ev])),
                    json.dumps(r[ev], ensure_ascii=False),
                )
                for r in rows
            )
        else:
            self.fh.writelines(
                json.dumps(dict(zip(COLUMNS, r, strict=True)), ensure_ascii=False) + "\n"
                for r in rows
            )

    def close(self) -> None:
        if self.pq is not None:
            self.pq.close()
        else:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()


def write_export(
    session: Session,
    index: MatchIndex,
    settings: Settings,
    params: ExportParams,
    out: Path,
    progress: Progress = lambda _: None,
) -> Written:
    """Write the export to ``out`` atomically; returns the rows written and pairs skipped."""
    private_dir(out.parent)
    t0 = time.perf_counter()
    pairs = candidate_pairs(index, params, settings, progress)
    log.info("export: candidate pairs in %.1f s", time.perf_counter() - t0)
    return write_pairs(session, pairs, settings, params, out, progress)


def write_pairs(
    session: Session,
    pairs: dict[str, np.ndarray],
    settings: Settings,
    params: ExportParams,
    out: Path,
    progress: Progress = lambda _: None,
) -> Written:
    """The second half of :func:`write_export`: the rows of ranked ``pairs`` (from
    ``candidate_pairs``), which need the database but not the index (the CLI lets the index go
    before it: several hundred MB at 100,000 profiles)."""
    private_dir(out.parent)
    t0 = time.perf_counter()
    # Created 0600 before anything is written to it; the rename keeps the mode. Made only
    # now: a ranking that raises (or a runner that stops) leaves no partial file behind.
    tmp = private_file(out.with_name(f".{out.name}.partial"))
    writer = _Writer(params.format, tmp)
    written = Written()
    try:
        # Encoding and compressing a chunk (pyarrow, the GIL released) overlaps building the next.
        with ThreadPoolExecutor(1, thread_name_prefix="export-write") as io:
            pending = None
            for cols in iter_rows(
                session,
                None,
                pairs,
                progress,
                settings.ranker.competitor_threshold,
                written,
                states=export_pair_states(session, settings.introductions.decline_cooldown_days),
                only_screening=params.screening,
            ):
                if pending is not None:
                    pending.result()
                pending = io.submit(writer.write, cols)
                written.rows += len(cols["in_id"])
            if pending is not None:
                pending.result()
        if written.rows == 0 and params.format == "parquet":
            writer.write({c: [] for c in COLUMNS})
        writer.close()
        os.replace(tmp, out)
        log.info(
            "export: %d rows written in %.1f s (%d pairs skipped: profiles deleted meanwhile)",
            written.rows,
            time.perf_counter() - t0,
            written.skipped_pairs,
        )
    except BaseException:
        try:
            writer.close()
        finally:
            tmp.unlink(missing_ok=True)
        raise
    progress(1.0)
    return written
