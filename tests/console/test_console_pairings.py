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
from service.console import pairings
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


def test_unfiltered_table_is_the_head_of_the_pictures_pass(console):
    """Without a sector the page ranks the registry once: the table is the first rows of the
    pictures' pass, which equal the pass with the table's own limit (best-first, so each prefix
    of the pass is the pass with a smaller limit), and no separate table snapshot is taken."""
    c = console
    for i in range(4):
        register(c, name=f"Pune Assembly {i}")
        register(c, name=f"Cheonan Packaging {i}", country="KR", city="Cheonan")
    state = c.app.state.matchmaker
    with state.sessions() as db:
        head = pairings.pictures(db, state.index, state.settings, per_org=2).table.pairings
        for limit in (1, 3, 5):
            alone = pairings.table(
                db, state.index, state.settings, sector=None, per_org=2, limit=limit
            ).pairings
            got = [(p.in_profile.id, p.kr_profile.id, p.score) for p in head[:limit]]
            assert got == [(p.in_profile.id, p.kr_profile.id, p.score) for p in alone]
    # 4 x 4 profiles at 2 pairs per organisation: the cap bites, so the prefixes above mean
    # something (8 pairs, not 16)
    assert len(head) == 8
    deadline = time.monotonic() + 60
    while "<table" not in c.get("/console/pairings/figures?sector=&per_org=2&page=1").text:
        assert time.monotonic() < deadline, "the snapshot never came"
        time.sleep(0.1)
    snaps = c.app.state.console_pairings
    assert snaps.latest(("pictures", 2)) is not None
    assert snaps.latest(("table", None, 2, pairings.TABLE_ROWS)) is None  # no second ranking
    # a sector filter still has a table of its own
    while "<table" not in c.get("/console/pairings/figures?sector=semiconductors&per_org=2").text:
        assert time.monotonic() < deadline, "the sector's snapshot never came"
        time.sleep(0.1)
    assert snaps.latest(("table", "semiconductors", 2, pairings.TABLE_ROWS)) is not None
