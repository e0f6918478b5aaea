"""The background thread of each worker that keeps its index current and saved."""

from __future__ import annotations

import logging
import time

from sqlalchemy.orm import Session, sessionmaker

from service.core.threads import BackgroundLoop
from service.indexing.service import MatchIndex

log = logging.getLogger(__name__)


class IndexSyncer(BackgroundLoop):
    """Background thread of one worker: polls the change log and saves the index now and then."""

    name = "index-sync"

    def __init__(
        self, index: MatchIndex, factory: sessionmaker[Session], interval: float, save_every: float
    ) -> None:
        super().__init__(interval)
        self.index = index
        self.factory = factory
        self.save_every = save_every
        self._last_save = time.monotonic()

    def step(self) -> None:
        with self.factory() as session:
            self.index.catch_up(session)
        if time.monotonic() - self._last_save > self.save_every:
            self.index.save(unless_saved_within=self.save_every / 2)
            self._last_save = time.monotonic()
