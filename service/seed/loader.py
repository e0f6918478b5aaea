"""Loading profiles (curated or synthetic) through the bulk-registration path."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from embeddings.encoder import Encoder
from service.db import transaction
from service.errors import Conflict, MatchmakerError
from service.profiles.service import register_many, validate_bulk_items

CURATED = Path(__file__).resolve().parents[2] / "seed_data" / "profiles.jsonl"
BATCH = 1000  # the bulk endpoint's maximum


@dataclass
class SeedReport:
    created: int = 0
    existing: int = 0
    failed: int = 0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_profiles(
    factory: sessionmaker[Session],
    encoder: Encoder,
    profiles: Iterable[dict[str, Any]],
    total: int | None = None,
    progress: bool = True,
) -> SeedReport:
    """Register profiles in bulk batches; already-registered organisations are left alone."""
    report = SeedReport()
    bar = tqdm(total=total, desc="seeding", unit="profile", disable=not progress)
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        validated = validate_bulk_items(batch)
        valid = [v for v in validated if not isinstance(v, MatchmakerError)]
        report.failed += len(validated) - len(valid)
        with transaction(factory) as session:
            for r in register_many(session, encoder, valid):
                if isinstance(r, Conflict):
                    report.existing += 1
                elif isinstance(r, MatchmakerError):
                    report.failed += 1
                else:
                    report.created += 1
        bar.update(len(batch))
        batch.clear()

    for p in profiles:
        batch.append(p)
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    bar.close()
    return report
