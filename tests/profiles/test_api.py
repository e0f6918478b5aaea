"""Profile registry API: every endpoint, role rule and bad-input rule."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.core.middleware import sample_value
from service.profiles.changes import ProfileChange
from service.profiles.models import Profile
from tests.conftest import create_profile, profile_payload


def count_profiles(client) -> int:
    with client.app.state.matchmaker.sessions() as s:
        return s.scalar(select(func.count()).select_from(Profile))


def test_register_returns_profile_location_and_owner_key(client):
    r = client.post("/v1/profiles", json=profile_payload(contact_email="ceo@example.com"))
    assert r.status_code == 201
    body = r.json()
    assert r.headers["location"] == f"/v1/profiles/{body['id']}"
    assert body["api_key"].startswith("mm_")
    assert body["contact_email"] == "ceo@example.com"
    assert {"created_at", "updated_at"} <= body.keys()
    # Stored only as a hash.
    from service.auth.models import ApiKey

    with client.app.state.matchmaker.sessions() as s:
        hashes = s.scalars(select(ApiKey.key_hash)).all()
    assert body["api_key"] not in hashes and len(hashes) == 1


def test_get_hides_contact_email_from_anonymous_and_other_owners(client, official, admin):
    a, owner_a = create_profile(client, contact_email="a@example.com")
    _, owner_b = create_profile(client)
    url = f"/v1/profiles/{a['id']}"
    assert client.get(url).json()["contact_email"] is None
    assert client.get(url, headers=owner_b).json()["contact_email"] is None
    for h in (owner_a, official, admin):
        assert client.get(url, headers=h).json()["contact_email"] == "a@example.com"
    assert "api_key" not in client.get(url).json()


def test_unknown_profile_is_404(client):
    assert client.get("/v1/profiles/pr_doesnotexist").status_code == 404


def test_unknown_key_is_401(client):
    a, _ = create_profile(client)
    r = client.get(f"/v1/profiles/{a['id']}", headers={"X-API-Key": "mm_wrong"})
    assert r.status_code == 401
    assert "mm_wrong" not in r.text


def test_patch_and_delete_roles(client, official, admin):
    a, owner_a = create_profile(client)
    _, owner_b = create_profile(client)
    url = f"/v1/profiles/{a['id']}"
    assert client.patch(url, json={"city": "Pune"}).status_code == 401
    assert client.patch(url, json={"city": "Pune"}, headers=owner_b).status_code == 403
    assert client.patch(url, json={"city": "Pune"}, headers=official).status_code == 403
    r = client.patch(url, json={"city": "Pune"}, headers=owner_a)
    assert r.status_code == 200 and r.json()["city"] == "Pune"
    assert client.patch(url, json={"city": "Chennai"}, headers=admin).json()["city"] == "Chennai"
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers=owner_b).status_code == 403
    assert client.delete(url, headers=official).status_code == 403
    assert client.delete(url, headers=owner_a).status_code == 204
    assert client.get(url).status_code == 404
    # The owner key died with the profile.
    assert client.get("/v1/profiles", headers=owner_a).status_code == 401


def test_admin_deletes_any_profile(client, admin):
    a, _ = create_profile(client)
    assert client.delete(f"/v1/profiles/{a['id']}", headers=admin).status_code == 204


def test_list_filters_and_cursor_pagination(client):
    for i in range(5):
        create_profile(
            client,
            country="KR" if i % 2 else "IN",
            sectors=["ai"] if i < 2 else ["defence"],
            org_type="startup",
        )
    r = client.get("/v1/profiles", params={"limit": 2})
    page1 = r.json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = client.get("/v1/profiles", params={"limit": 2, "cursor": page1["next_cursor"]}).json()
    page3 = client.get("/v1/profiles", params={"limit": 2, "cursor": page2["next_cursor"]}).json()
    ids = [p["id"] for p in page1["items"] + page2["items"] + page3["items"]]
    assert len(set(ids)) == 5 and page3["next_cursor"] is None
    assert all(
        p["country"] == "KR"
        for p in client.get("/v1/profiles", params={"country": "KR"}).json()["items"]
    )
    ai = client.get("/v1/profiles", params={"sector": "ai"}).json()["items"]
    assert len(ai) == 2 and all("ai" in p["sectors"] for p in ai)
    assert client.get("/v1/profiles", params={"org_type": "university"}).json()["items"] == []
    found = client.get("/v1/profiles", params={"q": "WAFER-LEVEL"}).json()["items"]
    assert len(found) == 5


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 201},
        {"limit": 0},
        {"limit": -1},
        {"limit": "ten"},
        {"cursor": "garbage!"},
        {"sector": "fishing"},
        {"country": "JP"},
    ],
)
def test_list_rejects_bad_paging_and_filters(client, params):
    r = client.get("/v1/profiles", params=params)
    assert r.status_code == 422, r.text


def test_sectors_lists_the_five_core_sectors(client):
    sectors = {s["code"]: s for s in client.get("/v1/sectors").json()["sectors"]}
    assert {"semiconductors", "ai", "clean_energy", "shipbuilding", "defence"} <= sectors.keys()
    assert all(s["name"] and s["description"] for s in sectors.values())


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"sectors": ["fishing"]}, "sectors"),
        ({"sectors": []}, "sectors"),
        ({"sectors": ["ai", "ai"]}, "sectors"),
        (
            {
                "sectors": [
                    "ai",
                    "defence",
                    "semiconductors",
                    "shipbuilding",
                    "clean_energy",
                    "automotive",
                ]
            },
            "sectors",
        ),
        ({"country": "JP"}, "country"),
        ({"org_type": "club"}, "org_type"),
        ({"name": "A"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"capabilities": "too short"}, "capabilities"),
        ({"needs": "n" * 5001}, "needs"),
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"employees": 0}, "employees"),
        ({"tags": ["t"] * 31}, "tags"),
        ({"partnership_types": ["merger"]}, "partnership_types"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"name": "Bad\x00Name Ltd"}, "name"),
        ({"capabilities": "We make chips\x07 and other things for everyone."}, "capabilities"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, override, field):
    r = client.post("/v1/profiles", json=profile_payload(**override))
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["detail"]]
    assert any(field in loc for loc in locs), locs
    assert count_profiles(client) == 0


def test_unknown_sector_message_lists_valid_codes(client):
    r = client.post("/v1/profiles", json=profile_payload(sectors=["fishing"]))
    msg = r.json()["detail"][0]["msg"]
    assert "semiconductors" in msg and "shipbuilding" in msg


def test_missing_required_fields(client):
    r = client.post("/v1/profiles", json={"name": "Only A Name"})
    missing = {e["loc"][-1] for e in r.json()["detail"]}
    assert {"country", "org_type", "sectors", "capabilities", "needs"} <= missing


def test_oversized_body_is_413_before_parsing(client):
    r = client.post(
        "/v1/profiles",
        content=b"{" + b" " * (70 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert count_profiles(client) == 0


def test_malformed_and_deeply_nested_json(client):
    r = client.post(
        "/v1/profiles", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    deep = b"[" * 20000 + b"]" * 20000
    r = client.post("/v1/profiles", content=deep, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    r = client.post(
        "/v1/profiles",
        content=b'{"name": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500


def test_duplicate_registration_is_409_with_existing_id(client):
    a, _ = create_profile(client, name="Hanbit Marine Systems", country="KR")
    r = client.post(
        "/v1/profiles", json=profile_payload(name="  hanbit   MARINE systems ", country="KR")
    )
    assert r.status_code == 409
    assert r.json()["existing_id"] == a["id"]
    assert count_profiles(client) == 1
    # Same name in the other country is a different organisation.
    assert (
        client.post(
            "/v1/profiles", json=profile_payload(name="Hanbit Marine Systems", country="IN")
        ).status_code
        == 201
    )


def test_patch_validation_and_no_partial_write(client):
    a, owner = create_profile(client)
    url = f"/v1/profiles/{a['id']}"
    r = client.patch(url, json={"city": "Pune", "sectors": ["fishing"]}, headers=owner)
    assert r.status_code == 422
    assert client.get(url).json()["city"] == "Bengaluru"
    assert client.patch(url, json={"name": None}, headers=owner).status_code == 422
    assert client.patch(url, json={"country": "KR"}, headers=owner).status_code == 422


def test_patch_rename_onto_existing_name_is_409(client):
    create_profile(client, name="First Name Ltd")
    b, owner_b = create_profile(client, name="Second Name Ltd")
    r = client.patch(f"/v1/profiles/{b['id']}", json={"name": "FIRST name ltd"}, headers=owner_b)
    assert r.status_code == 409
    assert client.get(f"/v1/profiles/{b['id']}").json()["name"] == "Second Name Ltd"


def test_injection_strings_are_stored_verbatim(client):
    name = "Robert'); DROP TABLE profiles;-- <script>alert(1)</script>"
    a, _ = create_profile(client, name=name)
    assert client.get(f"/v1/profiles/{a['id']}").json()["name"] == name
    assert count_profiles(client) == 1


def test_bulk_is_per_item_and_staff_only(client, official, admin):
    items = [profile_payload(), profile_payload(sectors=["fishing"]), profile_payload()]
    items.append(dict(items[0]))  # duplicate of the first within the request
    assert client.post("/v1/profiles/bulk", json={"profiles": items}).status_code == 401
    _, owner = create_profile(client)
    assert (
        client.post("/v1/profiles/bulk", json={"profiles": items}, headers=owner).status_code == 403
    )
    r = client.post("/v1/profiles/bulk", json={"profiles": items}, headers=official)
    assert r.status_code == 200
    res = r.json()
    assert res["created"] == 2 and res["failed"] == 2
    statuses = [x["status"] for x in res["results"]]
    assert statuses == [201, 422, 201, 409]
    assert res["results"][1]["error"]["detail"][0]["loc"] == ["sectors", 0]
    assert count_profiles(client) == 3
    assert client.get(f"/v1/profiles/{res['results'][0]['id']}").status_code == 200


def test_bulk_limit(client, admin):
    r = client.post("/v1/profiles/bulk", json={"profiles": [{}] * 1001}, headers=admin)
    assert r.status_code == 422


def test_name_lookup_of_a_registration_uses_the_unique_index(client):
    """The duplicate-name check must not scan the table (it did: 0.3 s a registration at 100k)."""
    from sqlalchemy import event

    from service.profiles.repository import existing_name_keys

    sessions = client.app.state.matchmaker.sessions
    with sessions() as session:
        conn = session.connection()
        if conn.dialect.name != "sqlite":
            pytest.skip("the query plan is read with SQLite's EXPLAIN QUERY PLAN")
        seen: list[tuple[str, tuple]] = []

        def grab(_conn, _cursor, statement, parameters, _context, _many) -> None:
            seen.append((statement, parameters))

        event.listen(conn, "before_cursor_execute", grab)
        existing_name_keys(session, [("IN", "acme"), ("KR", "hanbit")])
        event.remove(conn, "before_cursor_execute", grab)
        ((statement, parameters),) = seen
        plan = " ".join(
            str(row[-1])
            for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
    assert "USING INDEX" in plan and "SCAN profiles" not in plan, plan


def test_every_write_is_logged_for_the_index(client):
    a, owner = create_profile(client)
    client.patch(f"/v1/profiles/{a['id']}", json={"city": "Pune"}, headers=owner)
    client.delete(f"/v1/profiles/{a['id']}", headers=owner)
    with client.app.state.matchmaker.sessions() as s:
        ops = s.scalars(select(ProfileChange.op).order_by(ProfileChange.seq)).all()
    assert ops == ["upsert", "upsert", "delete"]


def test_a_write_whose_commit_fails_is_not_acknowledged(client):
    """The session commits before the response is sent: a failed commit is an error response,
    never a 201 for a profile that does not exist."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    sessions = client.app.state.matchmaker.sessions
    before = count_profiles(client)

    def refuse(session) -> None:
        if not session.in_nested_transaction():  # savepoints pass; the request's commit fails
            raise RuntimeError("commit refused by the test")

    event.listen(sessions, "before_commit", refuse)
    try:
        r = TestClient(client.app, raise_server_exceptions=False).post(
            "/v1/profiles", json=profile_payload()
        )
    finally:
        event.remove(sessions, "before_commit", refuse)
    assert r.status_code == 500, r.text
    assert "api_key" not in r.text
    assert count_profiles(client) == before
    create_profile(client)  # the pool and the app are fine afterwards
    assert count_profiles(client) == before + 1


def test_health_ready_metrics_and_security_headers(client, admin):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {
        "model": True,
        "index": True,
        "database": True,
    }
    client.get("/v1/sectors")
    a, _ = create_profile(client)
    create_profile(client, country="KR")
    lookups = {}
    for _ in range(2):  # the second list quotes what the first one read into the cache
        assert client.get(f"/v1/profiles/{a['id']}/matches", headers=admin).status_code == 200
        text = client.get("/metrics").text
        lookups = {
            r: sample_value(text, "matchmaker_sentence_cache_lookups", 0.0, result=r)
            - lookups.get(r, 0)
            for r in ("hit", "miss")
        }
    assert lookups["miss"] == 0 and lookups["hit"] >= 3  # A's two texts, each partner's offer
    m = client.get("/metrics")
    assert "matchmaker_http_requests_total" in m.text
    assert 'route="/v1/sectors"' in m.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_cors_closed_by_default(client):
    r = client.options(
        "/v1/sectors",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers
