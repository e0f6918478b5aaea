"""Typed application state and the ``Annotated`` dependency aliases used by route handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import anyio
from fastapi import Depends, Header, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from embeddings.encoder import Encoder
from service.auth.service import ANONYMOUS, Principal, lookup_key, resolve_without_lookup
from service.config import Settings
from service.core import text
from service.core.middleware import Metrics
from service.core.ratelimit import RateLimiter
from service.core.threads import BackgroundLoop, Lane
from service.errors import (
    IdempotencyInProgress,
    InvalidInput,
    MatchmakerError,
    Replayed,
    Unauthorized,
)
from service.idempotency import service as idempotency
from service.indexing.service import MatchIndex

if TYPE_CHECKING:  # the request layer holds the screener; it never calls into screening
    from service.screening.engine import Screener

log = logging.getLogger(__name__)


@dataclass
class AppState:
    """What request handlers need, built once by the app's lifespan.

    The background loops are held as ``BackgroundLoop`` (start, stop, wake): handlers only wake
    them, so the request layer depends on no domain's job machinery."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    encoder: Encoder
    index: MatchIndex
    limiter: RateLimiter
    metrics: Metrics
    match_slots: anyio.CapacityLimiter  # first come, first served: see match_concurrency
    pairing_lane: Lane  # whole-registry work: see pairings_concurrency, heavy_queue
    bulk_lane: Lane  # see bulk_concurrency
    syncer: BackgroundLoop  # indexing.syncer.IndexSyncer
    exports: BackgroundLoop  # exports.service.ExportRunner
    webhooks: BackgroundLoop  # webhooks.deliverer.WebhookDeliverer
    sweeper: BackgroundLoop  # introductions.sweeper.ExpirySweeper
    screener: Screener


async def get_state(request: Request) -> AppState:
    # async: trivial dependencies would otherwise each cost a thread-pool hop per request.
    return request.app.state.matchmaker


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    """One transaction per request: commit when the handler returns, roll back if it raises.

    This is the only place a request's transaction ends (``finish_here`` only moves that end
    earlier). Declared with ``scope="function"`` so the commit happens *before* the response is
    sent: a client never sees a success for a write that did not commit. The session is made on
    the event loop (it does no I/O until first used) and finished in one thread-pool call: every
    hop to the pool costs a request a thread switch and a turn at the GIL.
    """
    session = state.sessions()
    try:
        yield session
    except BaseException:
        await _in_exit_thread(_abandon, session)
        raise
    if not session.info.pop(_FINISHED, False):  # see finish_here
        await _in_exit_thread(_finish, session)


_FINISHED = "request_finished"


def finish_here(session: Session) -> None:
    """End the request's transaction now, as ``get_session`` would: commit and close.

    The one way a handler commits early. Use it when something must see the commit before the
    handler returns (a background job woken for a row just written), or to spare a handler
    that already runs in a pool thread the extra hop ``get_session`` would take to finish (the
    busiest endpoint saves one of its two hops). Nothing else calls ``session.commit()``.
    """
    _finish(session)
    session.info[_FINISHED] = True


async def _in_exit_thread(fn: Callable[..., None], *args: object) -> None:
    # Shielded, so a client that hangs up cannot leave the transaction open; a limiter of its
    # own (as FastAPI does for generator dependencies), so ending a request never waits for a
    # pool thread that is itself waiting for a connection this request holds.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(fn, *args, limiter=anyio.CapacityLimiter(1))


