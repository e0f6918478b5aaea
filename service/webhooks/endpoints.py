from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.auth.service import allow_write, require_owner_or_admin
from service.core.pagination import CURSOR_PATTERN
from service.deps import PrincipalDep, SessionDep, StateDep, finish_here
from service.errors import ERROR_RESPONSES
from service.profiles import service as profiles
from service.webhooks import service
from service.webhooks.schemas import (
    Delivery,
    DeliveryList,
    State,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=ERROR_RESPONSES)
HOOK = "/profiles/{profile_id}/webhook"


@router.put(
    HOOK,
    response_model=WebhookCreated,
    responses={201: {"model": WebhookCreated, "description": "Created"}},
)
def put_webhook(
    profile_id: str,
    body: WebhookIn,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
) -> WebhookCreated:
    """Register or replace the profile's webhook (201 when new, 200 when replaced). Every call
    issues a new signing secret, shown only in this response."""
    profile = profiles.get(session, profile_id)
    allow_write(principal, state.limiter, owner_of=profile.id)
    issued = service.put(session, profile.id, body.url, state.settings.webhook)
    response.status_code = 201 if issued.created else 200
    return WebhookCreated(
        url=issued.webhook.url, secret=issued.secret, created_at=issued.webhook.created_at
    )


@router.get(HOOK, response_model=WebhookOut)
def get_webhook(profile_id: str, session: SessionDep, principal: PrincipalDep) -> WebhookOut:
    """The profile's webhook (never its secret)."""
    profile = profiles.get(session, profile_id)
    require_owner_or_admin(principal, profile.id)
    return service.to_out(service.get(session, profile.id))


@router.delete(HOOK, status_code=204)
def delete_webhook(
    profile_id: str, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Response:
    profile = profiles.get(session, profile_id)
    allow_write(principal, state.limiter, owner_of=profile.id)
    service.remove(session, profile.id)
    return Response(status_code=204)


@router.get(HOOK + "/deliveries", response_model=DeliveryList)
def list_deliveries(
    profile_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
) -> DeliveryList:
    """The profile's events, newest first, with their delivery state and every attempt."""
    profile = profiles.get(session, profile_id)
    require_owner_or_admin(principal, profile.id)
    return service.deliveries(session, profile.id, state=state, limit=limit, cursor=cursor)


@router.post(HOOK + "/deliveries/{event_id}/replay", status_code=202, response_model=Delivery)
def replay_delivery(
    profile_id: str, event_id: str, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Delivery:
    """Send an event again now, with a fresh round of attempts (whatever its state)."""
    profile = profiles.get(session, profile_id)
    allow_write(principal, state.limiter, owner_of=profile.id)
    out = service.replay(session, profile.id, event_id)
    finish_here(session)  # the deliverer, woken next, must find the event requeued
    state.webhooks.wake()
    return out
