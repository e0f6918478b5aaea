"""Events emitted in a transaction reach a real HTTP receiver: signed, retried, replayed."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from service.config import WebhookSettings
from service.db import create_db_engine, create_session_factory, transaction
from service.profiles import service as profiles
from service.webhooks import outbox
from service.webhooks.deliverer import WebhookDeliverer
from service.webhooks.models import WebhookAttempt, WebhookEvent
from service.webhooks.signing import verify
from tests.conftest import create_profile
from tests.webhooks.conftest import FAST, emit, wait_for


def register(client, receiver, owner_headers, profile_id) -> str:
    r = client.put(
        f"/v1/profiles/{profile_id}/webhook", json={"url": receiver.url}, headers=owner_headers
    )
    assert r.status_code == 201, r.text
    return r.json()["secret"]


def deliveries(client, profile_id, headers, **params) -> list[dict]:
    r = client.get(f"/v1/profiles/{profile_id}/webhook/deliveries", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def sessions_of(client):
    return client.app.state.matchmaker.sessions


def test_an_emitted_event_arrives_signed_with_its_headers(client, receiver):
    a, owner = create_profile(client)
    secret = register(client, receiver, owner, a["id"])
    event_id = emit(sessions_of(client), a["id"], "interest.received", interest="in_1", note="한국")
    wait_for(lambda: receiver.to(event_id))
    [req] = receiver.to(event_id)
    assert verify(secret, req.headers["x-matchmaker-signature"], req.body)
    assert req.headers["x-matchmaker-event-type"] == "interest.received"
    assert req.headers["content-type"] == "application/json"
    body = req.json()
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["id"] == event_id and event_id.startswith("ev_")
    assert body["type"] == "interest.received"
    assert body["data"] == {"interest": "in_1", "note": "한국"}
    assert body["created_at"].endswith("Z")
    wait_for(lambda: deliveries(client, a["id"], owner)[0]["state"] == "delivered")
    [item] = deliveries(client, a["id"], owner)
    assert item["id"] == event_id and item["attempts"] == 1 and item["delivered_at"]
    assert [x["status_code"] for x in item["attempt_log"]] == [200]
    assert item["attempt_log"][0]["error"] is None


def test_an_event_is_only_sent_if_its_transaction_commits(client, receiver):
    a, owner = create_profile(client)
    register(client, receiver, owner, a["id"])
    with pytest.raises(RuntimeError), transaction(sessions_of(client)) as session:
        outbox.emit(session, profiles.get(session, a["id"]).id, "interest.accepted", {"x": 1})
        raise RuntimeError("the state change failed")
    kept = emit(sessions_of(client), a["id"], "interest.declined")
    wait_for(lambda: receiver.accepted_ids())
    time.sleep(0.5)
    assert receiver.accepted_ids() == {kept}
    assert [d["id"] for d in deliveries(client, a["id"], owner)] == [kept]


def test_emit_rejects_unknown_types_and_data_that_is_not_json(client):
    a, _ = create_profile(client)
    with transaction(sessions_of(client)) as session:
        pid = profiles.get(session, a["id"]).id
        with pytest.raises(ValueError, match="unknown event type"):
            outbox.emit(session, pid, "interest.sent", {})
        with pytest.raises(TypeError):
            outbox.emit(session, pid, "interest.received", {"when": object()})


def test_retries_back_off_while_the_receiver_is_down_then_deliver(client, receiver):
    a, owner = create_profile(client)
    secret = register(client, receiver, owner, a["id"])
    receiver.stop()  # connections refused from now on
    event_id = emit(sessions_of(client), a["id"])
    wait_for(lambda: len(deliveries(client, a["id"], owner)[0]["attempt_log"]) >= 3)
    receiver.start()  # the same port
    wait_for(lambda: deliveries(client, a["id"], owner)[0]["state"] == "delivered")
    [item] = deliveries(client, a["id"], owner)
    log = item["attempt_log"]
    assert log[-1]["status_code"] == 200
    failures = log[:-1]
    assert len(failures) >= 3
    assert all(x["status_code"] is None and x["error"] == "connection refused" for x in failures)
    assert item["attempts"] == len(log)
    # Each wait is base * 2**(n-1) (capped at the maximum), less at most a quarter of jitter.
    from datetime import datetime

    times = [datetime.fromisoformat(x["attempted_at"]) for x in log]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    for n, gap in enumerate(gaps[: len(failures)], start=1):
        wait = min(FAST["backoff_base_s"] * 2 ** (n - 1), FAST["backoff_max_s"])
        assert gap >= 0.75 * wait - 0.02, (n, gaps)
    assert gaps[1] > gaps[0]
    [req] = receiver.to(event_id)
    assert verify(secret, req.headers["x-matchmaker-signature"], req.body)


def test_failed_after_max_attempts_then_replayed(client, receiver):
    a, owner = create_profile(client)
    register(client, receiver, owner, a["id"])
    receiver.status = 503
    event_id = emit(sessions_of(client), a["id"], "introduction.created", introduction="in_9")
    wait_for(lambda: deliveries(client, a["id"], owner)[0]["state"] == "failed")
    time.sleep(FAST["backoff_max_s"] + 0.3)  # and nothing more is tried
    [item] = deliveries(client, a["id"], owner)
    assert item["attempts"] == FAST["max_attempts"] and item["next_attempt_at"] is None
    assert [x["error"] for x in item["attempt_log"]] == ["HTTP 503"] * FAST["max_attempts"]
    assert [x["status_code"] for x in item["attempt_log"]] == [503] * FAST["max_attempts"]
    assert len(receiver.to(event_id)) == FAST["max_attempts"]
    assert deliveries(client, a["id"], owner, state="pending") == []

    receiver.status = 204
    r = client.post(f"/v1/profiles/{a['id']}/webhook/deliveries/{event_id}/replay", headers=owner)
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "pending" and r.json()["attempts"] == 0
    wait_for(lambda: deliveries(client, a["id"], owner)[0]["state"] == "delivered")
    [item] = deliveries(client, a["id"], owner)
    assert item["attempts"] == 1
    assert [x["status_code"] for x in item["attempt_log"]] == [503] * 4 + [204]
    assert receiver.accepted_ids() == {event_id}
    # Another profile's event, or an unknown one, cannot be replayed through this profile.
    b, owner_b = create_profile(client)
    r = client.post(f"/v1/profiles/{b['id']}/webhook/deliveries/{event_id}/replay", headers=owner_b)
    assert r.status_code == 404


def test_events_without_a_webhook_are_kept_as_skipped(client, receiver):
    a, owner = create_profile(client)
    skipped = emit(sessions_of(client), a["id"], "interest.expired")
    [item] = deliveries(client, a["id"], owner)
    assert (item["id"], item["state"], item["attempts"]) == (skipped, "skipped", 0)
    replay = f"/v1/profiles/{a['id']}/webhook/deliveries/{skipped}/replay"
    assert client.post(replay, headers=owner).status_code == 409  # nowhere to send it
    register(client, receiver, owner, a["id"])
    assert client.post(replay, headers=owner).status_code == 202
    wait_for(lambda: receiver.accepted_ids() == {skipped})


def test_a_pending_event_whose_webhook_was_deleted_is_skipped(client, receiver):
    a, owner = create_profile(client)
    register(client, receiver, owner, a["id"])
    state = client.app.state.matchmaker
    state.webhooks.stop()  # so the event stays pending until this test's deliverer looks
    event_id = emit(state.sessions, a["id"])
    assert deliveries(client, a["id"], owner)[0]["state"] == "pending"
    assert client.delete(f"/v1/profiles/{a['id']}/webhook", headers=owner).status_code == 204
    assert client.get(f"/v1/profiles/{a['id']}/webhook", headers=owner).status_code == 404
    assert client.delete(f"/v1/profiles/{a['id']}/webhook", headers=owner).status_code == 404
    deliverer = WebhookDeliverer(state.sessions, state.settings)
    try:
        deliverer.step()
    finally:
        deliverer.stop()
    [item] = deliveries(client, a["id"], owner)
    assert (item["id"], item["state"], item["attempt_log"]) == (event_id, "skipped", [])
    assert receiver.requests == []


def test_deleting_a_profile_deletes_its_webhook_and_events(client, receiver, admin):
    a, owner = create_profile(client)
    register(client, receiver, owner, a["id"])
    emit(sessions_of(client), a["id"])
    wait_for(lambda: receiver.accepted_ids())
    assert client.delete(f"/v1/profiles/{a['id']}", headers=owner).status_code == 204
    with sessions_of(client)() as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_deliveries_are_newest_first_in_pages_and_filter_by_state(client, receiver):
    a, owner = create_profile(client)
    ids = [emit(sessions_of(client), a["id"], n=n) for n in range(5)]  # no webhook: skipped
    register(client, receiver, owner, a["id"])
    ids.append(emit(sessions_of(client), a["id"], n=5))
    wait_for(lambda: receiver.accepted_ids() == {ids[-1]})
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = client.get(
            f"/v1/profiles/{a['id']}/webhook/deliveries", headers=owner, params=params
        ).json()
        assert len(r["items"]) <= 2
        seen += [d["id"] for d in r["items"]]
        cursor = r["next_cursor"]
        if not cursor:
            break
    assert seen == ids[::-1]
    assert [d["id"] for d in deliveries(client, a["id"], owner, state="skipped")] == ids[:5][::-1]
    assert [d["id"] for d in deliveries(client, a["id"], owner, state="delivered")] == [ids[-1]]
    assert deliveries(client, a["id"], owner)[0]["data"] == {"n": 5}


def test_two_deliverers_on_one_database_deliver_each_event_once(
    client, receiver, settings, database_url
):
    a, owner = create_profile(client)
    register(client, receiver, owner, a["id"])
    client.app.state.matchmaker.webhooks.stop()  # only the two below
    ids = {emit(sessions_of(client), a["id"], n=n) for n in range(40)}
    receiver.delay = 0.02  # so each deliverer's batch is still in flight when the other claims
    engines = [create_db_engine(settings.resolved_database_url) for _ in range(2)]
    deliverers = [WebhookDeliverer(create_session_factory(e), settings) for e in engines]
    per_deliverer: list[list[str]] = [[], []]
    for d, mine in zip(deliverers, per_deliverer, strict=True):
        post = d.post

        def counted(item, post=post, mine=mine):  # noqa: ANN001, ANN202
            mine.append(item.public_id)
            return post(item)

        d.post = counted  # type: ignore[method-assign]
    try:
        for d in deliverers:
            d.start()
        wait_for(lambda: receiver.accepted_ids() == ids, timeout=60)
        time.sleep(0.5)
    finally:
        for d in deliverers:
            d.stop()
        for e in engines:
            e.dispose()
    sent = [r.event_id for r in receiver.requests]
    assert sorted(sent) == sorted(ids)  # each exactly once, not merely once after dedup
    assert all(per_deliverer), [len(p) for p in per_deliverer]  # both took part
    with sessions_of(client)() as session:
        states = session.scalars(select(WebhookEvent.state)).all()
    assert states == ["delivered"] * 40


def test_a_claim_takes_at_most_its_batch_and_leased_events_stay_with_their_claimant(
    client, receiver, settings
):
    a, owner = create_profile(client)
    register(client, receiver, owner, a["id"])
    state = client.app.state.matchmaker
    state.webhooks.stop()
    ids = [emit(state.sessions, a["id"], n=n) for n in range(6)]
    first, second = (WebhookDeliverer(state.sessions, settings) for _ in range(2))
    try:
        batch = first.claim(4)
        assert [c.public_id for c in batch] == ids[:4]  # the oldest due first, no more than 4
        # The rest; the first four are leased to the first (as if it were posting them now).
        assert [c.public_id for c in second.claim(4)] == ids[4:]
        assert first.claim(4) == second.claim(4) == []
        # A claim whose lease ran out (its deliverer died) is taken over.
        claimed = batch[0]
        with transaction(state.sessions) as session:
            event = session.get(WebhookEvent, claimed.id)
            event.locked_until = event.locked_until.replace(year=2000)
        [again] = second.claim(4)
        assert again.public_id == claimed.public_id
        # The first deliverer's late result is not recorded over the second's claim.
        first.deliver(claimed)
        with state.sessions() as session:
            assert session.get(WebhookEvent, claimed.id).state == "pending"
        second.deliver(again)
        with state.sessions() as session:
            assert session.get(WebhookEvent, claimed.id).state == "delivered"
    finally:
        first.stop()
        second.stop()
    assert len(receiver.to(claimed.public_id)) == 2  # at least once: receivers dedup by id


def test_a_profile_deleted_while_its_event_is_in_flight(client, receiver, settings):
    a, owner = create_profile(client)
    register(client, receiver, owner, a["id"])
    state = client.app.state.matchmaker
    state.webhooks.stop()
    emit(state.sessions, a["id"])
    deliverer = WebhookDeliverer(state.sessions, settings)
    try:
        [claimed] = deliverer.claim(4)
        assert client.delete(f"/v1/profiles/{a['id']}", headers=owner).status_code == 204
        assert deliverer.deliver(claimed).ok  # posted; nothing left to record it on
        assert deliverer.claim(4) == []
    finally:
        deliverer.stop()
    with state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebhookAttempt)) == 0


def test_settings_require_a_lease_longer_than_the_timeout():
    with pytest.raises(ValueError, match="lease_s must exceed timeout_s"):
        WebhookSettings(timeout_s=10, lease_s=5)


def test_the_body_is_compact_json(client, receiver):
    a, owner = create_profile(client)
    register(client, receiver, owner, a["id"])
    event_id = emit(sessions_of(client), a["id"], "outcome.reported", outcome="signed_mou")
    wait_for(lambda: receiver.to(event_id))
    raw = receiver.to(event_id)[0].body
    assert raw == json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode()
