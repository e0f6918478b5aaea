"""The background thread of each worker that keeps its index current and saved."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from service.indexing.service import MatchIndex

log = logging.getLogger(__name__)


class IndexSyncer:
    """Background thread of one worker: polls the change log and saves the index now and then."""

    def __init__(
        self, index: MatchIndex, factory: sessionmaker[Session], interval: float, save_every: float
    ) -> None:
        self.index = index
        self.factory = factory
        self.interval = interval
        self.save_every = save_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        last_save = time.monotonic()
        while not self._stop.wait(self.interval):
            try:
                with self.factory() as session:
                    self.index.catch_up(session)
                if time.monotonic() - last_save > self.save_every:
                    self.index.save(unless_saved_within=self.save_every / 2)
                    last_save = time.monotonic()
            except Exception:  # noqa: BLE001 - the database may be briefly down; keep polling
                log.warning("index sync failed; will retry", exc_info=True)
