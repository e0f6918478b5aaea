from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol

from email_validator import EmailNotValidError, validate_email
from fastapi import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
)

from service.controls import catalogue
from service.core import text
from service.sectors import SECTOR_CODES
from service.vocab import Country, OrgType, PartnershipType


def _fit(v: str, max_length: int) -> str:
    # NFC can lengthen a text (a few letters have no composed form and decompose), and the
    # length limits are what the columns hold: checked again after normalising.
    if len(v) > max_length:
        raise ValueError(f"must be at most {max_length} characters after Unicode normalisation")
    return v


def _one_line(max_length: int, *, name: bool = False) -> Any:
    def check(v: str) -> str:
        bad = text.unsafe_in_one_line(v)
        if bad is not None:
            raise ValueError(
                f"must not contain control or format characters (found U+{ord(bad):04X}: "
                "zero-width, bidirectional and other invisible controls are refused)"
            )
        v = text.collapse_spaces(text.nfc(v))
        if not v:
            raise ValueError("must not be blank")
        if name and not text.has_visible_alnum(v):
            raise ValueError("must contain at least one letter or digit")
        return _fit(v, max_length)

    return AfterValidator(check)


def _long_text(max_length: int) -> Any:
    """Long texts are kept as written, in NFC."""

    def check(v: str) -> str:
        if text.unsafe_in_text(v) is not None:
            raise ValueError("must not contain control characters or lone surrogates")
        if not v.strip():
            raise ValueError("must not be blank")
        return _fit(text.nfc(v), max_length)

    return AfterValidator(check)


def _email(v: str) -> str:
    # ``test_environment`` admits the reserved .test domain that test fixtures and fuzzers use.
    try:
        return validate_email(v, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc


Email = Annotated[
    str, Field(max_length=320, json_schema_extra={"format": "email"}), AfterValidator(_email)
]


def _sector(v: str) -> str:
    if v not in SECTOR_CODES:
        raise ValueError(f"unknown sector {text.quote(v)}; valid codes: {', '.join(SECTOR_CODES)}")
    return v


def _distinct(v: list[Any]) -> list[Any]:
    if len(set(v)) != len(v):
        raise ValueError("items must be distinct")
    return v


def _optional_sector(v: str | None) -> str | None:
    return None if v is None else _sector(v)


# A sector code as a query parameter (filters), validated like the body field.
SectorFilter = Annotated[
    str | None,
    Query(json_schema_extra={"enum": list(SECTOR_CODES)}),
    AfterValidator(_optional_sector),
]


def _text_field(min_length: int, max_length: int, pattern: str) -> Any:
    # The pattern is published (clients and schemathesis see the rule); the validators enforce it.
    return Field(
        min_length=min_length, max_length=max_length, json_schema_extra={"pattern": pattern}
    )


# One-line fields are trimmed and their whitespace collapsed; long texts are stored as written.
# All are stored in NFC (service.core.text).
Name = Annotated[str, _text_field(2, 200, text.NAME_PATTERN), _one_line(200, name=True)]
ShortText = Annotated[str, _text_field(1, 100, text.ONE_LINE_PATTERN), _one_line(100)]
Tag = Annotated[str, _text_field(1, 40, text.ONE_LINE_PATTERN), _one_line(40)]
LongText = Annotated[str, _text_field(20, 5000, text.TEXT_PATTERN), _long_text(5000)]
SectorCode = Annotated[
    str, AfterValidator(_sector), Field(json_schema_extra={"enum": list(SECTOR_CODES)})
]
UNIQUE = {"uniqueItems": True}
Sectors = Annotated[
    list[SectorCode],
    Field(min_length=1, max_length=5, json_schema_extra=UNIQUE),
    AfterValidator(_distinct),
]
PartnershipTypes = Annotated[
    list[PartnershipType], Field(max_length=7, json_schema_extra=UNIQUE), AfterValidator(_distinct)
]
Tags = Annotated[list[Tag], Field(max_length=30)]


def _controlled(v: list[str]) -> list[str]:
    unknown = catalogue().unknown(v)
    if unknown:
        raise ValueError(
            "unknown controlled-technology codes: "
            + ", ".join(text.quote(c) for c in unknown)
            + " (GET /v1/screening/categories lists them)"
        )
    return _distinct(v)


ControlledTechnologies = Annotated[
    # The codes are published in the schema (clients and schemathesis see the rule).
    list[
        Annotated[
            str, Field(max_length=32, json_schema_extra={"enum": list(catalogue().categories)})
        ]
    ],
    Field(
        max_length=50,
        json_schema_extra=UNIQUE,
        description="Export-control categories the firm declares its technology falls in "
        "(codes such as ML5, WA-DU-3, SCOMET-6, KR-NCT-SEMI). Shown to the owner and officials "
        "only; used by screening, an aid for officials, not legal advice.",
    ),
    AfterValidator(_controlled),
]
Url = Annotated[HttpUrl, Field(max_length=500, json_schema_extra={"pattern": "^https?://"})]


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
    contact_email: Email | None = None
    tags: Tags = []
    controlled_technologies: ControlledTechnologies = []


class ProfileUpdate(BaseModel):
    """Partial update: only the fields present change. Required fields cannot be set to null;
    optional ones (employees, city, website, contact_email) are cleared with null."""

    model_config = ConfigDict(extra="forbid")

    # Typed without None (so null is rejected) but absent by default.
    name: Name = None  # type: ignore[assignment]
    org_type: OrgType = None  # type: ignore[assignment]
    sectors: Sectors = None  # type: ignore[assignment]
    capabilities: LongText = None  # type: ignore[assignment]
    needs: LongText = None  # type: ignore[assignment]
    partnership_types: PartnershipTypes = None  # type: ignore[assignment]
    employees: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    city: ShortText | None = None
    website: Url | None = None
    contact_email: Email | None = None
    tags: Tags = None  # type: ignore[assignment]
    controlled_technologies: ControlledTechnologies = None  # type: ignore[assignment]


class ProfileSummary(BaseModel):
    """A profile as a match list shows it: public fields only."""

    id: str
    name: str
    country: str
    org_type: str
    sectors: list[str]
    city: str | None

    @classmethod
    def of(cls, p: SummarySource) -> dict:
        """The summary of a stored profile or of the index's in-memory record of one.

        A dict, not a model: a response model validates it once, where building a model here
        would validate every partner of a match list twice."""
        return {
            "id": p.public_id,
            "name": p.name,
            "country": p.country,
            "org_type": p.org_type,
            "sectors": list(p.sectors),
            "city": p.city,
        }


class SummarySource(Protocol):
    """What a summary is made from (``Profile`` rows and ``indexing.columns.Summary``)."""

    public_id: str
    name: str
    country: str
    org_type: str
    sectors: Sequence[str]
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
    controlled_technologies: list[str] | None = Field(
        None, description="Declared export-control categories; owner, officials, admins only."
    )
    created_at: datetime
    updated_at: datetime


class ProfileCreated(ProfileOut):
    api_key: str = Field(description="The owner key. Shown only this once; keep it safe.")


class OwnerKey(BaseModel):
    id: str = Field(description="The profile's id.")
    api_key: str = Field(
        description="The profile's new owner key. Shown only this once; every earlier owner "
        "key of the profile no longer works."
    )


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
