"""Idempotency-Key on the three creating POSTs: replay, mismatch, scope, sealing, expiry,
races, and the all-or-nothing of the write and its stored response. Real app, real database."""

from __future__ import annotations

import json
import threading
import time
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from service.app import create_app
from service.auth.models import ApiKey
from service.db import transaction
from service.exports.models import ExportJob
from service.idempotency.models import IdempotentResponse
from service.idempotency.service import purge_expired
from service.profiles.models import Profile
from tests.conftest import create_profile, make_settings, profile_payload


def key() -> str:
    return str(uuid.uuid4())


def count(client: TestClient, model) -> int:
    with client.app.state.matchmaker.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_retry_gets_the_first_response_and_writes_nothing(client):
    body, k = profile_payload(), key()
    first = client.post("/v1/profiles", json=body, headers={"Idempotency-Key": k})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    # The same request again, and once with its keys in another order and other spacing.
    again = client.post("/v1/profiles", json=body, headers={"Idempotency-Key": k})
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    third = client.post(
        "/v1/profiles",
        content=reordered,
        headers={"Idempotency-Key": k, "content-type": "application/json"},
    )
    for r in (again, third):
        assert r.status_code == 201, r.text
        assert r.json() == first.json()  # owner key included
        assert r.headers["location"] == first.headers["location"]
        assert r.headers["idempotent-replayed"] == "true"
        assert r.headers["x-content-type-options"] == "nosniff"
    assert count(client, Profile) == 1
    owner = {"X-API-Key": first.json()["api_key"]}
    assert client.patch(first.headers["location"], json={"city": "Pune"}, headers=owner).is_success


def test_the_same_key_with_another_request_is_422_and_writes_nothing(client, admin):
    k = key()
    assert client.post(
        "/v1/profiles", json=profile_payload(), headers={"Idempotency-Key": k}
    ).is_success
    r = client.post("/v1/profiles", json=profile_payload(), headers={"Idempotency-Key": k})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert "different request" in r.json()["detail"][0]["msg"]
    # Another path with the same key and principal is another request too.
    r = client.post("/v1/profiles/bulk", json={"profiles": []}, headers={"Idempotency-Key": k})
    assert r.status_code == 422, r.text
    assert count(client, Profile) == 1


def test_keys_are_per_principal(client, admin, official):
    """Another API key's request with the same Idempotency-Key is its own request: it runs
    (here: the organisation exists, 409), and never gets the first one's owner key."""
    body, k = profile_payload(), key()
    assert client.post("/v1/profiles", json=body, headers={"Idempotency-Key": k}).is_success
    r = client.post("/v1/profiles", json=body, headers={"Idempotency-Key": k, **official})
    assert r.status_code == 409 and "api_key" not in r.text


def test_bulk_and_exports_replay(client, official):
    k = key()
    bulk = {"profiles": [profile_payload(), profile_payload(country="KR"), {"name": ""}]}
    first = client.post("/v1/profiles/bulk", json=bulk, headers={"Idempotency-Key": k, **official})
    assert first.status_code == 200 and first.json()["created"] == 2
    again = client.post("/v1/profiles/bulk", json=bulk, headers={"Idempotency-Key": k, **official})
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert count(client, Profile) == 2

    k = key()
    job = client.post(
        "/v1/exports", json={"format": "csv"}, headers={"Idempotency-Key": k, **official}
    )
    assert job.status_code == 202
    same = client.post(
        "/v1/exports", json={"format": "csv"}, headers={"Idempotency-Key": k, **official}
    )
    assert same.status_code == 202 and same.json()["id"] == job.json()["id"]
    assert same.headers["location"] == job.headers["location"] == f"/v1/exports/{job.json()['id']}"
    assert count(client, ExportJob) == 1


def test_the_stored_response_reveals_neither_the_owner_key_nor_the_idempotency_key(client):
    k = key()
    r = client.post("/v1/profiles", json=profile_payload(), headers={"Idempotency-Key": k})
    owner_key = r.json()["api_key"]
    with client.app.state.matchmaker.sessions() as s:
        row = s.scalars(select(IdempotentResponse)).one()
    stored = repr([row.lookup, row.fingerprint, row.status]).encode() + row.sealed
    for secret in (owner_key, k, r.json()["id"], "Bengaluru"):
        assert secret.encode() not in stored


def test_malformed_keys_are_422_naming_the_header(client):
    for bad in ("short", "x" * 256, "with space in the middle!", "é".encode() * 20):
        r = client.post("/v1/profiles", json=profile_payload(), headers={"Idempotency-Key": bad})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert count(client, Profile) == 0


