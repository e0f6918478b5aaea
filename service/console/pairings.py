"""The pairings page's figures, kept as snapshots computed off the request path.

Best pairings rank every profile of the registry against the other side: seconds at 100,000
profiles, far from a page's budget. So the page shows the latest snapshot for its filters
(with the time it was taken) and, when there is none or it is older than
``MATCHMAKER_CONSOLE_PAIRINGS_MAX_AGE_S``, has the work done in the pairings lane (low CPU
priority, bounded queue: the API's ``/v1/pairings`` lane), once per filter set however many
pages ask. The introductions funnel counts every interest: a snapshot too, in the thread pool,
kept ``FUNNEL_MAX_AGE_S``. A page with no snapshot yet waits a moment for it, then shows a
placeholder that htmx polls until the figures are in. Snapshots live in the worker's memory, a
few of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.console import charts
from service.indexing.service import MatchIndex
from service.introductions import queries
from service.introductions.schemas import Funnel
from service.matching import service as matching
from service.screening.schemas import PairScreening
from service.sectors import SECTORS

log = logging.getLogger(__name__)

Runner = Callable[[Callable[[], Any]], Awaitable[Any]]  # runs a blocking function off the loop
OVERALL = 500  # the pictures look at up to this many of the registry's best pairs
FUNNEL_MAX_AGE_S = 30.0
TABLE_ROWS = 200  # the table keeps this many best pairs per filter set, shown a page at a time
# The unfiltered table is the head of the pictures' pass (``pictures``), so it must be shorter.
assert TABLE_ROWS <= OVERALL


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    taken: float  # monotonic, for the age
    value: Any


@dataclass(frozen=True)
class Table:
    pairings: list[matching.Pairing]
    screening: list[PairScreening]


@dataclass(frozen=True)
class Pictures:
    heat: charts.Heatmap
    hist: charts.Histogram
    table: Table  # the table without a sector filter, from the same pass


def table(
    session: Session,
    index: MatchIndex,
    settings: Settings,
    *,
    sector: str | None,
    per_org: int,
    limit: int,
) -> Table:
    """The best pairs of ``sector`` (or all), at most ``per_org`` per organisation."""
    index.catch_up(session)
    found = matching.best_pairings(
        session,
        index,
        sector=sector,
        limit=limit,
        per_org=per_org,
        min_score=0.0,
        pool=settings.candidate_pool,
        ranker=settings.ranker,
    )
    return Table(found, matching.screen_pairings(session, found))


def pictures(session: Session, index: MatchIndex, settings: Settings, *, per_org: int) -> Pictures:
    """The heatmap and score distribution of the registry's best pairs under the same cap, and
    the table without a sector filter.

    ``best_pairings`` takes pairs best-first until its limit, so its first ``TABLE_ROWS`` pairs
    at the limit ``OVERALL`` are the pairs it gives at the limit ``TABLE_ROWS``: the unfiltered
    table comes from this one ranking of the registry instead of a second one.
    """
    index.catch_up(session)
    overall = matching.best_pairings(
        session,
        index,
        sector=None,
        limit=OVERALL,
        per_org=per_org,
        min_score=0.0,
        pool=settings.candidate_pool,
        ranker=settings.ranker,
    )
    heat = charts.heatmap(
        [(list(p.in_profile.sectors), list(p.kr_profile.sectors), p.score) for p in overall]
    )
    head = overall[:TABLE_ROWS]
    table = Table(head, matching.screen_pairings(session, head))
    return Pictures(heat, charts.histogram([p.score for p in overall]), table)


def funnels(session: Session) -> list[tuple[Any, Funnel]]:
    """The introductions funnel of each sector (``GET /v1/stats/funnel?sector=``): counts over
    every interest and introduction, so kept as a short-lived snapshot too."""
    return [
        (sec, queries.funnel(session, sector=sec.code, country=None, since=None)) for sec in SECTORS
    ]


class Snapshots:
    """The latest snapshot per key, and at most one computation per key at a time."""

    def __init__(self, max_age_s: float, size: int = 32) -> None:
        self.max_age_s = max_age_s
        self.size = size
        self._done: OrderedDict[Hashable, Snapshot] = OrderedDict()
        self._running: dict[Hashable, asyncio.Task] = {}

    def latest(self, key: Hashable) -> Snapshot | None:
        snap = self._done.get(key)
        if snap is not None:
            self._done.move_to_end(key)
        return snap

    def fresh(self, snap: Snapshot | None) -> bool:
        return snap is not None and time.monotonic() - snap.taken < self.max_age_s

    def refresh(
        self,
        key: Hashable,
        lane: Runner,
        sessions: sessionmaker[Session],
        work: Callable[[Session], Any],
    ) -> asyncio.Task:
        """Start computing ``key`` through ``lane`` (a ``Lane``'s ``run``, or the thread pool)
        with a session of its own, unless it is under way; the result replaces the key's
        snapshot when done."""
        running = self._running.get(key)
        if running is not None:
            return running

        def run() -> Snapshot:
            with sessions() as session:
                value = work(session)
            return Snapshot(datetime.now(UTC), time.monotonic(), value)

        async def compute() -> Snapshot | None:
            try:
                snap = await lane(run)
            except Exception:  # Busy, or a failure: the next page view tries again
                log.warning("console pairings snapshot %r failed", key, exc_info=True)
                return None
            finally:
                self._running.pop(key, None)
            self._done[key] = snap
            self._done.move_to_end(key)
            while len(self._done) > self.size:
                self._done.popitem(last=False)
            return snap

        task = asyncio.ensure_future(compute())
        self._running[key] = task
        return task

    async def get(
        self,
        key: Hashable,
        lane: Runner,
        sessions: sessionmaker[Session],
        work: Callable[[Session], Any],
        wait_s: float,
    ) -> Snapshot | None:
        """The key's snapshot: the latest (a stale one is refreshed behind it), else the new
        one if it is ready within ``wait_s``, else None (still being computed)."""
        snap = self.latest(key)
        if self.fresh(snap):
            return snap
        task = self.refresh(key, lane, sessions, work)
        if snap is not None:
            return snap
        done, _ = await asyncio.wait({task}, timeout=wait_s)
        return task.result() if done else None
