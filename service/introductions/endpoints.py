from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from service.auth.service import allow_write, require_owner_or_staff, require_staff
from service.core.pagination import CURSOR_PATTERN
from service.deps import PrincipalDep, SessionDep, StateDep
from service.errors import ERROR_RESPONSES
from service.introductions import queries, service, views
from service.introductions.schemas import (
    DeclineRequest,
    Funnel,
    InterestCreate,
    InterestList,
    InterestOut,
    InterestState,
    IntroductionCreate,
    IntroductionList,
    IntroductionOut,
    IntroductionState,
    OutcomeCreate,
    OutcomeOut,
)
from service.profiles import service as profiles
from service.profiles.schemas import SectorFilter
from service.screening.schemas import Queue
from service.vocab import Country

router = APIRouter(prefix="/v1", tags=["introductions"], responses=ERROR_RESPONSES)
Cursor = Annotated[str | None, Query(pattern=CURSOR_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post("/profiles/{profile_id}/interests", status_code=201, response_model=InterestOut)
def send_interest(
    profile_id: str,
    body: InterestCreate,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
) -> InterestOut:
    """The owner of ``profile_id`` tells another firm it is interested. The recipient sees the
    sender's public profile and message, never its contact details. Mutual at once (state
    ``accepted``, an introduction made) if the recipient already has an interest open towards
    the sender."""
    interest = service.send_interest(
        session, state.settings.introductions, principal, profile_id, body
    )
    if principal.role != "admin":
        state.limiter.write(principal.rate_key)
    response.headers["Location"] = f"/v1/interests/{interest.public_id}"
    return views.interests_out(session, [interest], perspective=interest.from_profile_id)[0]


@router.get("/profiles/{profile_id}/interests", response_model=InterestList)
def list_interests(
    profile_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    direction: Literal["incoming", "outgoing"] | None = None,
    state: InterestState | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> InterestList:
    """A profile's interests, newest first (owner, officials, admins)."""
    profile = profiles.get(session, profile_id)
    require_owner_or_staff(principal, profile.id)
    return queries.list_interests(
        session, profile, direction=direction, state=state, cursor=cursor, limit=limit
    )


@router.get("/interests/{interest_id}", response_model=InterestOut)
def get_interest(interest_id: str, session: SessionDep, principal: PrincipalDep) -> InterestOut:
    """One interest (its two sides, officials, admins)."""
    interest = service.get_interest(session, interest_id)
    require_owner_or_staff(principal, interest.from_profile_id, interest.to_profile_id)
    return views.interests_out(session, [interest], perspective=principal.profile_id)[0]


def _answer(
    interest_id: str,
    action: str,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    decline: DeclineRequest | None = None,
) -> InterestOut:
    interest = service.answer(session, principal, interest_id, action, decline)
    if principal.role != "admin":
        state.limiter.write(principal.rate_key)
    return views.interests_out(session, [interest], perspective=principal.profile_id)[0]


@router.post("/interests/{interest_id}/accept", response_model=InterestOut)
def accept(
    interest_id: str, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> InterestOut:
    """The recipient accepts: an introduction is made, and both sides see each other's
    contact details (for a brokered one, once both sides accepted)."""
    return _answer(interest_id, "accept", session, state, principal)


@router.post("/interests/{interest_id}/decline", response_model=InterestOut)
def decline(
    interest_id: str,
    body: DeclineRequest,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
) -> InterestOut:
    """The recipient declines, with a reason code and optionally a note."""
    return _answer(interest_id, "decline", session, state, principal, body)


@router.post("/interests/{interest_id}/withdraw", response_model=InterestOut)
def withdraw(
    interest_id: str, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> InterestOut:
    """The sender (for a brokered interest, its official) withdraws a pending interest."""
    return _answer(interest_id, "withdraw", session, state, principal)


@router.post("/introductions", status_code=201, response_model=IntroductionOut)
def propose_introduction(
    body: IntroductionCreate,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
) -> IntroductionOut:
    """An official proposes that two profiles meet. Each side receives it as an interest from
    the official; contacts are revealed only when both accept."""
    allow_write(principal, state.limiter)
    intro = service.broker(session, state.settings.introductions, principal, body)
    response.headers["Location"] = f"/v1/introductions/{intro.public_id}"
    return views.introduction_out(session, intro, principal)


@router.get("/introductions", response_model=IntroductionList)
def list_introductions(
    session: SessionDep,
    principal: PrincipalDep,
    state: IntroductionState | None = None,
    sector: SectorFilter = None,
    country: Country | None = None,
    since: datetime | None = None,
    profile: Annotated[
        str | None, Query(pattern=r"^pr_[0-9a-f]{16}$", description="Only this profile's.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    screening: Annotated[
        Literal["clear", "review_required"] | None,
        Query(description="Only pairs with this screening status (an aid for officials)."),
    ] = None,
) -> IntroductionList:
    """Officials' view: every introduction matching the filters with its full history (the
    interests, every outcome reported), and counts by state (of those the filters leave)."""
    require_staff(principal)
    found = profiles.get(session, profile) if profile else None
    return queries.list_introductions(
        session,
        principal,
        state=state,
        sector=sector,
        country=country,
        since=since,
        profile=found,
        cursor=cursor,
        limit=limit,
        screened=screening,
    )


@router.get("/introductions/{introduction_id}", response_model=IntroductionOut)
def get_introduction(
    introduction_id: str, session: SessionDep, principal: PrincipalDep
) -> IntroductionOut:
    """One introduction. Its two sides see each other's contact details once it is active;
    every such showing is recorded."""
    intro = service.get_introduction(session, introduction_id)
    require_owner_or_staff(principal, intro.low_profile_id, intro.high_profile_id)
    return views.introduction_out(session, intro, principal)


@router.post(
    "/introductions/{introduction_id}/outcomes", status_code=201, response_model=OutcomeOut
)
def report_outcome(
    introduction_id: str,
    body: OutcomeCreate,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
) -> OutcomeOut:
    """Either side reports how it went: meeting_held, negotiating, agreement_signed or
    no_further_contact, with a date. Every report is kept; the latest per side is shown."""
    outcome = service.report_outcome(session, principal, introduction_id, body)
    if principal.role != "admin":
        state.limiter.write(principal.rate_key)
    return views.outcome_view(session, outcome)


@router.get("/screening/queue", response_model=Queue, tags=["screening"])
def screening_queue(
    session: SessionDep,
    principal: PrincipalDep,
    state: Literal["pending", "decided", "all"] = "pending",
    limit: Limit = 50,
) -> Queue:
    """Officials' screening queue: pairs with an interest or an introduction whose screening
    requires review, newest interest first, with the categories, reasons and latest decision.
    Screening is an aid for officials, not legal advice."""
    require_staff(principal)
    return Queue(items=queries.screening_queue(session, state=state, limit=limit))


@router.get("/stats/funnel", response_model=Funnel)
def funnel(
    session: SessionDep,
    principal: PrincipalDep,
    sector: SectorFilter = None,
    country: Country | None = None,
    since: datetime | None = None,
) -> Funnel:
    """Interests sent, accepted, declined by reason, introductions, meetings, negotiations and
    agreements (officials, admins)."""
    require_staff(principal)
    return queries.funnel(session, sector=sector, country=country, since=since)
