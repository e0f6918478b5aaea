from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    field_validator,
)

from service.sectors import SECTOR_CODES
from service.vocab import Country, OrgType, PartnershipType

# Control characters other than tab and newlines have no place in a profile (and NUL cannot be
# stored by PostgreSQL).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


def _no_control(v: str) -> str:
    if _CONTROL.search(v):
        raise ValueError("must not contain control characters")
    return v


def _one_line(v: str) -> str:
    v = _SPACE.sub(" ", _no_control(v)).strip()
    if not v:
        raise ValueError("must not be blank")
    return v


def _text(v: str) -> str:
    return _no_control(v).strip()


def _sector(v: str) -> str:
    if v not in SECTOR_CODES:
        raise ValueError(f"unknown sector {v!r}; valid codes: {', '.join(SECTOR_CODES)}")
    return v


def _distinct(v: list[Any]) -> list[Any]:
    if len(set(v)) != len(v):
        raise ValueError("items must be distinct")
    return v


Name = Annotated[str, Field(min_length=2, max_length=200), AfterValidator(_one_line)]
ShortText = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_one_line)]
Tag = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_one_line)]
LongText = Annotated[str, Field(min_length=20, max_length=5000), AfterValidator(_text)]
SectorCode = Annotated[
    str, AfterValidator(_sector), Field(json_schema_extra={"enum": list(SECTOR_CODES)})
]
Sectors = Annotated[list[SectorCode], Field(min_length=1, max_length=5), AfterValidator(_distinct)]
PartnershipTypes = Annotated[list[PartnershipType], Field(max_length=7), AfterValidator(_distinct)]
Tags = Annotated[list[Tag], Field(max_length=30)]
Url = Annotated[HttpUrl, Field(max_length=500)]


class ProfileCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    country: Country
    org_type: OrgType
    sectors: Sectors
    capabilities: LongText
    needs: LongText
    partnership_types: PartnershipTypes = []
    employees: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    city: ShortText | None = None
    website: Url | None = None
    contact_email: EmailStr | None = None
    tags: Tags = []

    @field_validator("capabilities", "needs")
    @classmethod
    def _long_enough_after_strip(cls, v: str) -> str:
        if len(v) < 20:
            raise ValueError("must be at least 20 characters (not counting surrounding spaces)")
        return v


class ProfileUpdate(BaseModel):
    """Partial update: only the fields present change. Required fields cannot be set to null."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    org_type: OrgType | None = None
    sectors: Sectors | None = None
    capabilities: LongText | None = None
    needs: LongText | None = None
    partnership_types: PartnershipTypes | None = None
    employees: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    city: ShortText | None = None
    website: Url | None = None
    contact_email: EmailStr | None = None
    tags: Tags | None = None

    @field_validator(
        "name",
        "org_type",
        "sectors",
        "capabilities",
        "needs",
        "partnership_types",
        "tags",
        mode="before",
    )
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("cannot be null")
        return v


class ProfileSummary(BaseModel):
    id: str
    name: str
    country: str
    org_type: str
    sectors: list[str]
    city: str | None


class ProfileOut(ProfileSummary):
    capabilities: str
    needs: str
    partnership_types: list[str]
    employees: int | None
    website: str | None
    contact_email: str | None = Field(
        None, description="Shown only to the owner, officials and admins."
    )
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class ProfileCreated(ProfileOut):
    api_key: str = Field(description="The owner key. Shown only this once; keep it safe.")


class ProfileList(BaseModel):
    items: list[ProfileOut]
    next_cursor: str | None


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one so a bad item does not reject the others.
    profiles: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=1000)]


class BulkItemResult(BaseModel):
    index: int
    status: int
    id: str | None = None
    api_key: str | None = None
    error: Any = None


class BulkResponse(BaseModel):
    created: int
    failed: int
    results: list[BulkItemResult]


class Sector(BaseModel):
    code: str
    name: str
    description: str
    related: dict[str, float]


class SectorList(BaseModel):
    sectors: list[Sector]
