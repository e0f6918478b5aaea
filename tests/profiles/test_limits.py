from __future__ import annotations

from fastapi.testclient import TestClient

from service.app import create_app
from tests.conftest import ADMIN_KEY, create_profile, make_settings, profile_payload


def test_registration_rate_limit_per_address_with_retry_after(
    tmp_path, database_url, encoder, settings
):
    s = make_settings(
        tmp_path / "rl",
        database_url,
        rate_limit_enabled=True,
        rate_limit_registrations_per_minute=2,
    )
    with TestClient(create_app(s, encoder=encoder)) as c:
        assert c.post("/v1/profiles", json=profile_payload()).status_code == 201
        assert c.post("/v1/profiles", json=profile_payload()).status_code == 201
        r = c.post("/v1/profiles", json=profile_payload())
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        # Admin keys are exempt.
        r = c.post("/v1/profiles", json=profile_payload(), headers={"X-API-Key": ADMIN_KEY})
        assert r.status_code == 201


def test_write_rate_limit_per_key(tmp_path, database_url, encoder, settings):
    s = make_settings(
        tmp_path / "rl2", database_url, rate_limit_enabled=True, rate_limit_writes_per_minute=2
    )
    with TestClient(create_app(s, encoder=encoder)) as c:
        body = c.post("/v1/profiles", json=profile_payload()).json()
        h = {"X-API-Key": body["api_key"]}
        url = f"/v1/profiles/{body['id']}"
        assert c.patch(url, json={"city": "Pune"}, headers=h).status_code == 200
        assert c.patch(url, json={"city": "Goa"}, headers=h).status_code == 200
        r = c.patch(url, json={"city": "Surat"}, headers=h)
        assert r.status_code == 429 and "retry-after" in r.headers
        assert c.get(url).json()["city"] == "Goa"


