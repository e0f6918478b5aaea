"""The workflow's events survive crashes and are sent once by a cluster: real servers, a real
local receiver (tests/webhooks/conftest.py)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from service.db import create_db_engine, create_session_factory
from service.introductions.models import Interest
from service.webhooks.models import WebhookEvent
from service.webhooks.signing import verify
from tests.conftest import ADMIN_KEY, profile_payload
from tests.test_server import Server, server_factory  # noqa: F401 - the fixture
from tests.webhooks.conftest import receiver, wait_for  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow
ADMIN = {"X-API-Key": ADMIN_KEY}
FAST = {
    "MATCHMAKER_WEBHOOK_POLL_INTERVAL_S": "0.2",
    "MATCHMAKER_WEBHOOK_BACKOFF_BASE_S": "0.3",
    "MATCHMAKER_WEBHOOK_BACKOFF_MAX_S": "1",
    "MATCHMAKER_WEBHOOK_TIMEOUT_S": "2",
    "MATCHMAKER_WEBHOOK_LEASE_S": "3",
    "MATCHMAKER_WEBHOOK_MAX_ATTEMPTS": "100",
}


def _register(c: httpx.Client, country: str) -> tuple[str, dict]:
    r = c.post("/v1/profiles", json=profile_payload(country=country))
    assert r.status_code == 201, r.text
    return r.json()["id"], {"X-API-Key": r.json()["api_key"]}


def _hook(c: httpx.Client, profile: str, key: dict, url: str) -> str:
    r = c.put(f"/v1/profiles/{profile}/webhook", json={"url": url}, headers=key)
    assert r.status_code == 201, r.text
    return r.json()["secret"]


def test_an_accept_acknowledged_before_a_sigkill_still_notifies_once(
    server_factory,  # noqa: F811
    receiver,  # noqa: F811
    database_url,
):
    srv = server_factory()
    srv.env |= FAST
    srv.start()
    receiver.status = 503  # down: the events wait in the outbox
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        a, a_key = _register(c, "IN")
        b, b_key = _register(c, "KR")
        secret = _hook(c, a, a_key, receiver.url)
        interest = c.post(f"/v1/profiles/{a}/interests", json={"to": b}, headers=a_key).json()
        r = c.post(f"/v1/interests/{interest['id']}/accept", headers=b_key)
        assert r.status_code == 200  # acknowledged
    wait_for(lambda: receiver.requests, timeout=30)  # the deliverer is trying
    srv.kill()
    receiver.status = 200
    srv.start()
    wait_for(lambda: len(receiver.accepted_ids()) == 2, timeout=60)
    kinds = sorted(r.json()["type"] for r in receiver.requests if r.status == 200)
    assert kinds == ["interest.accepted", "introduction.created"]
    for r in receiver.requests:
        assert verify(secret, r.headers["x-matchmaker-signature"], r.body)


def test_two_servers_expire_each_interest_once_and_deliver_each_event_once(
    tmp_path,
    database_url,
    model_cache,
    receiver,  # noqa: F811
):
    """Both servers run the expiry sweep and the deliverer on one database: an interest expires
    once (one ``interest.expired`` event), and each event reaches the receiver once."""
    env = FAST | {
        "MATCHMAKER_INTRO_INTEREST_TTL_DAYS": str(4 / 86400),  # 4 s
        "MATCHMAKER_INTRO_SWEEP_INTERVAL_S": "0.1",
    }
    servers = [Server(tmp_path / f"srv{i}", database_url, model_cache) for i in (1, 2)]
    engine = create_db_engine(database_url)
    try:
        for s in servers:
            s.env |= env
            s.start()
        n = 6
        with httpx.Client(timeout=30) as c:
            senders = []
            for i in range(n):
                base = servers[i % 2].url  # writes through either server
                c.base_url = base
                a, a_key = _register(c, "IN")
                b, _ = _register(c, "KR")
                _hook(c, a, a_key, receiver.url)
                r = c.post(f"/v1/profiles/{a}/interests", json={"to": b}, headers=a_key)
                assert r.status_code == 201
                senders.append(a)
        sessions = create_session_factory(engine)

        def expired() -> int:
            with sessions() as s:
                return s.scalar(
                    select(func.count()).select_from(Interest).where(Interest.state == "expired")
                )

        wait_for(lambda: expired() == n, timeout=60)
        wait_for(lambda: len(receiver.accepted_ids()) == n, timeout=60)
        with sessions() as s:
            events = s.scalars(
                select(WebhookEvent.public_id).where(WebhookEvent.type == "interest.expired")
            ).all()
        assert len(events) == n  # one expiry each, though two sweepers ran
        assert receiver.accepted_ids() == set(events)
        assert len([r for r in receiver.requests if r.status == 200]) == n  # nothing twice
    finally:
        for s in servers:
            s.stop()
        engine.dispose()
