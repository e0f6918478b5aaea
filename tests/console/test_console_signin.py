"""Sign-in on the console, through the real app: repeated wrong keys from one address are
refused with 429 (the service's own rate limiter), and a right key then waits too."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.conftest import ADMIN_KEY, make_settings, wipe

LIMIT = 3


@pytest.fixture
def limited_client(tmp_path, database_url, encoder):
    settings = make_settings(
        tmp_path / "data",
        database_url,
        rate_limit_enabled=True,
        rate_limit_signin_failures_per_minute=LIMIT,
    )
    with TestClient(create_app(settings, encoder=encoder)) as c:
        yield c
    wipe(database_url)


def _csrf(c: TestClient) -> str:
    page = c.get("/console/signin")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_repeated_bad_keys_get_429_with_a_clear_message(limited_client):
    c = limited_client
    csrf = _csrf(c)
    for _ in range(LIMIT):
        r = c.post("/console/signin", data={"api_key": "mm_wrong", "csrf": csrf})
        assert r.status_code == 401
        assert "unknown API key" in r.text
    r = c.post("/console/signin", data={"api_key": "mm_wrong", "csrf": csrf})
    assert r.status_code == 429
    assert "Too many failed sign-ins" in r.text
    assert int(r.headers["retry-after"]) >= 1
    # while the window lasts, even the right key is refused from this address
    r = c.post("/console/signin", data={"api_key": ADMIN_KEY, "csrf": csrf})
    assert r.status_code == 429
    assert c.get("/console/registry", follow_redirects=False).headers["location"] == (
        "/console/signin"
    )


def test_good_sign_ins_are_not_counted(limited_client):
    c = limited_client
    for _ in range(LIMIT + 2):
        csrf = _csrf(c)
        r = c.post(
            "/console/signin", data={"api_key": ADMIN_KEY, "csrf": csrf}, follow_redirects=False
        )
        assert r.status_code == 303
        c.cookies.clear()
