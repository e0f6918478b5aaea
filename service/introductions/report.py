"""Introductions and their outcomes as a file, for officials' reports (``matchmaker export
--what introductions``): one row per introduction, every outcome reported in its row."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.csvsafe import SafeCsvWriter
from service.files import private_dir, private_file
from service.introductions.models import OUTCOME_STAGES, Introduction, Outcome
from service.profiles.models import Profile

COLUMNS = (
    "introduction_id",
    "state",
    "brokered",
    "created_at",
    "introduced_at",
    "in_id",
    "in_name",
    "kr_id",
    "kr_name",
    "in_latest_stage",
    "in_latest_date",
    "kr_latest_stage",
    "kr_latest_date",
    "furthest_stage",
    "outcomes",
)
_OUTCOME = pa.struct(
    [
        ("stage", pa.string()),
        ("date", pa.string()),
        ("reported_by", pa.string()),
        ("note", pa.string()),
        ("reported_at", pa.string()),
    ]
)
_TYPES = {"brokered": pa.bool_(), "outcomes": pa.list_(_OUTCOME)}
SCHEMA = pa.schema([(c, _TYPES.get(c, pa.string())) for c in COLUMNS])
# Stages that move a partnership on, in order (``no_further_contact`` ends it, not a step).
_PROGRESS = OUTCOME_STAGES[:3]


def rows(session: Session) -> list[dict]:
    """Every introduction (proposed ones too), oldest first."""
    intros = list(session.scalars(select(Introduction).order_by(Introduction.id)))
    ids = {p for i in intros for p in (i.low_profile_id, i.high_profile_id)}
    people = {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(ids)))}
    outcomes: dict[int, list[Outcome]] = defaultdict(list)
    for o in session.scalars(select(Outcome).order_by(Outcome.reported_at, Outcome.id)):
        outcomes[o.introduction_id].append(o)
    out = []
    for i in intros:
        sides = {people[p].country: people[p] for p in (i.low_profile_id, i.high_profile_id)}
        ind, kor = sides["IN"], sides["KR"]
        history = outcomes[i.id]
        latest = {o.profile_id: o for o in history}
        reached = [_PROGRESS.index(o.stage) for o in history if o.stage in _PROGRESS]
        row = {
            "introduction_id": i.public_id,
            "state": i.state,
            "brokered": i.broker_key_id is not None,
            "created_at": i.created_at.isoformat(),
            "introduced_at": i.introduced_at.isoformat() if i.introduced_at else None,
            "in_id": ind.public_id,
            "in_name": ind.name,
            "kr_id": kor.public_id,
            "kr_name": kor.name,
            "furthest_stage": _PROGRESS[max(reached)] if reached else None,
            "outcomes": [
                {
                    "stage": o.stage,
                    "date": o.happened_on.isoformat(),
                    "reported_by": people[o.profile_id].public_id,
                    "note": o.note,
                    "reported_at": o.reported_at.isoformat(),
                }
                for o in history
            ],
        }
        for prefix, p in (("in", ind), ("kr", kor)):
            o = latest.get(p.id)
            row[f"{prefix}_latest_stage"] = o.stage if o else None
            row[f"{prefix}_latest_date"] = o.happened_on.isoformat() if o else None
        out.append(row)
    return out


def write(
    session: Session, out: Path, fmt: str, progress: Callable[[float], None] = lambda _: None
) -> int:
    """Write every introduction to ``out`` (csv, jsonl or parquet), atomically; returns rows."""
    private_dir(out.parent)
    tmp = private_file(out.with_name(f".{out.name}.partial"))
    data = rows(session)
    progress(0.5)
    if fmt == "parquet":
        table = pa.Table.from_pylist(data, schema=SCHEMA)
        pq.write_table(table, str(tmp), compression="zstd")
    else:
        # utf-8-sig: spreadsheets read Hangul and Devanagari correctly with the BOM.
        with open(tmp, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as fh:
            if fmt == "csv":
                writer = SafeCsvWriter(fh)  # formula-like cells neutralised
                writer.writerow(COLUMNS)
                writer.writerows(
                    [*(r[c] for c in COLUMNS[:-1]), json.dumps(r["outcomes"], ensure_ascii=False)]
                    for r in data
                )
            else:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in data)
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, out)
    progress(1.0)
    return len(data)
