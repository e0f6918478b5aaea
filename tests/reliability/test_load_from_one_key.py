"""Load from one key: whole-registry work (pairings, bulk registration) runs in lanes of bounded
concurrency with a bounded queue, at a low CPU priority, and requests whose cost has no bound
are refused naming the limit. Latency under a flood is measured in ``bench/flood.py``."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import anyio
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.core.threads import Lane
from service.errors import Busy
from tests.conftest import create_profile, make_settings, profile_payload

# -- the lane itself ----------------------------------------------------------------------------


def _hold(lane: Lane, release: threading.Event, ran: list[int] | None = None) -> threading.Thread:
    """Start one piece of work in ``lane`` that runs until ``release`` is set."""

    def work() -> int:
        if ran is not None:
            ran.append(threading.get_native_id())
        release.wait(30)
        return 1

    t = threading.Thread(target=lambda: anyio.run(lane.run, work), daemon=True)
    t.start()
    return t


def _wait_admitted(lane: Lane, n: int) -> None:
    for _ in range(500):
        if lane.admitted >= n:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"lane never held {n}")


def test_lane_refuses_at_once_when_running_and_queue_are_full() -> None:
    lane = Lane("pairings", concurrency=1, queue=1, wait_s=30)
    release = threading.Event()
    try:
        running = _hold(lane, release)
        _wait_admitted(lane, 1)
        queued = _hold(lane, release)
        _wait_admitted(lane, 2)
        with pytest.raises(Busy) as exc:
            anyio.run(lane.run, lambda: 0)
        assert exc.value.status_code == 503
        assert int(exc.value.headers["Retry-After"]) >= 1
        assert "1 running, 1 waiting" in exc.value.message
        release.set()
        running.join(10)
        queued.join(10)
        assert lane.admitted == 0
        assert anyio.run(lane.run, lambda: 7) == 7  # free again
    finally:
        release.set()
        lane.close()


def test_lane_refuses_a_request_that_waited_too_long_without_running_it() -> None:
    lane = Lane("bulk registration", concurrency=1, queue=5, wait_s=0.3)
    release = threading.Event()
    ran: list[str] = []
    try:
        held = _hold(lane, release)
        _wait_admitted(lane, 1)
        with pytest.raises(Busy, match="waited 0.3 s"):
            anyio.run(lane.run, lambda: ran.append("late"))
    finally:
        release.set()
        held.join(10)
        lane.close()
    assert ran == []  # refused work never runs later


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="per-thread nice is Linux's")
def test_lane_threads_run_at_a_low_cpu_priority() -> None:
    lane = Lane("pairings", concurrency=1, queue=0, wait_s=1)
    try:
        nice = anyio.run(
            lane.run, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )
    finally:
        lane.close()
    assert nice >= os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + 10


# -- through the API ----------------------------------------------------------------------------


@pytest.fixture
def busy_client(tmp_path, database_url, encoder, settings) -> Iterator[TestClient]:
    s = make_settings(tmp_path / "lanes", database_url, heavy_queue=0, heavy_wait_s=5)
    with TestClient(create_app(s, encoder=encoder)) as c:
        yield c


def _hold_in_app(client: TestClient, lane: Lane, release: threading.Event) -> threading.Thread:
    def work() -> None:
        release.wait(30)

    t = threading.Thread(target=lambda: client.portal.call(lane.run, work), daemon=True)
    t.start()
    _wait_admitted(lane, 1)
    return t


def test_pairings_beyond_the_lane_get_503_while_registrations_and_matches_go_on(
    busy_client, official
):
    c = busy_client
    a, owner = create_profile(c, country="IN")
    create_profile(c, country="KR")
    state = c.app.state.matchmaker
    release = threading.Event()
    held = _hold_in_app(c, state.pairing_lane, release)
    try:
        r = c.get("/v1/pairings", headers=official)
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "busy" and int(r.headers["retry-after"]) >= 1
        # Single registrations and match lists do not wait for the pairings lane.
        assert c.post("/v1/profiles", json=profile_payload(country="KR")).status_code == 201
        assert c.get(f"/v1/profiles/{a['id']}/matches", headers=owner).status_code == 200
        # Bulk has a lane of its own.
        r = c.post("/v1/profiles/bulk", json={"profiles": [profile_payload()]}, headers=official)
        assert r.status_code == 200 and r.json()["created"] == 1
    finally:
        release.set()
        held.join(10)
    r = c.get("/v1/pairings", headers=official)
    assert r.status_code == 200 and r.json()["pairings"]


def test_bulk_beyond_its_lane_gets_503_while_registrations_go_on(busy_client, official):
    c = busy_client
    state = c.app.state.matchmaker
    release = threading.Event()
    held = _hold_in_app(c, state.bulk_lane, release)
    try:
        r = c.post("/v1/profiles/bulk", json={"profiles": [profile_payload()]}, headers=official)
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert c.post("/v1/profiles", json=profile_payload()).status_code == 201
        assert c.get("/v1/pairings", headers=official).status_code == 200
    finally:
        release.set()
        held.join(10)
    r = c.post("/v1/profiles/bulk", json={"profiles": [profile_payload()]}, headers=official)
    assert r.status_code == 200 and r.json()["created"] == 1


# -- costs without a bound ---------------------------------------------------------------------


def test_pairings_per_org_is_bounded_so_limit_times_per_org_is_at_most_10000(client, official):
    """``limit=1000&per_org=100`` ran 104 s at 100k profiles; per_org is now at most 10 (in the
    schema, where clients see it), so limit x per_org is at most 10,000."""
    r = client.get("/v1/pairings?limit=1000&per_org=100", headers=official)
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["query", "per_org"] and "10" in err["msg"]
    assert client.get("/v1/pairings?limit=1000&per_org=10", headers=official).status_code == 200


def test_bulk_texts_over_the_cap_are_413_naming_it(tmp_path, database_url, encoder, settings):
    from service.auth.service import create_key
    from service.db import transaction

    s = make_settings(tmp_path / "cap", database_url, bulk_max_text_chars=3000)
    with TestClient(create_app(s, encoder=encoder)) as c:
        with transaction(c.app.state.matchmaker.sessions) as session:
            h = {"X-API-Key": create_key(session, "official", "bulk")}
        long = "We design radar modules for naval ships and test them at sea. " * 20  # 1260
        items = [profile_payload(capabilities=long, needs=long) for _ in range(2)]
        r = c.post("/v1/profiles/bulk", json={"profiles": items}, headers=h)
        assert r.status_code == 413
        assert r.json()["code"] == "too_large" and r.json()["limit"] == 3000
        assert "MATCHMAKER_BULK_MAX_TEXT_CHARS" in r.json()["detail"]
        r = c.post("/v1/profiles/bulk", json={"profiles": items[:1]}, headers=h)
        assert r.status_code == 200 and r.json()["created"] == 1


# -- bulk encoding never queues ahead of a registration's -------------------------------------


def test_background_encoding_does_not_use_the_pool_single_requests_share(encoder):
    """With every thread of the encoder's shared pool busy, background (bulk) encoding still
    finishes: it runs in the calling thread. Before, a bulk's hundreds of batches went into that
    pool and a registration's few waited behind all of them."""
    backend = encoder._backend
    pool = getattr(backend, "pool", None)
    if pool is None:
        pytest.skip("the torch backend has no shared pool")
    release = threading.Event()
    blockers = [pool.submit(release.wait, 30) for _ in range(backend.workers)]
    done: list[int] = []
    try:
        t = threading.Thread(
            target=lambda: done.append(
                len(
                    encoder.embed_documents(
                        ["Naval radar modules, tested at sea for the coast guard."],
                        background=True,
                    )
                )
            ),
            daemon=True,
        )
        t.start()
        t.join(20)
        assert done == [1]
    finally:
        release.set()
        for b in blockers:
            b.result(10)
