"""Registering a webhook: URL rules, secret rotation, and who may see and change it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import WebhookSettings
from tests.conftest import create_profile
from tests.webhooks.conftest import FAST


def put(client, profile_id, url, headers):
    return client.put(f"/v1/profiles/{profile_id}/webhook", json={"url": url}, headers=headers)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.com/in", "must use https"),
        ("https://10.1.2.3/in", "private or reserved"),
        ("https://169.254.169.254/latest", "private or reserved"),
        ("https://[fd00::1]/in", "private or reserved"),
        ("http://192.168.0.10:8080/", "must use https"),
        ("ftp://hooks.example.com/", "URL scheme should be 'http' or 'https'"),
        ("not a url", "valid URL"),
        ("https://hooks.example.com/" + "x" * 2000, "at most 2000"),
    ],
)
def test_invalid_urls_get_422_naming_the_problem(client, url, problem):
    a, owner = create_profile(client)
    r = put(client, a["id"], url, owner)
    assert r.status_code == 422, r.text
    [err] = r.json()["detail"]
    assert err["loc"][-1] == "url" and problem in err["msg"], err
    assert client.get(f"/v1/profiles/{a['id']}/webhook", headers=owner).status_code == 404


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/matchmaker", "http://127.0.0.1:8001/hook", "http://localhost/x"],
)
def test_accepted_urls(client, url):
    a, owner = create_profile(client)
    assert put(client, a["id"], url, owner).status_code == 201


def test_localhost_is_refused_when_not_allowed(settings, encoder):
    settings = settings.model_copy(
        update={"webhook": WebhookSettings(**FAST | {"allow_localhost": False})}
    )
    with TestClient(create_app(settings, encoder=encoder)) as client:
        a, owner = create_profile(client)
        for url in ("http://127.0.0.1:8001/hook", "https://localhost/hook", "https://[::1]/"):
            r = put(client, a["id"], url, owner)
            assert r.status_code == 422, (url, r.text)
            assert r.json()["detail"][0]["loc"] == ["body", "url"]
        assert put(client, a["id"], "https://hooks.example.com/", owner).status_code == 201


def test_each_put_rotates_the_secret_which_is_shown_only_then(client):
    a, owner = create_profile(client)
    first = put(client, a["id"], "https://hooks.example.com/one", owner)
    assert first.status_code == 201
    second = put(client, a["id"], "https://hooks.example.com/two", owner)
    assert second.status_code == 200
    s1, s2 = first.json()["secret"], second.json()["secret"]
    assert s1.startswith("whsec_") and s2.startswith("whsec_") and s1 != s2
    assert second.json()["created_at"] == first.json()["created_at"]
    got = client.get(f"/v1/profiles/{a['id']}/webhook", headers=owner)
    assert got.status_code == 200
    assert got.json()["url"] == "https://hooks.example.com/two"
    assert set(got.json()) == {"url", "created_at", "updated_at"}
    assert s2 not in got.text and s1 not in got.text


def test_only_the_owner_and_admins(client, official, admin):
    a, owner_a = create_profile(client)
    _, owner_b = create_profile(client)
    hook = f"/v1/profiles/{a['id']}/webhook"
    assert client.put(hook, json={"url": "https://x.example.com/"}).status_code == 401
    for other in (owner_b, official):
        assert put(client, a["id"], "https://x.example.com/", other).status_code == 403
        assert client.get(hook, headers=other).status_code == 403
        assert client.get(hook + "/deliveries", headers=other).status_code == 403
    assert put(client, a["id"], "https://x.example.com/", admin).status_code == 201
    assert client.get(hook + "/deliveries", headers=admin).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert client.get("/v1/profiles/pr_nosuch/webhook", headers=admin).status_code == 404
