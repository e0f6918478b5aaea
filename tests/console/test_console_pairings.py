"""The pairings page answers from snapshots (pairs and pictures computed in the pairings lane,
the funnel in the thread pool): a placeholder while the first is computed (htmx polls for it),
then the snapshot, recomputed behind the page once older than its maximum age. Real app, real
model, real database."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import ConsoleSettings
from tests.conftest import ADMIN_KEY, make_settings, profile_payload, wipe


@pytest.fixture
def console(tmp_path, database_url, encoder):
    settings = make_settings(
        tmp_path / "data",
        database_url,
        console=ConsoleSettings(pairings_first_wait_s=0, pairings_max_age_s=1.0),
    )
    with TestClient(create_app(settings, encoder=encoder)) as c:
        page = c.get("/console/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        assert c.post("/console/signin", data={"api_key": ADMIN_KEY, "csrf": csrf}).status_code
        yield c
    wipe(database_url)


def register(c: TestClient, **fields) -> None:
    r = c.post("/v1/profiles", json=profile_payload(**fields))
    assert r.status_code == 201, r.text


def taken_at(html: str) -> str:
    return re.search(r"as of (\d\d:\d\d:\d\d) UTC</caption>", html).group(1)


def test_pairings_come_from_snapshots(console):
    c = console
    register(c, name="Bengaluru Test Works")
    register(
        c,
        name="Suwon Wafer Co",
        country="KR",
        capabilities="We make wafer-level "
        "packaging and high-bandwidth memory stacks for AI accelerators.",
        needs="We seek an outsourced assembly and test partner in India.",
    )
    first = c.get("/console/pairings")
    assert first.status_code == 200
    assert 'id="pairings-pending"' in first.text and 'hx-get="/console/pairings/figures' in (
        first.text
    )
    deadline = time.monotonic() + 60
    while True:
        part = c.get("/console/pairings/figures?sector=&per_org=3&page=1")
        # the table and the pictures come from two snapshots that finish in either order
        done = "<table" in part.text and "Introductions funnel by sector" in part.text
        if done and "-pending" not in part.text:
            break
        assert time.monotonic() < deadline, "the snapshot never came"
        time.sleep(0.1)
    assert "hx-get" not in part.text  # done: the placeholder stops polling
    assert "Suwon Wafer Co" in part.text and "Bengaluru Test Works" in part.text
    page = c.get("/console/pairings")
    assert 'id="pairings-pending"' not in page.text and "Suwon Wafer Co" in page.text
    shown = taken_at(page.text)
    # past its maximum age the old snapshot is still shown, and a new one is taken behind it
    time.sleep(1.2)
    assert taken_at(c.get("/console/pairings").text) == shown
    deadline = time.monotonic() + 60
    while taken_at(c.get("/console/pairings").text) == shown:
        assert time.monotonic() < deadline, "the stale snapshot was never replaced"
        time.sleep(0.2)
