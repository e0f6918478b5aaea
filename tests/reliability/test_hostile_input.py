"""Hostile input over HTTP: NUL and other controls in paths and query strings, database
errors, forced 500s, chunked bodies over the limit, huge ids (RELIABILITY.md, "Hostile input").
Every test runs on SQLite and, with MATCHMAKER_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from service.app import create_app
from service.core.middleware import SECURITY_HEADERS
from tests.conftest import create_profile, profile_payload
from tests.test_server import free_port

SECURITY = [k.decode() for k, _ in SECURITY_HEADERS] + ["content-security-policy"]


def assert_security_headers(r: httpx.Response) -> None:
    missing = [h for h in SECURITY if h not in r.headers]
    assert not missing, (r.status_code, missing)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/profiles/%00"),
        ("GET", "/v1/profiles/pr_%00x/matches"),
        ("GET", "/v1/exports/ex_%00"),
        ("GET", "/v1/exports/ex_%00/file"),
        ("PATCH", "/v1/profiles/%00"),
        ("DELETE", "/v1/profiles/%00"),
        ("GET", "/v1/profiles/pr_%01%7f%1b"),
        ("GET", "/v1/profiles/pr_0123456789ABCDEF"),  # upper-case hex: never issued
    ],
)
def test_ids_of_an_unknown_format_are_404_like_unknown_ids(client, admin, method, path, caplog):
    create_profile(client)
    with caplog.at_level(logging.DEBUG):
        r = client.request(method, path, headers=admin, json={"city": "Pune"})
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "not_found"
    assert_security_headers(r)
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"q": "\x00"}, "q"),
        ({"q": "wafer\x00"}, "q"),
        ({"q": "\x1b[31m"}, "q"),
        ({"q": "wafer\u202e"}, "q"),
        ({"cursor": "c1\x00"}, "cursor"),
        ({"country": "IN\x00"}, "country"),
    ],
)
def test_control_characters_in_a_query_string_are_422_naming_the_parameter(client, params, name):
    create_profile(client)  # on SQLite, q=%00 listed every profile
    r = client.get("/v1/profiles", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", name]
    assert_security_headers(r)


def test_control_characters_in_other_routes_query_strings_are_422(client, admin):
    a, _ = create_profile(client)
    r = client.get(f"/v1/profiles/{a['id']}/matches", params={"sector": "ai\x00"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "sector"]
    r = client.get("/v1/pairings", params={"x\x00": "1"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "x\\x00"]


def test_a_value_the_database_refuses_is_422_and_logged_without_parameters(client, caplog):
    """A DataError is the client's value, not a server fault. Provoked for real: the city
    column is narrowed under the running app, so PostgreSQL refuses a valid city as too long
    (SQLite does not enforce lengths)."""
    state = client.app.state.matchmaker
    if state.engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores strings of any length")
    with state.engine.begin() as conn:
        conn.execute(text("ALTER TABLE profiles ALTER COLUMN city TYPE varchar(5)"))
    try:
        with caplog.at_level(logging.DEBUG):
            r = client.post("/v1/profiles", json=profile_payload(city="Secret-City-Name"))
    finally:
        with state.engine.begin() as conn:
            conn.execute(text("ALTER TABLE profiles ALTER COLUMN city TYPE varchar(100)"))
    assert r.status_code == 422, r.text
    assert_security_headers(r)
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "Secret-City-Name" not in logged
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert "Secret-City-Name" not in r.text


def test_a_500_carries_the_security_headers(client):
    """Forced for real: the database session refuses the request's commit (as in
    test_a_write_whose_commit_fails_is_not_acknowledged); Starlette's own 500 had none."""
    sessions = client.app.state.matchmaker.sessions

    def refuse(session) -> None:
        if not session.in_nested_transaction():
            raise RuntimeError("commit refused by the test")

    event.listen(sessions, "before_commit", refuse)
    try:
        r = TestClient(client.app, raise_server_exceptions=False).post(
            "/v1/profiles", json=profile_payload()
        )
    finally:
        event.remove(sessions, "before_commit", refuse)
    assert r.status_code == 500
    assert r.json() == {"detail": "internal server error", "code": "internal_error"}
    assert_security_headers(r)
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/v1/profiles/pr_{}", "/v1/exports/ex_{}", "/v1/profiles/pr_{}/matches"]
)
def test_error_messages_quote_at_most_64_characters_of_an_id(client, admin, path):
    long_id = "a" * 10_000
    r = client.get(path.format(long_id), headers=admin)
    assert r.status_code == 404
    assert len(r.text) < 300, r.text
    assert "a" * 60 + "…" in r.json()["detail"]


def test_unknown_sector_message_quotes_at_most_64_characters(client):
    r = client.get("/v1/profiles", params={"sector": "s" * 10_000})
    assert r.status_code == 422
    assert len(r.text) < 500, r.text[:300]


@pytest.fixture
def live_server(settings, encoder) -> Iterator[str]:
    """The app behind a real uvicorn HTTP server in this process (the session's model)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, encoder=encoder), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    body = b'{"name": "' + b"x" * (total - 12) + b'"}'
    for i in range(0, len(body), size):
        yield body[i : i + size]


def test_chunked_body_over_the_limit_is_413(live_server):
    """Transfer-Encoding: chunked, no Content-Length, 80 KB: was 400 "There was an error
    parsing the body"."""
    with httpx.Client(base_url=live_server) as c:
        r = c.post(
            "/v1/profiles",
            content=_chunks(80 * 1024),
            headers={"content-type": "application/json"},
        )
        assert r.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in r.request.headers
        assert r.status_code == 413, r.text
        assert r.json()["code"] == "payload_too_large"
        assert_security_headers(r)
        # A chunked body under the limit is read and handled as usual.
        small = httpx.Request("POST", "/", json=profile_payload()).content
        r = c.post(
            "/v1/profiles",
            content=iter([small[:100], small[100:]]),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 201, r.text
