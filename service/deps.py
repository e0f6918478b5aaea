"""Typed application state and the ``Annotated`` dependency aliases used by route handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import anyio
from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from embeddings.encoder import Encoder
from service.auth.service import Principal, lookup_key, resolve_without_lookup
from service.config import Settings
from service.core.middleware import Metrics
from service.core.ratelimit import RateLimiter
from service.indexing.service import IndexSyncer, MatchIndex

if TYPE_CHECKING:
    from service.exports.service import ExportRunner

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    encoder: Encoder
    index: MatchIndex
    limiter: RateLimiter
    metrics: Metrics
    match_slots: anyio.CapacityLimiter  # first come, first served: see match_concurrency
    syncer: IndexSyncer | None = None
    exports: ExportRunner | None = None


async def get_state(request: Request) -> AppState:
    # async: trivial dependencies would otherwise each cost a thread-pool hop per request.
    return request.app.state.matchmaker


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    """One transaction per request: commit when the handler returns, roll back if it raises.

    Declared with ``scope="function"`` so the commit happens *before* the response is sent: a
    client never sees a success for a write that did not commit. The session is made on the
    event loop (it does no I/O until first used) and finished in one thread-pool call: every
    hop to the pool costs a request a thread switch and a turn at the GIL.
    """
    session = state.sessions()
    try:
        yield session
    except BaseException:
        await _in_exit_thread(_abandon, session)
        raise
    if not session.info.pop("finished", False):  # see finish_here
        await _in_exit_thread(_finish, session, state)


def finish_here(session: Session, state: AppState) -> None:
    """Commit and close the request's session now, in the calling thread: for a handler that
    already does its work in one pool call, this spares the request the hop ``get_session``
    would otherwise take to finish it (the busiest endpoint saves one of its two hops)."""
    _finish(session, state)
    session.info["finished"] = True


async def _in_exit_thread(fn: Callable[..., None], *args: object) -> None:
    # Shielded, so a client that hangs up cannot leave the transaction open; a limiter of its
    # own (as FastAPI does for generator dependencies), so ending a request never waits for a
    # pool thread that is itself waiting for a connection this request holds.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(fn, *args, limiter=anyio.CapacityLimiter(1))


def _finish(session: Session, state: AppState) -> None:
    try:
        session.commit()
        if session.info.pop("index_dirty", False):
            try:
                state.index.catch_up(session)
                session.commit()
            except Exception:  # noqa: BLE001 - committed already; the syncer will catch up
                log.warning("index catch-up after commit failed", exc_info=True)
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


EncoderDep = Annotated[Encoder, Depends(get_encoder)]
IndexDep = Annotated[MatchIndex, Depends(get_index)]
