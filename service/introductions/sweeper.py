"""The background thread that marks overdue interests expired."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from service.config import IntroductionSettings
from service.core.threads import BackgroundLoop
from service.db import transaction
from service.introductions.service import expire_overdue

log = logging.getLogger(__name__)


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
