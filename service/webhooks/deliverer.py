"""The background thread of each worker that posts committed outbox events to their webhooks.

Delivery is at least once. A step claims due events with one conditional UPDATE that sets a
lease (``locked_until``), so however many workers and servers share the database, one event is
in one deliverer's hands at a time; the claim commits before any network I/O. Each claimed
event is then posted (no transaction open meanwhile), and the result recorded in a short
transaction of its own, only while the lease is still the one this deliverer set. A deliverer
killed between posting and recording leaves its lease to expire, and the event is posted again:
receivers deduplicate by event id (``X-Matchmaker-Event-Id``).

Failures (no answer, or an answer other than 2xx) are retried with exponential backoff and
jitter; after ``max_attempts`` the event is ``failed`` until the owner replays it. Redirects are
not followed: a webhook answers at the URL its owner registered.
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings, WebhookSettings
from service.core.threads import BackgroundLoop
from service.db import transaction, utcnow
from service.webhooks import addresses, outbox, signing
from service.webhooks.models import Webhook, WebhookAttempt, WebhookEvent

log = logging.getLogger(__name__)
USER_AGENT = "partnership-matchmaker-webhooks/1"
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Claimed:
    """One claimed event, with what posting it needs (read in the claim's transaction)."""

    id: int
    public_id: str
    type: str
    body: bytes
    url: str
    secret: str
    attempts: int
    lease: datetime


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff(config: WebhookSettings, failures: int) -> float:
    """Seconds to wait after the ``failures``-th failed attempt in a row: base, 2×base, 4×base…
    up to the maximum, less up to a quarter at random (events that failed together, say when
    a receiver went down, then do not all come back at the same instant)."""
    delay = min(config.backoff_base_s * 2 ** (failures - 1), config.backoff_max_s)
    return delay * random.uniform(0.75, 1.0)


def post(client: httpx.Client, item: Claimed, allow_loopback: bool) -> Outcome:
    """Post one event; never raises. Errors are short and name no internals.

    The URL's host is resolved and checked here, at each delivery, and the request goes to
    the checked address (``service.webhooks.addresses``): the name's records may have changed
    since registration. The ``Host`` header and, over https, the TLS server name (SNI and the
    certificate check) stay the registered name.
    """
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        url = httpx.URL(item.url)
        address = addresses.resolve(url.host, url.port or DEFAULT_PORTS[url.scheme], allow_loopback)
        headers = signing.headers(item.secret, item.body, item.public_id, item.type)
        headers["Host"] = url.netloc.decode("ascii")
        tls = {"sni_hostname": url.host} if url.scheme == "https" else {}
        # Streamed and not read: only the status matters, and a receiver answering with a
        # huge body must not cost the deliverer its memory.
        with client.stream(
            "POST", url.copy_with(host=address), content=item.body, headers=headers, extensions=tls
        ) as response:
            status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except addresses.AddressRefused as exc:
        error = str(exc)
    except httpx.TimeoutException:
        error = "timeout"
    except httpx.ConnectError as exc:
        error = "connection refused" if "refused" in str(exc).lower() else "connection failed"
    except httpx.HTTPError as exc:
        error = f"request failed ({exc.__class__.__name__})"
    except Exception as exc:  # noqa: BLE001 - recorded on the attempt; the loop goes on
        log.warning("webhook delivery of %s failed unexpectedly", item.public_id, exc_info=True)
        error = f"request failed ({exc.__class__.__name__})"
    return Outcome(status, error, int((time.monotonic() - started) * 1000))


class WebhookDeliverer(BackgroundLoop):
    """Claims due events and posts them, ``concurrency`` at a time; ``wake()`` makes it look at
    once (the app calls it after each commit that emitted events, see ``outbox.after_commit``)."""

    name = "webhooks"

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.config = settings.webhook
        super().__init__(self.config.poll_interval_s)
        self.sessions = sessions
        self.client = httpx.Client(
            timeout=self.config.timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="webhook")

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def step(self) -> bool:
        # A batch of several events per posting thread, recorded in one transaction: under a
        # write-heavy load each transaction waits its turn for SQLite's one write lock, and a
        # claim plus one record per event made delivery crawl behind the requests (4 events/s
        # on 2 busy cores, bench/workflow.py); one claim and one record per batch keep up.
        # Each thread posts its share one after another: the share's worst case (all time out)
        # stays inside the lease, so a slow batch is not claimed again while still in flight.
        per_thread = max(1, min(8, int(self.config.lease_s // self.config.timeout_s) - 1))
        size = self.config.concurrency * per_thread
        claimed = self.claim(size)
        if claimed:
            # Posted in parallel: one slow receiver must not hold up everyone else's events.
            outcomes = list(self._pool.map(self.post, claimed))
            self.record_all(list(zip(claimed, outcomes, strict=True)))
        return len(claimed) == size  # a full batch: there may be more

    def claim(self, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` due events to this deliverer and commit the lease."""
        now = utcnow()
        lease = now + timedelta(seconds=self.config.lease_s)
        ev = WebhookEvent
        free = or_(ev.locked_until.is_(None), ev.locked_until < now)
        due_now = (ev.state == "pending", ev.next_attempt_at <= now, free)
        # A read first: most polls find nothing, and an UPDATE, even one that matches no row,
        # takes SQLite's single write lock from the requests of every worker.
        with self.sessions() as session:
            if session.scalar(select(ev.id).where(*due_now).limit(1)) is None:
                return []
        due = (
            select(ev.id)
            .where(*due_now)
            .order_by(ev.next_attempt_at)
            .limit(limit)
            # PostgreSQL: a second deliverer passes over rows being claimed instead of queueing
            # behind them. (SQLite runs one writer at a time anyway.)
            .with_for_update(skip_locked=True)
            # Computed once. As a plain IN (subquery), PostgreSQL may run it again for each
            # row it updates; rows this statement already updated are then skipped as locked,
            # the LIMIT finds others, and the claim takes every due event, not ``limit``.
            .cte("due")
            .prefix_with("MATERIALIZED")
        )
        with transaction(self.sessions) as session:
            # The conditions are repeated on the UPDATE itself: on PostgreSQL it re-checks them
            # on a row another deliverer just claimed, and then leaves that row alone.
            ids = session.scalars(
                update(ev)
                .where(ev.id.in_(select(due.c.id)), ev.state == "pending", free)
                .values(locked_until=lease)
                .returning(ev.id)
            ).all()
            if not ids:
                return []
            rows = session.execute(
                select(ev, Webhook.url, Webhook.secret)
                .outerjoin(Webhook, Webhook.profile_id == ev.profile_id)
                .where(ev.id.in_(ids))
                .order_by(ev.next_attempt_at, ev.id)
            ).all()
            out = []
            for event, url, secret in rows:
                if url is None:  # the webhook was deleted after the event was emitted
                    event.state, event.locked_until, event.next_attempt_at = "skipped", None, None
                    continue
                data = outbox.body(event.public_id, event.type, event.created_at, event.payload)
                out.append(
                    Claimed(
                        event.id,
                        event.public_id,
                        event.type,
                        data,
                        url,
                        secret,
                        event.attempts,
                        lease,
                    )
                )
            return out

    def post(self, item: Claimed) -> Outcome:
        return post(self.client, item, self.config.allow_localhost)

    def deliver(self, item: Claimed) -> Outcome:
        outcome = self.post(item)
        self.record(item, outcome)
        return outcome

    def record(self, item: Claimed, outcome: Outcome) -> None:
        self.record_all([(item, outcome)])

    def record_all(self, results: list[tuple[Claimed, Outcome]]) -> None:
        """Store each attempt and its event's next state, in one transaction."""
        with transaction(self.sessions) as session:
            for item, outcome in results:
                self._record(session, item, outcome)

    def _record(self, session: Session, item: Claimed, outcome: Outcome) -> None:
        """Store the attempt and the event's next state, unless the lease was lost meanwhile."""
        now = utcnow()
        attempts = item.attempts + 1
        if outcome.ok:
            values = {"state": "delivered", "delivered_at": now, "next_attempt_at": None}
        elif attempts >= self.config.max_attempts:
            values = {"state": "failed", "next_attempt_at": None}
        else:
            wait = backoff(self.config, attempts)
            values = {"next_attempt_at": now + timedelta(seconds=wait)}
        kept = session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == item.id, WebhookEvent.locked_until == item.lease)
            .values(attempts=attempts, locked_until=None, **values)
        ).rowcount
        if not kept:
            # Our lease ran out mid-delivery (a receiver slower than lease_s allows, or
            # the event was replayed): another claim decides the event's state now. Or the
            # profile, and its events with it, was deleted meanwhile.
            log.warning("webhook event %s: lease lost before recording", item.public_id)
            if session.get(WebhookEvent, item.id) is None:
                return
        session.add(
            WebhookAttempt(
                event_id=item.id,
                attempted_at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
