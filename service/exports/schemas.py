from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.profiles.schemas import SectorCode
from service.vocab import Country

Format = Literal["csv", "jsonl", "parquet"]

COLUMNS = (
    "in_id",
    "in_name",
    "in_city",
    "kr_id",
    "kr_name",
    "kr_city",
    "shared_sectors",
    "score",
    "sector_fit",
    "complementarity",
    "similarity",
    "partnership_fit",
    "keywords",
    "rank_for_in",
    "rank_for_kr",
    "pair_state",
    "screening_status",
    "screening_categories",
    "explanation",
    "evidence",
)


class ExportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Format = "csv"
    sector: SectorCode | None = None
    country: Country | None = Field(
        None, description="Only rows from this country's top-K lists (rank_for_xx set)."
    )
    top_k: Annotated[int, Field(ge=1, le=100)] = 10
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.0
    screening: Literal["clear", "review_required"] | None = Field(
        None,
        description="Only rows whose pair has this screening status (an aid for officials, "
        "not legal advice).",
    )


class ExportStatus(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    rows: int | None
    skipped_pairs: int | None = Field(
        None,
        description="Candidate pairs left out because one of their profiles was deleted while "
        "the export ran (set when done).",
    )
    error: str | None
    format: str
