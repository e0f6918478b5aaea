from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

State = Literal["pending", "delivered", "failed", "skipped"]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[
        HttpUrl,
        Field(
            max_length=2000,
            description="Where events are posted: https, or http to 127.0.0.1/localhost when "
            "the server allows it (development).",
            json_schema_extra={"pattern": "^https?://"},
        ),
    ]


class WebhookOut(BaseModel):
    url: str
    created_at: datetime
    updated_at: datetime


class WebhookCreated(BaseModel):
    url: str
    secret: str = Field(
        description="Signs every delivery (X-Matchmaker-Signature). Shown only in this "
        "response; each PUT issues a new one."
    )
    created_at: datetime


class Attempt(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class Delivery(BaseModel):
    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]
    state: State
    attempts: int = Field(description="Attempts in the current round (a replay starts anew).")
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempt_log: list[Attempt] = Field(description="Every attempt, oldest first.")


class DeliveryList(BaseModel):
    items: list[Delivery]
    next_cursor: str | None
