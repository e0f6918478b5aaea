"""Every endpoint under every role. Fails when an endpoint appears without a matrix entry."""

from __future__ import annotations

import pytest

from tests.conftest import create_profile, profile_payload

ROLES = ("anonymous", "owner_a", "owner_b", "official", "official_b", "admin")

# (method, path) -> expected status for each role, in ROLES order. {profile_id} is profile A
# (owned by owner_a, with a webhook and one failed event, {event_id}), {export_id} a finished
# export made by `official`: another official (official_b) gets the same 404 as for a missing
# export.
MATRIX: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/healthz"): (200, 200, 200, 200, 200, 200),
    ("GET", "/readyz"): (200, 200, 200, 200, 200, 200),
    ("GET", "/metrics"): (200, 200, 200, 200, 200, 200),
    ("GET", "/v1/sectors"): (200, 200, 200, 200, 200, 200),
    ("POST", "/v1/profiles"): (201, 201, 201, 201, 201, 201),
    ("POST", "/v1/profiles/bulk"): (401, 403, 403, 200, 200, 200),
    ("GET", "/v1/profiles"): (200, 200, 200, 200, 200, 200),
    ("GET", "/v1/profiles/{profile_id}"): (200, 200, 200, 200, 200, 200),
    ("PATCH", "/v1/profiles/{profile_id}"): (401, 200, 403, 403, 403, 200),
    ("DELETE", "/v1/profiles/{profile_id}"): (401, 204, 403, 403, 403, 204),
    ("POST", "/v1/profiles/{profile_id}/owner-key"): (401, 403, 403, 403, 403, 200),
    ("GET", "/v1/profiles/{profile_id}/matches"): (401, 200, 403, 200, 200, 200),
    ("POST", "/v1/matches/search"): (401, 403, 403, 200, 200, 200),
    ("GET", "/v1/pairings"): (401, 403, 403, 200, 200, 200),
    ("POST", "/v1/exports"): (401, 403, 403, 202, 202, 202),
    ("GET", "/v1/exports/{export_id}"): (401, 403, 403, 200, 404, 200),
    ("GET", "/v1/exports/{export_id}/file"): (401, 403, 403, 200, 404, 200),
    # The first PUT by an allowed role creates (201), the next replaces (200).
    ("PUT", "/v1/profiles/{profile_id}/webhook"): (401, 200, 403, 403, 403, 200),
    ("GET", "/v1/profiles/{profile_id}/webhook"): (401, 200, 403, 403, 403, 200),
    ("DELETE", "/v1/profiles/{profile_id}/webhook"): (401, 204, 403, 403, 403, 204),
    ("GET", "/v1/profiles/{profile_id}/webhook/deliveries"): (401, 200, 403, 403, 403, 200),
    ("POST", "/v1/profiles/{profile_id}/webhook/deliveries/{event_id}/replay"): (
        401,
        202,
        403,
        403,
        403,
        202,
    ),
    # The workflow after a match. Fresh interests and profiles per role (see _workflow_target):
    # an answered interest cannot be answered again.
    ("POST", "/v1/profiles/{profile_id}/interests"): (401, 201, 403, 403, 403, 201),
    ("GET", "/v1/profiles/{profile_id}/interests"): (401, 200, 403, 200, 200, 200),
    ("GET", "/v1/interests/{interest_id}"): (401, 200, 403, 200, 200, 200),
    ("POST", "/v1/interests/{interest_id}/accept"): (401, 200, 403, 403, 403, 200),
    ("POST", "/v1/interests/{interest_id}/decline"): (401, 200, 403, 403, 403, 200),
    ("POST", "/v1/interests/{interest_id}/withdraw"): (401, 200, 403, 403, 403, 200),
    ("POST", "/v1/introductions"): (401, 403, 403, 201, 201, 201),
    ("GET", "/v1/introductions"): (401, 403, 403, 200, 200, 200),
    ("GET", "/v1/introductions/{introduction_id}"): (401, 200, 403, 200, 200, 200),
    ("POST", "/v1/introductions/{introduction_id}/outcomes"): (401, 201, 403, 403, 403, 403),
    ("GET", "/v1/stats/funnel"): (401, 403, 403, 200, 200, 200),
    # Screening: the vocabulary is public; the queue and decisions are officials' work.
    ("GET", "/v1/screening/categories"): (200, 200, 200, 200, 200, 200),
    ("GET", "/v1/screening/queue"): (401, 403, 403, 200, 200, 200),
    ("POST", "/v1/screening/decisions"): (401, 403, 403, 201, 201, 201),
}


