"""The background thread that marks overdue interests expired."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import IntroductionSettings
from service.core.threads import BackgroundLoop
from service.db import transaction, utcnow
from service.introductions.models import Interest, Introduction
from service.introductions.service import emit_interest

log = logging.getLogger(__name__)


def expire_overdue(session: Session, limit: int = 500) -> int:
    """Mark pending interests past their time expired (a state, never a deletion); returns how
    many this call expired. Idempotent and safe with several workers and servers: each row
    changes under its conditional UPDATE once."""
    now = utcnow()
    due = session.scalars(
        select(Interest)
        .where(Interest.state == "pending", Interest.expires_at <= now)
        .order_by(Interest.expires_at)
        .limit(limit)
    ).all()
    done = 0
    for interest in due:
        changed = session.execute(
            update(Interest)
            .where(Interest.id == interest.id, Interest.state == "pending")
            .values(state="expired", answered_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            continue
        done += 1
        session.refresh(interest)
        if interest.introduction_id is None:
            emit_interest(session, interest.from_profile_id, "interest.expired", interest)
        else:
            session.execute(
                update(Introduction)
                .where(Introduction.id == interest.introduction_id)
                .where(Introduction.state == "proposed")
                .values(state="expired")
            )
    session.flush()
    return done


class ExpirySweeper(BackgroundLoop):
    """Every ``sweep_interval_s``: pending interests past their time become ``expired`` (with
    their ``interest.expired`` events). Each worker and server runs one; the conditional
    UPDATE in ``expire_overdue`` makes every interest expire once, whoever gets there first."""

    name = "interest-expiry"

    def __init__(self, sessions: sessionmaker[Session], settings: IntroductionSettings) -> None:
        super().__init__(settings.sweep_interval_s)
        self.sessions = sessions

    def step(self) -> bool:
        with transaction(self.sessions) as session:
            done = expire_overdue(session)
        if done:
            log.info("expired %d overdue interests", done)
        return done > 0  # a full batch may have left more
