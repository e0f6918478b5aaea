from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Query

from service.auth.service import require_staff
from service.deps import (
    EncoderDep,
    IndexDep,
    PrincipalDep,
    SessionDep,
    StateDep,
    finish_here,
)
from service.errors import ERROR_RESPONSES
from service.introductions.queries import PairStates
from service.matching import service
from service.matching.schemas import (
    MatchList,
    MatchOut,
    PairingList,
    PairingOut,
    SearchRequest,
    SearchResult,
)
from service.profiles.schemas import ProfileSummary, SectorFilter
from service.screening.schemas import PairScreening
from service.vocab import OrgType, PartnershipType

router = APIRouter(prefix="/v1", tags=["matching"], responses=ERROR_RESPONSES)
MinScore = Annotated[float, Query(ge=0, le=1)]


def _out(
    m: service.Match, pairs: PairStates | None = None, screening: PairScreening | None = None
) -> MatchOut:
    partner = m.profile.id
    return MatchOut(
        profile=ProfileSummary.of(m.profile),
        score=m.score,
        components=m.components,
        explanation=m.explanation,
        evidence=m.evidence,
        pair_state=pairs.states.get(partner, "none") if pairs else "none",
        introduction_id=pairs.introductions.get(partner) if pairs else None,
        screening=screening,
    )


Screening = Annotated[
    Literal["clear", "review_required"] | None,
    Query(description="Only pairs with this screening status."),
]


@router.get("/profiles/{profile_id}/matches", response_model=MatchList)
async def profile_matches(
    profile_id: str,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    sector: SectorFilter = None,
    org_type: OrgType | None = None,
    partnership_type: PartnershipType | None = None,
    min_score: MinScore = 0.0,
    include_declined: Annotated[
        bool, Query(description="Also list partners declined (either way) within the cooldown.")
    ] = False,
    screening: Screening = None,
) -> MatchList:
    """Best partners from the other country, best first (owner, officials, admins). Each match
    says how the pair stands in the introductions workflow (``pair_state``)."""
    index = state.index

    # The busiest endpoint: its work, from index catch-up to the end of the transaction, runs
    # in one thread-pool call among at most `match_concurrency` (first come, first served),
    # and the response is then validated and written on the event loop.
    def work() -> MatchList:
        profile, matches, pairs = service.match_list(
            session,
            index,
            state.settings,
            principal,
            profile_id,
            limit=limit,
            filters=service.Filters(sector, org_type, partnership_type),
            min_score=min_score,
            include_declined=include_declined,
        )
        checks = service.screen_matches(session, profile.id, matches, principal)
        out = MatchList(
            profile_id=profile.public_id,
            matches=[
                _out(m, pairs, c)
                for m, c in zip(matches, checks, strict=True)
                if screening is None or c.status == screening
            ],
        )
        finish_here(session)
        return out

    return await anyio.to_thread.run_sync(work, limiter=state.match_slots)


@router.post("/matches/search", response_model=SearchResult)
def search_matches(
    body: SearchRequest,
    session: SessionDep,
    state: StateDep,
    index: IndexDep,
    encoder: EncoderDep,
    principal: PrincipalDep,
) -> SearchResult:
    """Ad-hoc match list for an organisation that has not registered (officials, admins). Each
    result carries the pair's screening: the firm's capabilities are screened as they are
    searched with, beside the categories it declares."""
    require_staff(principal)
    found = service.search_adhoc(
        session,
        index,
        encoder,
        needs=body.needs,
        capabilities=body.capabilities,
        candidate_country=body.country,
        sectors=body.sectors,
        limit=body.limit,
        pool=state.settings.candidate_pool,
        ranker=state.settings.ranker,
    )
    checks = service.screen_adhoc(
        session,
        state.screener,
        found,
        declared=body.controlled_technologies,
        sectors=body.sectors,
        principal=principal,
    )
    return SearchResult(
        matches=[_out(m, screening=c) for m, c in zip(found.matches, checks, strict=True)]
    )


@router.get("/pairings", response_model=PairingList)
async def pairings(
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    sector: SectorFilter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    # At most 10 (was 100): with limit <= 1000, limit x per_org stays <= 10,000, a bound the
    # schema states (a rule across two parameters it could not), and each organisation's
    # candidate list (2 x per_org) stays within the candidate pool.
    per_org: Annotated[int, Query(ge=1, le=10)] = 3,
    min_score: MinScore = 0.0,
    screening: Screening = None,
) -> PairingList:
    """Best IN-KR pairs across the registry, each organisation in at most ``per_org`` pairs.

    ``per_org`` is at most 10, so ``limit`` x ``per_org`` is at most 10,000. The work runs in
    the pairings lane (``MATCHMAKER_PAIRINGS_CONCURRENCY``, at a low CPU priority), so it never
    crowds out registrations and match lists: 503 with Retry-After when its queue is full."""
    require_staff(principal)
    index = state.index

    def work() -> PairingList:
        index.catch_up(session)
        found = service.best_pairings(
            session,
            index,
            sector=sector,
            limit=limit,
            per_org=per_org,
            min_score=min_score,
            pool=state.settings.candidate_pool,
            ranker=state.settings.ranker,
        )
        checks = service.screen_pairings(session, found)
        out = PairingList(
            pairings=[
                PairingOut(
                    **{"in": ProfileSummary.of(p.in_profile)},
                    kr=ProfileSummary.of(p.kr_profile),
                    score=p.score,
                    components=p.components,
                    explanation=p.explanation,
                    evidence=p.evidence,
                    screening=c,
                )
                for p, c in zip(found, checks, strict=True)
                if screening is None or c.status == screening
            ]
        )
        finish_here(session)
        return out

    return await state.pairing_lane.run(work)
