"""Typed application state and the ``Annotated`` dependency aliases used by route handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from embeddings.encoder import Encoder
from service.auth.service import Principal, lookup_key, resolve_without_lookup
from service.config import Settings
from service.core import text
from service.core.middleware import Metrics
from service.core.ratelimit import RateLimiter
from service.core.threads import BackgroundLoop, Lane
from service.errors import InvalidInput
from service.indexing.service import MatchIndex

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


async def get_principal(
    session: SessionDep,
    state: StateDep,
    x_api_key: Annotated[str | None, Security(API_KEY)] = None,
) -> Principal:
    admin = state.settings.admin_key.get_secret_value() if state.settings.admin_key else None
    known = resolve_without_lookup(x_api_key, admin)
    if known is not None:
        return known
    return await run_in_threadpool(lookup_key, session, x_api_key)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


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