def test_the_write_and_its_stored_response_commit_together(client):
    """A request whose commit fails leaves neither the profile nor a stored response (so the
    retry registers, and is not handed a response for a write that never happened)."""
    sessions = client.app.state.matchmaker.sessions
    body, k = profile_payload(), key()

    def refuse(session) -> None:
        if not session.in_nested_transaction():
            raise RuntimeError("commit refused by the test")

    event.listen(sessions, "before_commit", refuse)
    try:
        r = TestClient(client.app, raise_server_exceptions=False).post(
            "/v1/profiles", json=body, headers={"Idempotency-Key": k}
        )
    finally:
        event.remove(sessions, "before_commit", refuse)
    assert r.status_code == 500
    assert count(client, Profile) == 0 and count(client, IdempotentResponse) == 0
    r = client.post("/v1/profiles", json=body, headers={"Idempotency-Key": k})
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert count(client, Profile) == 1 and count(client, IdempotentResponse) == 1


def test_failures_are_not_stored(client):
    body = profile_payload()
    create_profile(client, **body)
    k = key()
    for _ in range(2):  # each try runs: the organisation exists
        r = client.post("/v1/profiles", json=body, headers={"Idempotency-Key": k})
        assert r.status_code == 409 and "idempotent-replayed" not in r.headers
    assert count(client, IdempotentResponse) == 0


def test_concurrent_requests_with_one_key_write_once(client, official):
    """Eight requests with one key at the same moment: one writes, every other gets its
    response (or 409 "in progress"): never a 409 for the duplicate it would have made, never a
    500 for the key's row taken under it. One profile, one export job."""
    http = TestClient(client.app, raise_server_exceptions=False)  # a 500 is an answer here
    for path, body, headers in (
        ("/v1/profiles", profile_payload(), {}),
        ("/v1/exports", {"format": "jsonl"}, official),
    ):
        k = key()
        start = threading.Barrier(8)
        answers: list = []

        def send(path=path, body=body, headers=headers, k=k, start=start, out=answers) -> None:
            start.wait()
            out.append(http.post(path, json=body, headers={"Idempotency-Key": k, **headers}))

        threads = [threading.Thread(target=send) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        texts = [(r.status_code, r.text[:200]) for r in answers]
        assert len(answers) == 8, texts
        done = [r for r in answers if r.is_success]
        others = [r for r in answers if not r.is_success]
        assert all(r.json().get("code") == "idempotency_in_progress" for r in others), texts
        assert done and len({r.json()["id"] for r in done}) == 1, texts
        assert sum("idempotent-replayed" not in r.headers for r in done) == 1, texts
    assert count(client, Profile) == 1 and count(client, ExportJob) == 1


def test_expired_responses_are_neither_replayed_nor_kept(tmp_path, database_url, encoder, settings):
    s = make_settings(tmp_path / "ttl", database_url, idempotency_ttl_hours=0.5 / 3600)
    with TestClient(create_app(s, encoder=encoder)) as c:
        body, k = profile_payload(), key()
        assert c.post("/v1/profiles", json=body, headers={"Idempotency-Key": k}).is_success
        time.sleep(0.6)
        # Expired: the request runs again (the organisation exists by now).
        r = c.post("/v1/profiles", json=body, headers={"Idempotency-Key": k})
        assert r.status_code == 409 and "idempotent-replayed" not in r.headers
        # The key may be used afresh, over the expired row not yet swept.
        r = c.post("/v1/profiles", json=profile_payload(), headers={"Idempotency-Key": k})
        assert r.status_code == 201 and "idempotent-replayed" not in r.headers
        time.sleep(0.6)
        with transaction(c.app.state.matchmaker.sessions) as session:
            assert purge_expired(session) == 1
        assert count(c, IdempotentResponse) == 0


def test_admins_reissue_an_owner_key_and_the_old_one_stops_at_once(client, admin):
    a, owner = create_profile(client)
    url = f"/v1/profiles/{a['id']}"
    r = client.post(url + "/owner-key", headers=admin)
    assert r.status_code == 200 and r.json()["id"] == a["id"]
    new = {"X-API-Key": r.json()["api_key"]}
    assert new != owner
    assert client.patch(url, json={"city": "Pune"}, headers=owner).status_code == 401
    assert client.patch(url, json={"city": "Pune"}, headers=new).status_code == 200
    with client.app.state.matchmaker.sessions() as s:  # one owner key, the new one
        assert s.scalar(select(func.count()).where(ApiKey.role == "owner")) == 1
    assert client.post(url + "/owner-key", headers=new).status_code == 403
    assert (
        client.post("/v1/profiles/pr_0000000000000000/owner-key", headers=admin).status_code == 404
    )
