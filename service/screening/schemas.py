from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NOTICE = "Screening is an aid for officials, not legal advice."
PairStatus = Literal["clear", "review_required"]
GateStatus = Literal["not_required", "pending_review", "cleared", "refused"]


class PairScreening(BaseModel):
    status: PairStatus
    categories: list[str] = Field(
        description="Category codes under review (officials and admins only; [] for others)."
    )
    reasons: list[str] = Field(description="Why (officials and admins only; [] for others).")


class CategoryOut(BaseModel):
    code: str
    regime: str
    name: str
    description: str
    source: str
    sectors: list[str]


class CategoryList(BaseModel):
    version: str
    notice: str
    regimes: dict[str, str]
    categories: list[CategoryOut]


class DecisionCreate(BaseModel):
    # "a refusal needs a reason", stated in the schema so that clients know the rule
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"decision": {"const": "refused"}}, "required": ["decision"]},
            "then": {"required": ["reason"], "properties": {"reason": {"type": "string"}}},
        },
    )

    profiles: Annotated[
        list[Annotated[str, Field(pattern=r"^pr_[0-9a-f]{16}$")]],
        Field(min_length=2, max_length=2),
    ]
    decision: Literal["cleared", "refused"]
    reason: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")] | None = None

    @model_validator(mode="after")
    def _reason_for_refusal(self) -> DecisionCreate:
        if self.decision == "refused" and not (self.reason or "").strip():
            raise ValueError("a refusal needs a reason")
        return self


class DecisionOut(BaseModel):
    id: str
    profiles: list[str]
    decision: str
    reason: str | None
    decided_by: int | None = Field(description="The id of the API key that decided.")
    decided_at: datetime
    vocabulary_version: str
    categories: list[str]
    notice: str = NOTICE


class QueueItem(BaseModel):
    profiles: list[str] = Field(description="The Indian profile first.")
    last_interest_at: datetime | None
    introduction_id: str | None
    screening: PairScreening
    decision: DecisionOut | None = Field(description="The latest decision, if any.")


class Queue(BaseModel):
    items: list[QueueItem]
    notice: str = NOTICE
