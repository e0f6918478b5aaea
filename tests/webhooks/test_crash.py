"""A real ``matchmaker serve`` killed with SIGKILL mid-delivery loses no event and, after the
receiver's deduplication by event id, delivers each exactly once."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from service.db import create_db_engine, create_session_factory
from service.webhooks.models import WebhookEvent
from service.webhooks.signing import verify
from tests.conftest import ADMIN_KEY, profile_payload
from tests.test_server import server_factory  # noqa: F401 - fixture
from tests.webhooks.conftest import emit, wait_for

pytestmark = pytest.mark.slow
LEASE_S = 3


def test_sigkill_loses_no_event_and_each_arrives_once_after_dedup(
    server_factory,  # noqa: F811
    receiver,
    database_url,
):
    srv = server_factory()
    srv.env |= {
        "MATCHMAKER_WEBHOOK_POLL_INTERVAL_S": "0.2",
        "MATCHMAKER_WEBHOOK_BACKOFF_BASE_S": "0.3",
        "MATCHMAKER_WEBHOOK_BACKOFF_MAX_S": "1",
        "MATCHMAKER_WEBHOOK_TIMEOUT_S": "2",
        "MATCHMAKER_WEBHOOK_LEASE_S": str(LEASE_S),
        "MATCHMAKER_WEBHOOK_MAX_ATTEMPTS": "100",
    }
    srv.start()
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        profile = c.post("/v1/profiles", json=profile_payload()).json()["id"]
        r = c.put(
            f"/v1/profiles/{profile}/webhook",
            json={"url": receiver.url},
            headers={"X-API-Key": ADMIN_KEY},
        )
        assert r.status_code == 201, r.text
        secret = r.json()["secret"]
    engine = create_db_engine(database_url)
    sessions = create_session_factory(engine)
    try:
        # 1. The receiver refuses; events are emitted from this process, in transactions on
        # the server's database, and the server's deliverer keeps retrying them.
        receiver.status = 503
        ids = [emit(sessions, profile, "interest.received", n=n) for n in range(3)]
        wait_for(lambda: all(len(receiver.to(i)) >= 2 for i in ids), timeout=60)
        srv.kill()
        receiver.status = 200
        srv.start()
        wait_for(lambda: receiver.accepted_ids() >= set(ids), timeout=60)

        # 2. Killed while a delivery is in flight (the receiver has it, the server has not
        # recorded it): after the restart the lease expires and it is delivered again.
        receiver.delay = 120
        held = emit(sessions, profile, "introduction.created", introduction="in_1")
        wait_for(lambda: receiver.to(held), timeout=60)
        srv.kill()
        receiver.delay = 0
        srv.start()
        wait_for(lambda: len(receiver.to(held)) == 2, timeout=60)
        wait_for(lambda: _states(sessions) == {"delivered"}, timeout=30)
    finally:
        engine.dispose()

    everything = [*ids, held]
    assert receiver.accepted_ids() == set(everything)  # exactly once each, after dedup
    for event_id in ids:  # refused before the crash, accepted once after it
        statuses = [r.status for r in receiver.to(event_id)]
        assert statuses.count(200) == 1 and set(statuses[:-1]) == {503}, statuses
    assert [r.status for r in receiver.to(held)] == [200, 200]  # at least once
    for r in receiver.requests:
        assert verify(secret, r.headers["x-matchmaker-signature"], r.body)
        assert r.json()["id"] == r.event_id


def _states(sessions) -> set[str]:  # noqa: ANN001
    with sessions() as session:
        return set(session.scalars(select(WebhookEvent.state)))
