"""The workflow after a match, through the API: interests, answers, introductions, outcomes."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from service.db import utcnow
from service.introductions.models import ContactReveal, Interest
from tests.conftest import create_profile


def _pair(client):
    a, a_key = create_profile(client, country="IN", contact_email="a@example.com")
    b, b_key = create_profile(client, country="KR", contact_email="b@example.com")
    return a, a_key, b, b_key


def _send(client, a, a_key, b, **extra):
    return client.post(
        f"/v1/profiles/{a['id']}/interests", json={"to": b["id"], **extra}, headers=a_key
    )


def test_interest_accept_introduces_and_reveals_contacts_only_then(client):
    a, a_key, b, b_key = _pair(client)
    r = _send(client, a, a_key, b, message="We make cells; you make cathodes.")
    assert r.status_code == 201, r.text
    interest = r.json()
    assert interest["state"] == "pending" and interest["direction"] == "outgoing"
    assert r.headers["location"] == f"/v1/interests/{interest['id']}"

    incoming = client.get(f"/v1/profiles/{b['id']}/interests?direction=incoming", headers=b_key)
    (seen,) = incoming.json()["items"]
    assert seen["sender"]["id"] == a["id"] and seen["message"].startswith("We make cells")
    assert "a@example.com" not in incoming.text  # no contact details before an introduction
    # B cannot read A's contact details anywhere yet
    assert "a@example.com" not in client.get(f"/v1/profiles/{a['id']}", headers=b_key).text

    r = client.post(f"/v1/interests/{interest['id']}/accept", headers=b_key)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "accepted"

    intros = client.get(f"/v1/profiles/{a['id']}/interests", headers=a_key).json()["items"]
    assert intros[0]["state"] == "accepted"
    # The introduction, seen by A: B's contact details, and the showing is recorded.
    state = client.app.state.matchmaker
    ix = _introduction_id(client, a_key, a, b)
    view = client.get(f"/v1/introductions/{ix}", headers=a_key).json()
    other = next(p for p in view["parties"] if p["profile"]["id"] == b["id"])
    assert other["contact"]["contact_email"] == "b@example.com"
    assert view["state"] == "active" and view["interests"][0]["id"] == interest["id"]
    with state.sessions() as s:
        reveals = s.scalars(select(ContactReveal)).all()
    assert len(reveals) == 1


def _introduction_id(client, key, a, b) -> str:
    r = client.get(f"/v1/profiles/{a['id']}/matches", headers=key)
    m = next(m for m in r.json()["matches"] if m["profile"]["id"] == b["id"])
    assert m["pair_state"] == "introduced"
    return m["introduction_id"]


def test_mutual_interest_is_an_introduction_at_once(client):
    a, a_key, b, b_key = _pair(client)
    first = _send(client, a, a_key, b).json()
    second = _send(client, b, b_key, a)
    assert second.status_code == 201 and second.json()["state"] == "accepted"
    got = client.get(f"/v1/interests/{first['id']}", headers=a_key).json()
    assert got["state"] == "accepted"


def test_decline_with_reason_blocks_a_repeat_and_hides_the_pair(client, official):
    a, a_key, b, b_key = _pair(client)
    interest = _send(client, a, a_key, b).json()
    r = client.post(
        f"/v1/interests/{interest['id']}/decline",
        json={"reason": "competitor", "note": "We make the same."},
        headers=b_key,
    )
    assert r.status_code == 200 and r.json()["decline_reason"] == "competitor"
    again = _send(client, a, a_key, b)
    assert again.status_code == 409 and "declined" in again.json()["detail"]
    ids = [m["profile"]["id"] for m in _matches(client, a, a_key)]
    assert b["id"] not in ids
    shown = _matches(client, a, a_key, include_declined="true")
    assert next(m for m in shown if m["profile"]["id"] == b["id"])["pair_state"] == "declined"
    funnel = client.get("/v1/stats/funnel", headers=official).json()
    assert funnel["declined_by_reason"] == {"competitor": 1} and funnel["interests_sent"] == 1


def _matches(client, p, key, **params):
    r = client.get(f"/v1/profiles/{p['id']}/matches", params=params, headers=key)
    assert r.status_code == 200, r.text
    return r.json()["matches"]


def test_match_lists_carry_the_pair_state(client):
    a, a_key, b, b_key = _pair(client)
    assert {m["pair_state"] for m in _matches(client, a, a_key)} == {"none"}
    _send(client, a, a_key, b)
    assert _matches(client, a, a_key)[0]["pair_state"] == "sent"
    assert _matches(client, b, b_key)[0]["pair_state"] == "received"


def test_bad_interests_are_refused_and_nothing_changes(client):
    a, a_key, b, b_key = _pair(client)
    c, _ = create_profile(client, country="IN")
    assert _send(client, a, a_key, a).status_code == 422  # oneself
    assert _send(client, a, a_key, c).status_code == 422  # same country
    r = client.post(
        f"/v1/profiles/{a['id']}/interests", json={"to": "pr_0000000000000000"}, headers=a_key
    )
    assert r.status_code == 404
    assert _send(client, a, a_key, b, message="x" * 2001).status_code == 422
    assert _send(client, a, b_key, b).status_code == 403  # not A's owner
    first = _send(client, a, a_key, b).json()
    dup = _send(client, a, a_key, b)
    assert dup.status_code == 409 and dup.json()["interest_id"] == first["id"]
    assert client.post(f"/v1/interests/{first['id']}/accept", headers=a_key).status_code == 403
    listed = client.get(f"/v1/profiles/{a['id']}/interests", headers=a_key).json()["items"]
    assert [i["id"] for i in listed] == [first["id"]]


def test_withdraw_and_answer_after_are_409(client):
    a, a_key, b, b_key = _pair(client)
    interest = _send(client, a, a_key, b).json()
    assert (
        client.post(f"/v1/interests/{interest['id']}/withdraw", headers=a_key).json()["state"]
        == "withdrawn"
    )
    r = client.post(f"/v1/interests/{interest['id']}/accept", headers=b_key)
    assert r.status_code == 409 and r.json()["state"] == "withdrawn"


def test_expiry_is_a_state_and_an_expired_interest_cannot_be_answered(client):
    from service.introductions.sweeper import expire_overdue

    a, a_key, b, b_key = _pair(client)
    interest = _send(client, a, a_key, b).json()
    state = client.app.state.matchmaker
    with state.sessions() as s:  # its time passes
        s.execute(
            update(Interest)
            .where(Interest.public_id == interest["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        s.commit()
    r = client.post(f"/v1/interests/{interest['id']}/accept", headers=b_key)
    assert r.status_code == 409 and r.json()["state"] == "expired"
    with state.sessions() as s:
        assert expire_overdue(s) == 1
        assert expire_overdue(s) == 0  # idempotent
        s.commit()
    got = client.get(f"/v1/interests/{interest['id']}", headers=a_key).json()
    assert got["state"] == "expired"


def test_open_interests_are_capped(client, settings):
    a, a_key, _, _ = _pair(client)
    cap = settings.introductions.max_open_interests
    for _ in range(cap):
        b, _ = create_profile(client, country="KR")
        assert _send(client, a, a_key, b).status_code == 201
    b, _ = create_profile(client, country="KR")
    r = _send(client, a, a_key, b)
    assert r.status_code == 429 and r.json()["limit"] == cap


def test_brokered_introduction_reveals_contacts_only_when_both_accept(client, official):
    a, a_key, b, b_key = _pair(client)
    r = client.post(
        "/v1/introductions",
        json={"profiles": [a["id"], b["id"]], "message": "Cells meet cathodes."},
        headers=official,
    )
    assert r.status_code == 201, r.text
    ix = r.json()
    assert ix["state"] == "proposed"
    a_in = client.get(f"/v1/profiles/{a['id']}/interests", headers=a_key).json()["items"][0]
    b_in = client.get(f"/v1/profiles/{b['id']}/interests", headers=b_key).json()["items"][0]
    assert a_in["brokered"] and a_in["sender"] is None and a_in["counterpart"]["id"] == b["id"]
    client.post(f"/v1/interests/{a_in['id']}/accept", headers=a_key)
    view = client.get(f"/v1/introductions/{ix['id']}", headers=a_key).json()
    assert view["state"] == "proposed" and all(p["contact"] is None for p in view["parties"])
    client.post(f"/v1/interests/{b_in['id']}/accept", headers=b_key)
    view = client.get(f"/v1/introductions/{ix['id']}", headers=a_key).json()
    assert view["state"] == "active"
    other = next(p for p in view["parties"] if p["profile"]["id"] == b["id"])
    assert other["contact"]["contact_email"] == "b@example.com"
    listed = client.get("/v1/introductions?state=active", headers=official).json()
    assert listed["counts"] == {"active": 1} and listed["items"][0]["id"] == ix["id"]


def test_outcomes_keep_history_and_latest_per_side(client, official):
    a, a_key, b, b_key = _pair(client)
    interest = _send(client, a, a_key, b).json()
    client.post(f"/v1/interests/{interest['id']}/accept", headers=b_key)
    ix = _introduction_id(client, a_key, a, b)
    today = date.today().isoformat()
    for stage in ("meeting_held", "negotiating"):
        r = client.post(
            f"/v1/introductions/{ix}/outcomes", json={"stage": stage, "date": today}, headers=a_key
        )
        assert r.status_code == 201, r.text
    future = (date.today() + timedelta(days=30)).isoformat()
    r = client.post(
        f"/v1/introductions/{ix}/outcomes",
        json={"stage": "meeting_held", "date": future},
        headers=b_key,
    )
    assert r.status_code == 422
    view = client.get(f"/v1/introductions/{ix}", headers=official).json()
    assert [o["stage"] for o in view["outcomes"]] == ["meeting_held", "negotiating"]
    mine = next(p for p in view["parties"] if p["profile"]["id"] == a["id"])
    assert mine["latest_outcome"]["stage"] == "negotiating"
    f = client.get("/v1/stats/funnel", headers=official).json()
    assert (f["introductions"], f["meetings"], f["negotiations"], f["agreements"]) == (1, 1, 1, 0)
    other, _ = create_profile(client, country="KR")
    r = client.post(
        f"/v1/introductions/{ix}/outcomes",
        json={"stage": "meeting_held", "date": today},
        headers=official,
    )
    assert r.status_code == 403


def _events(client, profile: dict) -> list[str]:
    """Event types recorded for a profile, oldest first."""
    from service.profiles.models import Profile
    from service.webhooks.models import WebhookEvent

    with client.app.state.matchmaker.sessions() as s:
        pid = s.scalar(select(Profile.id).where(Profile.public_id == profile["id"]))
        rows = s.scalars(
            select(WebhookEvent.type)
            .where(WebhookEvent.profile_id == pid)
            .order_by(WebhookEvent.id)
        )
        return list(rows)


def test_every_state_change_writes_its_events(client, official):
    from service.introductions.sweeper import expire_overdue

    a, a_key, b, b_key = _pair(client)
    first = _send(client, a, a_key, b).json()
    assert _events(client, b) == ["interest.received"]
    client.post(f"/v1/interests/{first['id']}/decline", json={"reason": "other"}, headers=b_key)
    assert _events(client, a) == ["interest.declined"]

    c, c_key = create_profile(client, country="KR")
    second = _send(client, a, a_key, c).json()
    client.post(f"/v1/interests/{second['id']}/accept", headers=c_key)
    assert _events(client, a)[1:] == ["interest.accepted", "introduction.created"]
    assert _events(client, c) == ["interest.received", "introduction.created"]
    ix = _introduction_id(client, a_key, a, c)
    client.post(
        f"/v1/introductions/{ix}/outcomes",
        json={"stage": "meeting_held", "date": date.today().isoformat()},
        headers=a_key,
    )
    assert _events(client, c)[-1] == "outcome.reported"

    d, _ = create_profile(client, country="KR")
    third = _send(client, a, a_key, d).json()
    state = client.app.state.matchmaker
    with state.sessions() as s:
        s.execute(
            update(Interest)
            .where(Interest.public_id == third["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        expire_overdue(s)
        s.commit()
    assert _events(client, a)[-1] == "interest.expired"

    # A refused request writes no event.
    before = _events(client, d)
    assert _send(client, a, a_key, d, message="x" * 2001).status_code == 422
    assert _events(client, d) == before


def test_exports_carry_the_pair_state_and_the_cli_writes_introductions(
    client, official, tmp_path, monkeypatch, database_url, settings
):
    import csv
    import io

    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from service.cli import app
    from tests.exports.test_exports import run_export

    a, a_key, b, b_key = _pair(client)
    c, c_key = create_profile(client, country="KR", name="=HYPERLINK(1)")
    _send(client, a, a_key, b)  # pending from IN
    interest = _send(client, a, a_key, c).json()
    client.post(f"/v1/interests/{interest['id']}/accept", headers=c_key)
    ix = _introduction_id(client, a_key, a, c)
    client.post(
        f"/v1/introductions/{ix}/outcomes",
        json={"stage": "negotiating", "date": date.today().isoformat(), "note": "term sheet"},
        headers=c_key,
    )
    _, body = run_export(client, official, format="csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    state = {(r["in_id"], r["kr_id"]): r["pair_state"] for r in rows}
    assert state[(a["id"], b["id"])] == "pending_from_in"
    assert state[(a["id"], c["id"])] == "introduced"

    monkeypatch.setenv("MATCHMAKER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MATCHMAKER_DATABASE_URL", database_url)
    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"intros.{fmt}"
        r = CliRunner().invoke(
            app, ["export", "--what", "introductions", "--format", fmt, "--out", str(out)]
        )
        assert r.exit_code == 0, r.output
        assert "1 introductions written" in r.output
    (row,) = csv.DictReader(io.StringIO((tmp_path / "intros.csv").read_text("utf-8-sig")))
    assert (row["introduction_id"], row["kr_latest_stage"], row["furthest_stage"]) == (
        ix,
        "negotiating",
        "negotiating",
    )
    assert row["kr_name"] == "'=HYPERLINK(1)"  # neutralised in CSV
    (pq_row,) = pq.read_table(tmp_path / "intros.parquet").to_pylist()
    assert pq_row["kr_name"] == "=HYPERLINK(1)" and pq_row["outcomes"][0]["note"] == "term sheet"


def _pages(client, url: str, headers) -> list[list]:
    """Every page of a newest-first list, following next_cursor (2 items a page)."""
    pages, cursor = [], None
    while True:
        sep = "&" if "?" in url else "?"
        r = client.get(
            f"{url}{sep}limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=headers
        )
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_lists_page_newest_first_by_cursor(client, official):
    """Interests and introductions (with and without the screening filter) page by keyset
    cursor: every item once, newest first, and no cursor after the last page."""
    a, a_key = create_profile(client, country="IN")
    broker, _ = create_profile(client, country="IN")
    others = [create_profile(client, country="KR")[0] for _ in range(5)]
    for b in others:
        assert _send(client, a, a_key, b).status_code == 201
        r = client.post(
            "/v1/introductions", json={"profiles": [broker["id"], b["id"]]}, headers=official
        )
        assert r.status_code == 201, r.text

    everything = client.get(f"/v1/profiles/{a['id']}/interests?limit=100", headers=a_key).json()
    ids = [i["id"] for i in everything["items"]]
    assert len(ids) == 5 and everything["next_cursor"] is None
    pages = _pages(client, f"/v1/profiles/{a['id']}/interests", a_key)
    assert [len(p) for p in pages] == [2, 2, 1] and sum(pages, []) == ids

    everything = client.get("/v1/introductions?limit=100", headers=official).json()
    ids = [i["id"] for i in everything["items"]]
    assert len(ids) == 5
    pages = _pages(client, "/v1/introductions", official)
    assert [len(p) for p in pages] == [2, 2, 1] and sum(pages, []) == ids
    screened = [
        _pages(client, f"/v1/introductions?screening={s}", official)
        for s in ("clear", "review_required")
    ]
    for pages in screened:
        assert all(len(p) == 2 for p in pages[:-1]) and len(pages[-1]) <= 2
    # each filter keeps the newest-first order, and together they hold every introduction once
    kept = [sum(pages, []) for pages in screened]
    assert sorted(kept[0] + kept[1]) == sorted(ids)
    assert all(k == [i for i in ids if i in k] for k in kept)
    bad = client.get("/v1/introductions?cursor=c-1", headers=official)
    assert bad.status_code == 422 and "cursor" in bad.text
