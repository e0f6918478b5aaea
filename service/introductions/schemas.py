"""Request and response shapes of the introductions workflow."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from service.core import text
from service.profiles.schemas import ProfileSummary
from service.vocab import PartnershipType

InterestState = Literal["pending", "accepted", "declined", "withdrawn", "expired"]
DeclineReason = Literal["not_relevant", "competitor", "not_now", "already_in_contact", "other"]
OutcomeStage = Literal["meeting_held", "negotiating", "agreement_signed", "no_further_contact"]
IntroductionState = Literal["proposed", "active", "declined", "expired"]
# How a pair stands, as the asker sees it (match lists, exports).
PairState = Literal["none", "sent", "received", "declined", "introduced"]


def _message(v: str) -> str:
    # Controls other than tab and newlines have no place in a message (NUL cannot even be
    # stored by PostgreSQL); the rule is the long texts' (``core.text``), published as pattern.
    if text.unsafe_in_text(v) is not None:
        raise ValueError("must not contain control characters or lone surrogates")
    return text.nfc(v).strip()


Message = Annotated[
    str,
    Field(max_length=2000, json_schema_extra={"pattern": text.MESSAGE_PATTERN}),
    AfterValidator(_message),
]
ProfileId = Annotated[str, Field(pattern=r"^pr_[0-9a-f]{16}$", examples=["pr_0123456789abcdef"])]


class InterestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: ProfileId = Field(description="The profile the interest is sent to (the other country).")
    message: Message = Field("", description="A short note to the recipient (≤ 2,000 chars).")
    partnership_type: PartnershipType | None = Field(
        None, description="The kind of partnership proposed, if any."
    )


class DeclineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DeclineReason
    note: Message | None = None


class IntroductionCreate(BaseModel):
    """An official proposes that two profiles meet."""

    model_config = ConfigDict(extra="forbid")

    profiles: Annotated[list[ProfileId], Field(min_length=2, max_length=2)] = Field(
        description="The two profiles, one Indian and one Korean."
    )
    message: Message = Field("", description="Why the official suggests it; both sides see it.")


class OutcomeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: OutcomeStage
    date: dt.date = Field(description="When it happened (not in the future).")
    note: Message | None = None


class InterestOut(BaseModel):
    id: str
    state: InterestState
    direction: Literal["outgoing", "incoming"] | None = Field(
        None, description="As seen from the profile whose list this is; absent elsewhere."
    )
    sender: ProfileSummary | None = Field(
        None, description="The sending profile; none when an official brokered the interest."
    )
    recipient: ProfileSummary
    counterpart: ProfileSummary = Field(
        description="The other side of the proposed partnership, as the recipient sees it."
    )
    brokered: bool
    introduction_id: str | None
    message: str
    partnership_type: str | None
    decline_reason: DeclineReason | None
    decline_note: str | None
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None


class InterestList(BaseModel):
    items: list[InterestOut]
    next_cursor: str | None


class Contact(BaseModel):
    """Contact details, shown only to the other side of an active introduction (and staff)."""

    contact_email: str | None
    website: str | None


class PartyOut(BaseModel):
    profile: ProfileSummary
    contact: Contact | None = Field(
        None, description="Present once the introduction is active, for those entitled to it."
    )
    accepted: bool = Field(description="Whether this side agreed to the introduction.")
    latest_outcome: OutcomeOut | None = None


class OutcomeOut(BaseModel):
    stage: OutcomeStage
    date: dt.date
    note: str | None
    reported_by: str = Field(description="Public id of the reporting profile.")
    reported_at: datetime


class IntroductionOut(BaseModel):
    id: str
    state: IntroductionState
    brokered: bool
    message: str
    parties: list[PartyOut]
    created_at: datetime
    introduced_at: datetime | None
    interests: list[InterestOut] = Field(description="The interests that led to it, oldest first.")
    outcomes: list[OutcomeOut] = Field(description="Every outcome reported, oldest first.")
    screening: Literal["not_required", "pending_review", "cleared", "refused"] = Field(
        "not_required",
        description="Sensitive-technology screening of the pair (an aid for officials, not "
        "legal advice): while pending_review, or once refused, the sides see no contact "
        "details; cleared or not_required, they do once the introduction is active.",
    )


class IntroductionList(BaseModel):
    items: list[IntroductionOut]
    counts: dict[str, int] = Field(description="Introductions matching the filters, by state.")
    next_cursor: str | None


class Funnel(BaseModel):
    interests_sent: int
    accepted: int
    declined: int
    declined_by_reason: dict[str, int]
    withdrawn: int
    expired: int
    pending: int
    introductions: int
    meetings: int = Field(description="Introductions where a side reported a meeting or later.")
    negotiations: int = Field(description="... where a side reported negotiating or later.")
    agreements: int = Field(description="... where a side reported an agreement signed.")


PartyOut.model_rebuild()