def _finish(session: Session) -> None:
    # Committing runs the change log's after-commit listeners (``MatchIndex.follow``): this
    # worker's index holds a write before its response is sent.
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _abandon(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# Declared as a security scheme, so the OpenAPI document says how keys travel: /docs can
# "Authorize" and generated clients send it. auto_error=False: a missing key is anonymous, and
# each operation decides whether anonymous will do (401/403 come from service.auth).
API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="An API key (`mm_…`): a profile owner's (returned once at registration), an "
    "official's or an admin's.",
    auto_error=False,
)
# For operations anyone may call, where a key only adds (e.g. the contact e-mail): the
# security requirement is then "this key, or none" (FastAPI appends the empty alternative).
KEY_OPTIONAL: dict = {"security": [{}]}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def get_principal(
    request: Request,
    session: SessionDep,
    state: StateDep,
    x_api_key: Annotated[str | None, Security(API_KEY)] = None,
) -> Principal:
    if not x_api_key:
        return ANONYMOUS
    # Wrong keys count against the client's address, with the console's failed sign-ins: past
    # the allowance every key from that address waits (429), the right ones too (the admin's
    # included), or the answers would still tell a guessed key from a wrong one.
    client = client_address(request)
    state.limiter.signin_allowed(client)
    admin = state.settings.admin_key.get_secret_value() if state.settings.admin_key else None
    known = resolve_without_lookup(x_api_key, admin)
    if known is not None:
        return known
    try:
        return await run_in_threadpool(lookup_key, session, x_api_key)
    except Unauthorized:
        state.limiter.signin_failed(client)
        raise


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_idempotency(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    # Not nullable in the schema: a header is a string or absent (generated clients and
    # schemathesis sent "null" for a nullable one).
    key: Annotated[
        str | SkipJsonSchema[None],
        Header(
            alias=idempotency.HEADER,
            pattern=idempotency.KEY_PATTERN,
            # Published by hand: the pattern of a str-or-None is left out of the schema.
            json_schema_extra={"pattern": idempotency.KEY_PATTERN},
            description="Optional. A retry with the same key and body (and API key) within "
            "24 h (`MATCHMAKER_IDEMPOTENCY_TTL_HOURS`) gets the first response again, with "
            "`Idempotent-Replayed: true`, and writes nothing; the same key with another body "
            "is 422. 16 to 255 visible ASCII characters: use a random UUID.",
        ),
    ] = None,
) -> AsyncIterator[idempotency.Attempt | None]:
    """The request's ``Idempotency-Key``, if sent (``service.idempotency``).

    An earlier response to the same key and request is raised as ``Replayed`` before the
    handler runs. The handler stores its own response with ``idempotency.remember`` in its
    transaction. If the handler fails while another request with the same key committed first
    (the two raced: this one then met that one's profile name or stored response), the answer
    is that request's response, as it would have been a moment later.
    """
    if key is None:
        yield None
        return
    scope = f"{principal.role}:{principal.key_id if principal.key_id is not None else ''}"
    attempt = idempotency.attempt(
        scope, key, request.method, request.url.path, await request.body()
    )
    stored = await run_in_threadpool(idempotency.find, session, attempt)
    if stored is not None:
        raise Replayed(stored.status, stored.body, stored.headers)
    try:
        yield attempt
    except (MatchmakerError, IntegrityError) as exc:
        stored = await run_in_threadpool(_find_after_failure, session, attempt)
        if stored is not None:
            raise Replayed(stored.status, stored.body, stored.headers) from None
        if isinstance(exc, IntegrityError):  # lost the race for the key, yet nothing stored
            raise IdempotencyInProgress(
                "a request with this Idempotency-Key is being processed; retry shortly"
            ) from None
        raise


def _find_after_failure(
    session: Session, attempt: idempotency.Attempt
) -> idempotency.Stored | None:
    # The failed transaction is rolled back first (get_session would do it next anyway), so
    # that the lookup sees what the other request committed.
    session.rollback()
    return idempotency.find(session, attempt)


IdempotencyDep = Annotated[idempotency.Attempt | None, Depends(get_idempotency, scope="function")]


async def get_encoder(state: StateDep) -> Encoder:
    return state.encoder


def get_index(state: StateDep, session: SessionDep) -> MatchIndex:
    """The search index, caught up with every change committed so far (by any worker)."""
    state.index.catch_up(session)
    return state.index


async def refuse_control_in_query(request: Request) -> None:
    """422 naming the parameter for a control or format character anywhere in the query
    string (every route). NUL cannot be sent to PostgreSQL, and on SQLite ``q=%00`` matched
    every profile; no parameter of this API has a use for either."""
    for name, value in request.query_params.multi_items():
        if text.unsafe_in_one_line(name) is not None or text.unsafe_in_one_line(value) is not None:
            raise InvalidInput(
                "must not contain control or format characters",
                loc=["query", text.quote(name, 40)[1:-1]],
            )


EncoderDep = Annotated[Encoder, Depends(get_encoder)]
IndexDep = Annotated[MatchIndex, Depends(get_index)]
