"""Computing and writing the candidate-pairings export (CSV, JSONL, Parquet).

One row per (IN, KR) pair that is in the top-K of either side, with both ranks. Rows come from
``service.matching.service.rank_all``, the same ranking path as ``/matches``. Files are written
under a temporary name and renamed when complete, so no reader ever sees a partial file.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.exports.schemas import COLUMNS, ExportParams
from service.indexing.service import MatchIndex
from service.matching.explain import explain
from service.matching.scoring import COMPONENTS
from service.matching.service import Filters, rank_all
from service.profiles import repository as repo
from service.profiles.models import Profile

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
        ("rank_for_in", pa.int16()),
        ("rank_for_kr", pa.int16()),
        ("explanation", pa.string()),
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
    """Top-K lists of both sides merged into unique pairs (vectorised, no per-pair Python)."""
    f = Filters(sector=params.sector)
    parts = []
    total = sum(len(index.columns.ids_where(c, index.columns.present)) for c in ("IN", "KR"))
    done = 0
    for country in ("IN", "KR"):
        for r in rank_all(
            index,
            country,
            k=params.top_k,
            pool=settings.candidate_pool,
            weights=settings.weights,
            query_filter=f,
            candidate_filter=f,
            batch=512,
        ):
            valid = r.ids >= 0
            rows, cols = np.nonzero(valid)
            q, c = r.query_ids[rows], r.ids[rows, cols]
            in_id, kr_id = (q, c) if country == "IN" else (c, q)
            part = {
                "in": in_id,
                "kr": kr_id,
                "score": r.scores[rows, cols],
                "side": np.full(len(rows), 0 if country == "IN" else 1, np.int8),
                "rank": (cols + 1).astype(np.int16),
            }
            part |= {name: r.components[name][rows, cols] for name in COMPONENTS}
            parts.append(part)
            done += len(r.query_ids)
            progress(0.5 * done / max(total, 1))
    if not parts:
        return {}
    allp = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    key = allp["in"].astype(np.int64) << 32 | allp["kr"].astype(np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    allp = {k: v[order] for k, v in allp.items()}
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    group = np.cumsum(first) - 1
    n = int(first.sum())
    rank_in = np.zeros(n, np.int16)
    rank_kr = np.zeros(n, np.int16)
    is_in, is_kr = allp["side"] == 0, allp["side"] == 1
    rank_in[group[is_in]] = allp["rank"][is_in]
    rank_kr[group[is_kr]] = allp["rank"][is_kr]
    out = {k: allp[k][first] for k in ("in", "kr", "score", *COMPONENTS)}
    out["rank_for_in"], out["rank_for_kr"] = rank_in, rank_kr
    keep = out["score"] >= params.min_score
    if params.country == "IN":
        keep &= rank_in > 0
    elif params.country == "KR":
        keep &= rank_kr > 0
    # Best pairs first within each Indian profile; a stable, documented order.
    out = {k: v[keep] for k, v in out.items()}
    order = np.lexsort((-out["score"], out["in"]))
    return {k: v[order] for k, v in out.items()}


def iter_rows(
    session: Session,
    index: MatchIndex,
    pairs: dict[str, np.ndarray],
    progress: Progress,
    chunk: int = 2000,
) -> Iterator[list[dict]]:
    """Rows with names and explanations, in chunks (profiles and sentences loaded per chunk)."""
    n = len(pairs.get("in", []))
    for start in range(0, n, chunk):
        sl = slice(start, start + chunk)
        in_ids, kr_ids = pairs["in"][sl], pairs["kr"][sl]
        ids = np.unique(np.concatenate([in_ids, kr_ids]))
        profiles = {
            p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(ids.tolist())))
        }
        sent = repo.sentence_data(session, ids.tolist())
        caps, needs = index.vectors(ids)
        pos = {int(i): n_ for n_, i in enumerate(ids)}
        rows = []
        for j, (a, b) in enumerate(zip(in_ids.tolist(), kr_ids.tolist(), strict=True)):
            pa_, pb = profiles[a], profiles[b]
            ia, ib = pos[a], pos[b]
            text = explain(
                pa_.name,
                list(pa_.sectors),
                pb.name,
                list(pb.sectors),
                a_caps=caps[ia],
                a_needs=needs[ia],
                b_caps=caps[ib],
                b_needs=needs[ib],
                a_sentences={f: sent.get((a, f)) for f in repo.TEXT_FIELDS},
                b_sentences={f: sent.get((b, f)) for f in repo.TEXT_FIELDS},
            )
            k = start + j
            rows.append(
                {
                    "in_id": pa_.public_id,
                    "in_name": pa_.name,
                    "in_city": pa_.city,
                    "kr_id": pb.public_id,
                    "kr_name": pb.name,
                    "kr_city": pb.city,
                    "shared_sectors": [s for s in pa_.sectors if s in pb.sectors],
                    "score": round(float(pairs["score"][k]), 6),
                    **{c: round(float(pairs[c][k]), 6) for c in COMPONENTS},
                    "rank_for_in": int(pairs["rank_for_in"][k]) or None,
                    "rank_for_kr": int(pairs["rank_for_kr"][k]) or None,
                    "explanation": text,
                }
            )
        progress(0.5 + 0.5 * min(n, start + chunk) / max(n, 1))
        yield rows


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
            self.csv = csv.DictWriter(self.fh, fieldnames=COLUMNS)
            self.csv.writeheader()

    def write(self, rows: list[dict]) -> None:
        if self.pq is not None:
            self.pq.write_table(pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA))
        elif self.fmt == "csv":
            self.csv.writerows({**r, "shared_sectors": ";".join(r["shared_sectors"])} for r in rows)
        else:
            self.fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)

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
) -> int:
    """Write the export to ``out`` atomically; returns the number of rows."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    pairs = candidate_pairs(index, params, settings, progress)
    writer = _Writer(params.format, tmp)
    rows = 0
    try:
        for chunk in iter_rows(session, index, pairs, progress):
            writer.write(chunk)
            rows += len(chunk)
        if rows == 0 and params.format == "parquet":
            writer.write([])
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        try:
            writer.close()
        finally:
            tmp.unlink(missing_ok=True)
        raise
    progress(1.0)
    return rows
