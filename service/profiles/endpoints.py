from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from service.auth.service import Principal, allow_write, require_admin
from service.core import text
from service.core.pagination import CURSOR_PATTERN
from service.deps import (
    KEY_OPTIONAL,
    EncoderDep,
    IdempotencyDep,
    PrincipalDep,
    SessionDep,
    StateDep,
    client_address,
    finish_here,
)
from service.errors import ERROR_RESPONSES, MatchmakerError
from service.idempotency import service as idempotency
from service.profiles import service
from service.profiles.schemas import (
    BulkItemResult,
    BulkRequest,
    BulkResponse,
    OwnerKey,
    ProfileCreate,
    ProfileCreated,
    ProfileList,
    ProfileOut,
    ProfileUpdate,
    Sector,
    SectorFilter,
    SectorList,
)
from service.sectors import SECTOR_CODES, SECTORS, relation
from service.vocab import Country, OrgType

router = APIRouter(prefix="/v1", tags=["profiles"], responses=ERROR_RESPONSES)


@router.post(
    "/profiles", status_code=201, response_model=ProfileCreated, openapi_extra=KEY_OPTIONAL
)
def create_profile(
    body: ProfileCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    retry: IdempotencyDep,
) -> ProfileCreated:
    """Open registration. The response carries the owner key, shown only this once (and to a
    retry with the same `Idempotency-Key` and body)."""
    if principal.role != "admin":
        state.limiter.registration(client_address(request))
    reg = service.register(session, state.encoder, body)
    out = service.to_out(reg.profile, Principal("owner", profile_id=reg.profile.id))
    response.headers["Location"] = f"/v1/profiles/{reg.profile.public_id}"
    created = ProfileCreated(**out.model_dump(), api_key=reg.api_key)
    idempotency.remember(session, retry, 201, created, response.headers, _ttl(state))
    return created


def _ttl(state: StateDep) -> timedelta:
    return timedelta(hours=state.settings.idempotency_ttl_hours)


@router.post("/profiles/bulk", response_model=BulkResponse)
async def bulk_create(
    body: BulkRequest,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    retry: IdempotencyDep,
) -> BulkResponse:
    """Register up to 1000 profiles (officials and admins); each item succeeds or fails alone.

    Counts one write per profile against the key's rate limit; texts over
    ``MATCHMAKER_BULK_MAX_TEXT_CHARS`` in all are 413. The work runs in the bulk lane
    (``MATCHMAKER_BULK_CONCURRENCY``, at a low CPU priority): 503 with Retry-After when its
    queue is full."""
    service.check_bulk_size(body.profiles, state.settings.bulk_max_text_chars)
    await run_in_threadpool(allow_write, principal, state.limiter, cost=len(body.profiles))

    def work() -> BulkResponse:
        validated = service.validate_bulk_items(body.profiles)
        valid = [(i, v) for i, v in enumerate(validated) if not isinstance(v, MatchmakerError)]
        done = service.register_many(session, state.encoder, [v for _, v in valid], background=True)
        results: list[BulkItemResult] = []
        outcome = dict(zip([i for i, _ in valid], done, strict=True))
        for i, v in enumerate(validated):
            r = outcome.get(i, v)
            if isinstance(r, MatchmakerError):
                results.append(BulkItemResult(index=i, status=r.status_code, error=r.body()))
            else:
                results.append(
                    BulkItemResult(index=i, status=201, id=r.profile.public_id, api_key=r.api_key)
                )
        created = sum(1 for r in results if r.status == 201)
        out = BulkResponse(created=created, failed=len(results) - created, results=results)
        # Stored in the write's own transaction, which finish_here then commits.
        idempotency.remember(session, retry, 200, out, {}, _ttl(state))
        finish_here(session)
        return out

    return await state.bulk_lane.run(work)


@router.get("/profiles", response_model=ProfileList, openapi_extra=KEY_OPTIONAL)
def list_profiles(
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    country: Country | None = None,
    sector: SectorFilter = None,
    org_type: OrgType | None = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, json_schema_extra={"pattern": text.QUERY_PATTERN}),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
) -> ProfileList:
    out = service.list_profiles(
        session,
        principal,
        country=country,
        sector=sector,
        org_type=org_type,
        q=q,
        limit=limit,
        cursor=cursor,
    )
    finish_here(session)
    return out


@router.get("/profiles/{profile_id}", response_model=ProfileOut, openapi_extra=KEY_OPTIONAL)
def get_profile(
    profile_id: str, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> ProfileOut:
    out = service.to_out(service.get(session, profile_id), principal)
    finish_here(session)
    return out


@router.patch("/profiles/{profile_id}", response_model=ProfileOut)
def update_profile(
    profile_id: str,
    body: ProfileUpdate,
    session: SessionDep,
    state: StateDep,
    encoder: EncoderDep,
    principal: PrincipalDep,
) -> ProfileOut:
    profile = service.get(session, profile_id)
    allow_write(principal, state.limiter, owner_of=profile.id)
    return service.to_out(service.update(session, encoder, profile, body), principal)


@router.delete("/profiles/{profile_id}", status_code=204)
def delete_profile(
    profile_id: str, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Response:
    profile = service.get(session, profile_id)
    allow_write(principal, state.limiter, owner_of=profile.id)
    service.delete(session, profile)
    return Response(status_code=204)


@router.post("/profiles/{profile_id}/owner-key", response_model=OwnerKey)
def reissue_owner_key(profile_id: str, session: SessionDep, principal: PrincipalDep) -> OwnerKey:
    """Admins: a new owner key for the profile, shown only this once. Every earlier owner key
    of the profile stops working at once (for an owner who lost theirs, or after a leak)."""
    require_admin(principal)
    profile = service.get(session, profile_id)
    return OwnerKey(id=profile.public_id, api_key=service.reissue_owner_key(session, profile))


@router.get("/sectors", response_model=SectorList, tags=["reference"])
def list_sectors() -> SectorList:
    return SectorList(
        sectors=[
            Sector(
                code=s.code,
                name=s.name,
                description=s.description,
                related={
                    o: relation(s.code, o)
                    for o in SECTOR_CODES
                    if o != s.code and relation(s.code, o) > 0
                },
            )
            for s in SECTORS
        ]
    )
