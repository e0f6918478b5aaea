"""The outbox: domain code records an event in the same transaction as the change it reports.

``emit`` only adds a row and flushes; the caller's unit of work commits it together with the
state change, so an acknowledged change never lacks its event and a rolled-back change never
sends one. The deliverer (``service.webhooks.deliverer``) posts committed events afterwards,
at least once.

A profile without a webhook at emit time still gets its event, in state ``skipped``: the owner
sees it among the deliveries, and can replay it once a webhook is registered. Events are never
held back for a webhook that may come later (that would send a backlog of stale news).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from service.db import utcnow
from service.webhooks.models import Webhook, WebhookEvent

log = logging.getLogger(__name__)

EVENT_TYPES = (
    "interest.received",
    "interest.accepted",
    "interest.declined",
    "interest.expired",
    "introduction.created",
    "outcome.reported",
)
EVENT_ID_PREFIX = "ev_"

# session.info key: this transaction emitted events (private to this module).
_EMITTED = "webhook_events_emitted"


def emit(session: Session, profile_id: int, type: str, data: dict[str, Any]) -> str:
    """Record event ``type`` for the profile with internal id ``profile_id`` in the caller's
    transaction; returns its public id (``ev_…``). ``data`` must be JSON-serialisable: it is
    sent as the body's ``data``, exactly as given. Flushes, never commits."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}; known: {', '.join(EVENT_TYPES)}")
    # Fail here, in the caller's transaction, rather than at delivery, long after.
    json.dumps(data, allow_nan=False)
    has_webhook = session.scalar(select(Webhook.id).where(Webhook.profile_id == profile_id))
    now = utcnow()
    row = WebhookEvent(
        public_id=EVENT_ID_PREFIX + secrets.token_hex(12),
        profile_id=profile_id,
        type=type,
        payload=data,
        created_at=now,
        state="pending" if has_webhook else "skipped",
        attempts=0,
        next_attempt_at=now if has_webhook else None,
    )
    session.add(row)
    session.flush()
    if has_webhook:
        session.info[_EMITTED] = True
    return row.public_id


def body(event_id: str, type: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    """The bytes posted (and signed) for an event: the same on every attempt."""
    doc = {"id": event_id, "type": type, "created_at": iso(created_at), "data": data}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, to the millisecond."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def after_commit(sessions: sessionmaker[Session], listener: Callable[[], None]) -> None:
    """Call ``listener()`` after each commit, by a session of ``sessions``, that emitted events
    to a webhook: the app wakes its deliverer with it, so an event leaves right after the
    change it reports is committed instead of at the next poll."""

    @event.listens_for(sessions, "after_commit")
    def _committed(session: Session) -> None:
        if session.info.pop(_EMITTED, False):
            try:
                listener()
            except Exception:  # noqa: BLE001 - committed already; the poll picks it up
                log.warning("an outbox listener failed after commit", exc_info=True)

    @event.listens_for(sessions, "after_soft_rollback")
    def _rolled_back(session: Session, previous: SessionTransaction) -> None:
        if not previous.nested:
            session.info.pop(_EMITTED, None)
