"""Typed application state and the ``Annotated`` dependency aliases used by route handlers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from embeddings.encoder import Encoder
from service.auth.service import Principal, resolve
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
    syncer: IndexSyncer | None = None
    exports: ExportRunner | None = None


async def get_state(request: Request) -> AppState:
    # async: trivial dependencies would otherwise each cost a thread-pool hop per request.
    return request.app.state.matchmaker


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """One transaction per request: commit when the handler returns, roll back if it raises.

    Declared with ``scope="function"`` so the commit happens *before* the response is sent: a
    client never sees a success for a write that did not commit.
    """
    session = state.sessions()
    try:
        yield session
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


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_principal(
    session: SessionDep,
    state: StateDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key", include_in_schema=False)] = None,
) -> Principal:
    admin = state.settings.admin_key.get_secret_value() if state.settings.admin_key else None
    return resolve(session, x_api_key, admin)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_encoder(state: StateDep) -> Encoder:
    return state.encoder


def get_index(state: StateDep, session: SessionDep) -> MatchIndex:
    """The search index, caught up with every change committed so far (by any worker)."""
    state.index.catch_up(session)
    return state.index


EncoderDep = Annotated[Encoder, Depends(get_encoder)]
IndexDep = Annotated[MatchIndex, Depends(get_index)]