def profile_with_webhook(client, admin) -> tuple[dict, dict[str, str], str]:
    """Profile A with a webhook (to a closed port) and one failed event to replay."""
    from sqlalchemy import update

    from service.db import transaction
    from service.profiles import service as profiles
    from service.webhooks import outbox
    from service.webhooks.models import WebhookEvent

    a, owner = create_profile(client)
    url = f"/v1/profiles/{a['id']}/webhook"
    assert client.put(url, json={"url": "http://127.0.0.1:9/"}, headers=admin).status_code == 201
    with transaction(client.app.state.matchmaker.sessions) as session:
        event_id = outbox.emit(
            session, profiles.get(session, a["id"]).id, "interest.received", {"x": 1}
        )
        session.execute(
            update(WebhookEvent).where(WebhookEvent.public_id == event_id).values(state="failed")
        )
    return a, owner, event_id


def _workflow_target(client, method: str, path: str, a: dict, owner_a: dict) -> tuple[str, dict]:
    """A fresh URL and body for a workflow endpoint: profile A (owned by owner_a) sends, or
    receives, a new interest, or is introduced to a new Korean profile."""
    kr, kr_key = create_profile(client, country="KR")
    if path == "/v1/profiles/{profile_id}/interests":
        return path.replace("{profile_id}", a["id"]), {"to": kr["id"]}
    if path == "/v1/introductions":
        other, _ = create_profile(client, country="IN")
        return path, {"profiles": [other["id"], kr["id"]]}
    incoming = path.endswith("/accept") or path.endswith("/decline")
    sender, key, to = (kr, kr_key, a) if incoming else (a, owner_a, kr)
    r = client.post(f"/v1/profiles/{sender['id']}/interests", json={"to": to["id"]}, headers=key)
    interest = r.json()["id"]
    body = {"reason": "not_now"} if path.endswith("/decline") else None
    if "{introduction_id}" in path:
        client.post(f"/v1/interests/{interest}/accept", headers=kr_key)
        ix = client.get(f"/v1/profiles/{a['id']}/matches", headers=owner_a).json()["matches"]
        intro = next(m["introduction_id"] for m in ix if m["profile"]["id"] == kr["id"])
        url = path.replace("{introduction_id}", intro)
        if path.endswith("/outcomes"):
            body = {"stage": "meeting_held", "date": "2026-01-15"}
        return url, body
    return path.replace("{interest_id}", interest), body


def api_routes(app) -> set[tuple[str, str]]:
    """Every operation the app serves, from its OpenAPI schema (included routers too)."""
    return {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}


def test_matrix_covers_every_endpoint(client):
    assert api_routes(client.app) == set(MATRIX)


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_role_matrix(client, official, admin, method, path):
    import time

    from service.auth.service import create_key
    from service.db import transaction

    a, owner_a, event_id = profile_with_webhook(client, admin)
    kr, _ = create_profile(client, country="KR")
    _, owner_b = create_profile(client)
    with transaction(client.app.state.matchmaker.sessions) as session:
        official_b = {"X-API-Key": create_key(session, "official", "another official")}
    headers = {
        "anonymous": {},
        "owner_a": owner_a,
        "owner_b": owner_b,
        "official": official,
        "official_b": official_b,
        "admin": admin,
    }
    job = client.post("/v1/exports", json={"format": "jsonl"}, headers=official).json()["id"]
    for _ in range(200):
        if client.get(f"/v1/exports/{job}", headers=admin).json()["status"] == "done":
            break
        time.sleep(0.05)
    workflow = path.startswith(("/v1/interests", "/v1/introductions")) or path.endswith(
        "/interests"
    )
    for role, expected in zip(ROLES, MATRIX[(method, path)], strict=True):
        url = (
            path.replace("{profile_id}", a["id"])
            .replace("{export_id}", job)
            .replace("{event_id}", event_id)
        )
        body = None
        if workflow and (method == "POST" or "{" in path):
            url, body = _workflow_target(client, method, path, a, owner_a)
        elif (method, path) == ("POST", "/v1/profiles"):
            body = profile_payload()
        elif path == "/v1/profiles/bulk":
            body = {"profiles": [profile_payload()]}
        elif path == "/v1/matches/search":
            body = {"needs": "Partners for semiconductor packaging lines.", "country": "KR"}
        elif path == "/v1/screening/decisions":
            body = {"profiles": [a["id"], kr["id"]], "decision": "cleared"}
        elif method == "PATCH":
            body = {"city": "Pune"}
        elif (method, path) == ("POST", "/v1/exports"):
            body = {"format": "csv"}
        elif method == "PUT":
            body = {"url": "https://hooks.example.com/matchmaker"}
        r = client.request(method, url, json=body, headers=headers[role])
        assert r.status_code == expected, (role, method, path, r.text)
        if r.status_code == 204:  # deleted: recreate for the next role
            a, owner_a, event_id = profile_with_webhook(client, admin)
            headers["owner_a"] = owner_a
