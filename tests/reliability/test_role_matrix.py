"""Every endpoint under every role. Fails when an endpoint appears without a matrix entry."""

from __future__ import annotations

import pytest

from tests.conftest import create_profile, profile_payload

ROLES = ("anonymous", "owner_a", "owner_b", "official", "official_b", "admin")

# (method, path) -> expected status for each role, in ROLES order. {a} is profile A (owned by
# owner_a), {x} a finished export made by `official`: another official (official_b) gets the
# same 404 as for a missing export.
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
}


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

    a, owner_a = create_profile(client)
    create_profile(client, country="KR")
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
    for role, expected in zip(ROLES, MATRIX[(method, path)], strict=True):
        url = path.replace("{profile_id}", a["id"]).replace("{export_id}", job)
        body = None
        if (method, path) == ("POST", "/v1/profiles"):
            body = profile_payload()
        elif path == "/v1/profiles/bulk":
            body = {"profiles": [profile_payload()]}
        elif path == "/v1/matches/search":
            body = {"needs": "Partners for semiconductor packaging lines.", "country": "KR"}
        elif method == "PATCH":
            body = {"city": "Pune"}
        elif (method, path) == ("POST", "/v1/exports"):
            body = {"format": "csv"}
        r = client.request(method, url, json=body, headers=headers[role])
        assert r.status_code == expected, (role, method, path, r.text)
        if r.status_code == 204:  # deleted: recreate for the next role
            a, owner_a = create_profile(client)
            headers["owner_a"] = owner_a