def test_cors_configurable(tmp_path, database_url, encoder, settings):
    s = make_settings(tmp_path / "cors", database_url, cors_origins=["https://ok.example"])
    with TestClient(create_app(s, encoder=encoder)) as c:
        r = c.get("/v1/sectors", headers={"Origin": "https://ok.example"})
        assert r.headers["access-control-allow-origin"] == "https://ok.example"
        r = c.get("/v1/sectors", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_bulk_counts_one_write_per_profile(tmp_path, database_url, encoder, settings):
    """A bulk of N profiles costs N writes of the key's allowance (it was one write, so a key
    could register without bound by batching), and a bulk over the whole allowance, which no
    wait would let through, is 422 naming the limit."""
    from service.auth.service import create_key
    from service.db import transaction

    s = make_settings(
        tmp_path / "rl3", database_url, rate_limit_enabled=True, rate_limit_writes_per_minute=5
    )
    with TestClient(create_app(s, encoder=encoder)) as c:
        with transaction(c.app.state.matchmaker.sessions) as session:
            h = {"X-API-Key": create_key(session, "official", "bulk")}
        bulk = {"profiles": [profile_payload() for _ in range(3)]}
        r = c.post("/v1/profiles/bulk", json=bulk, headers=h)
        assert r.status_code == 200 and r.json()["created"] == 3
        r = c.post(
            "/v1/profiles/bulk", json={"profiles": [profile_payload() for _ in range(3)]}, headers=h
        )
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # Two writes are left: a bulk of two passes, a PATCH-sized write after it does not.
        r = c.post(
            "/v1/profiles/bulk", json={"profiles": [profile_payload() for _ in range(2)]}, headers=h
        )
        assert r.status_code == 200 and r.json()["created"] == 2
        r = c.post("/v1/profiles/bulk", json={"profiles": [profile_payload()]}, headers=h)
        assert r.status_code == 429
        # Larger than the whole allowance: refused for good, naming the setting.
        r = c.post(
            "/v1/profiles/bulk", json={"profiles": [profile_payload() for _ in range(6)]}, headers=h
        )
        assert r.status_code == 422
        assert "WRITES_PER_MINUTE" in r.json()["detail"][0]["msg"]
        # Admins are exempt.
        r = c.post(
            "/v1/profiles/bulk",
            json={"profiles": [profile_payload() for _ in range(6)]},
            headers={"X-API-Key": ADMIN_KEY},
        )
        assert r.status_code == 200 and r.json()["created"] == 6


def test_registrations_behind_a_trusted_proxy_are_limited_per_client(
    tmp_path, database_url, encoder, settings
):
    """From a trusted proxy, the right-most X-Forwarded-For hop that is not a trusted proxy
    is the client: two clients behind one proxy have a limit each, and what a client writes
    to the left of the header cannot move it to another bucket. From any other peer the
    header is ignored (it could say anything)."""
    s = make_settings(
        tmp_path / "proxy",
        database_url,
        rate_limit_enabled=True,
        rate_limit_registrations_per_minute=2,
        trusted_proxies=["203.0.113.0/24", "10.1.2.3"],
    )
    app = create_app(s, encoder=encoder)
    with TestClient(app, client=("203.0.113.7", 40000)) as proxy:

        def register(forwarded: str) -> int:
            r = proxy.post(
                "/v1/profiles", json=profile_payload(), headers={"X-Forwarded-For": forwarded}
            )
            return r.status_code

        assert register("198.51.100.1") == 201
        assert register("198.51.100.1") == 201
        assert register("198.51.100.1") == 429
        # A forged left part changes nothing: the proxy appended the real address.
        assert register("192.0.2.99, 198.51.100.1") == 429
        # Another client behind the same proxy, also through a second trusted proxy.
        assert register("198.51.100.2") == 201
        assert register("198.51.100.2, 10.1.2.3") == 201
        assert register("198.51.100.2, 10.1.2.3") == 429
    # A peer that is not a trusted proxy is limited by its own address, whatever it sends.
    with TestClient(app, client=("192.0.2.50", 40000)) as direct:
        codes = [
            direct.post(
                "/v1/profiles",
                json=profile_payload(),
                headers={"X-Forwarded-For": f"198.51.100.{10 + i}"},
            ).status_code
            for i in range(3)
        ]
        assert codes == [201, 201, 429]


def test_no_proxy_is_trusted_by_default(tmp_path, database_url, encoder, settings):
    s = make_settings(
        tmp_path / "noproxy",
        database_url,
        rate_limit_enabled=True,
        rate_limit_registrations_per_minute=1,
    )
    with TestClient(create_app(s, encoder=encoder), client=("127.0.0.1", 40000)) as c:
        codes = [
            c.post(
                "/v1/profiles", json=profile_payload(), headers={"X-Forwarded-For": f"192.0.2.{i}"}
            ).status_code
            for i in (1, 2)
        ]
        assert codes == [201, 429]


def test_limits_are_counted_in_redis_when_it_is_configured(tmp_path):
    from service.config import Settings

    assert Settings(_env_file=None).resolved_rate_limit_storage == "memory://"
    s = Settings(redis_url="redis://127.0.0.1:6379/0")
    assert s.resolved_rate_limit_storage == "redis://127.0.0.1:6379/0"
    assert (
        Settings(redis_url="redis://x", rate_limit_storage="memory://").resolved_rate_limit_storage
        == "memory://"
    )


def test_an_unreachable_limit_store_does_not_refuse_requests(
    tmp_path, database_url, encoder, settings, caplog
):
    """Redis down: requests are served, not counted, and a warning says so (refusing every
    registration and write would turn a Redis outage into a service outage)."""
    s = make_settings(
        tmp_path / "noredis",
        database_url,
        rate_limit_enabled=True,
        redis_url="redis://127.0.0.1:1/0",  # nothing listens there
    )
    with TestClient(create_app(s, encoder=encoder)) as c:
        assert c.post("/v1/profiles", json=profile_payload()).status_code == 201
    assert "rate-limit storage unreachable" in caplog.text


def test_wrong_api_keys_are_limited_per_address_and_then_no_key_is_told_apart(
    tmp_path,
    database_url,
    encoder,
    settings,  # settings: wipes the database afterwards
):
    s = make_settings(
        tmp_path / "keys",
        database_url,
        rate_limit_enabled=True,
        rate_limit_signin_failures_per_minute=3,
    )
    with TestClient(create_app(s, encoder=encoder)) as c:
        body, owner = create_profile(c)
        pid = body["id"]
        assert c.get(f"/v1/profiles/{pid}/matches", headers=owner).status_code == 200
        wrong = {"X-API-Key": "mm_" + "x" * 40}
        for _ in range(3):
            r = c.get(f"/v1/profiles/{pid}", headers=wrong)
            assert r.status_code == 401 and "unknown API key" in r.text
        r = c.get(f"/v1/profiles/{pid}", headers=wrong)
        assert r.status_code == 429, r.text
        assert "too many wrong API keys" in r.json()["detail"], r.json()
        assert int(r.headers["retry-after"]) >= 1
        # while the window lasts, a right key gets the same answer as a wrong one, the
        # admin's too; requests without a key are not affected
        for right in (owner, {"X-API-Key": ADMIN_KEY}):
            assert c.get(f"/v1/profiles/{pid}", headers=right).status_code == 429
        assert c.get(f"/v1/profiles/{pid}").status_code == 200
