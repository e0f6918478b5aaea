"""Automatic flags on write, pair screening, the officials' queue and the introduction gate,
through the real HTTP stack, database and model."""

from __future__ import annotations

from sqlalchemy import select

from service.db import transaction
from service.profiles import service as profiles
from service.screening.models import ScreeningResult
from tests.conftest import create_profile

NAVAL = (
    "We design and build guided-missile frigates and corvettes for the navy. "
    "Our fire-control radars track aerial targets and direct naval guns."
)
CIVIL = (
    "We build bulk carriers and container ships for commercial shipping lines. "
    "Our yard also repairs merchant ships in two dry docks."
)
NEEDS = "We seek a partner for hull block fabrication and outfitting of large vessels."


def flags_of(client, public_id: str) -> list[dict]:
    with transaction(client.app.state.matchmaker.sessions) as session:
        pid = profiles.get(session, public_id).id
        row = session.scalar(select(ScreeningResult).where(ScreeningResult.profile_id == pid))
        return list(row.flags) if row else []


def test_flags_follow_the_text(client):
    naval, owner = create_profile(
        client, sectors=["shipbuilding"], capabilities=NAVAL, needs=NEEDS, country="KR"
    )
    codes = {f["code"] for f in flags_of(client, naval["id"])}
    assert {"ML9", "ML5"} <= codes
    ml9 = next(f for f in flags_of(client, naval["id"]) if f["code"] == "ML9")
    assert "frigates" in ml9["sentence"] and 0 < ml9["confidence"] <= 1
    civil, _ = create_profile(client, sectors=["shipbuilding"], capabilities=CIVIL, needs=NEEDS)
    assert flags_of(client, civil["id"]) == []
    # an edit to civil work clears the flags
    r = client.patch(f"/v1/profiles/{naval['id']}", json={"capabilities": CIVIL}, headers=owner)
    assert r.status_code == 200
    assert flags_of(client, naval["id"]) == []


def _introduce(client, a, a_key, b, b_key) -> str:
    r = client.post(f"/v1/profiles/{a['id']}/interests", json={"to": b["id"]}, headers=a_key)
    assert r.status_code == 201, r.text
    client.post(f"/v1/interests/{r.json()['id']}/accept", headers=b_key)
    m = client.get(f"/v1/profiles/{a['id']}/matches?limit=50", headers=a_key).json()["matches"]
    return next(x["introduction_id"] for x in m if x["profile"]["id"] == b["id"])


def test_gate_queue_and_decision(client, official):
    kr, kr_key = create_profile(
        client,
        sectors=["shipbuilding", "defence"],
        capabilities=NAVAL,
        needs=NEEDS,
        country="KR",
        contact_email="naval@example.test",
    )
    india, in_key = create_profile(
        client,
        sectors=["shipbuilding"],
        capabilities=CIVIL,
        needs=NEEDS,
        contact_email="yard@example.test",
    )
    ix = _introduce(client, india, in_key, kr, kr_key)
    seen = client.get(f"/v1/introductions/{ix}", headers=in_key).json()
    assert seen["state"] == "active" and seen["screening"] == "pending_review"
    assert "naval@example.test" not in str(seen)
    # the match list says so; the party sees no reasons, officials do
    own = client.get(f"/v1/profiles/{india['id']}/matches?limit=50", headers=in_key).json()
    mine = next(m for m in own["matches"] if m["profile"]["id"] == kr["id"])
    assert mine["screening"]["status"] == "review_required"
    assert mine["screening"]["reasons"] == [] and mine["screening"]["categories"] == []
    staff = client.get(f"/v1/profiles/{india['id']}/matches?limit=50", headers=official).json()
    theirs = next(m for m in staff["matches"] if m["profile"]["id"] == kr["id"])
    assert "ML9" in theirs["screening"]["categories"] and theirs["screening"]["reasons"]
    only_clear = client.get(
        f"/v1/profiles/{india['id']}/matches?limit=50&screening=clear", headers=official
    ).json()["matches"]
    assert all(m["screening"]["status"] == "clear" for m in only_clear)
    assert kr["id"] not in {m["profile"]["id"] for m in only_clear}
    # the queue lists the pair, Indian side first
    q = client.get("/v1/screening/queue", headers=official).json()
    item = next(i for i in q["items"] if i["introduction_id"] == ix)
    assert item["profiles"] == [india["id"], kr["id"]] and "ML9" in item["screening"]["categories"]
    assert "not legal advice" in q["notice"]
    # refusing needs a reason; a refusal keeps contacts hidden and tells no reason
    body = {"profiles": [india["id"], kr["id"]], "decision": "refused"}
    assert client.post("/v1/screening/decisions", json=body, headers=official).status_code == 422
    body["reason"] = "Naval combat-ship technology; licence needed first."
    r = client.post("/v1/screening/decisions", json=body, headers=official)
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["decision"] == "refused" and d["decided_by"] and d["vocabulary_version"]
    seen = client.get(f"/v1/introductions/{ix}", headers=kr_key).json()
    assert seen["screening"] == "refused" and "licence" not in str(seen)
    assert "yard@example.test" not in str(seen)
    assert ix not in {
        i["introduction_id"]
        for i in client.get("/v1/screening/queue", headers=official).json()["items"]
    }
    # cleared: contacts show
    body = {"profiles": [kr["id"], india["id"]], "decision": "cleared"}
    assert client.post("/v1/screening/decisions", json=body, headers=official).status_code == 201
    seen = client.get(f"/v1/introductions/{ix}", headers=in_key).json()
    assert seen["screening"] == "cleared" and "naval@example.test" in str(seen)
    decided = client.get("/v1/screening/queue?state=decided", headers=official).json()["items"]
    assert next(i for i in decided if i["introduction_id"] == ix)["decision"]["decision"] == (
        "cleared"
    )


def test_a_clear_pair_is_not_gated(client):
    kr, kr_key = create_profile(
        client,
        sectors=["shipbuilding"],
        capabilities=CIVIL,
        needs=NEEDS,
        country="KR",
        contact_email="bulk@example.test",
    )
    india, in_key = create_profile(
        client, sectors=["shipbuilding"], capabilities=CIVIL + " x", needs=NEEDS
    )
    ix = _introduce(client, india, in_key, kr, kr_key)
    seen = client.get(f"/v1/introductions/{ix}", headers=in_key).json()
    assert seen["screening"] == "not_required" and "bulk@example.test" in str(seen)


def test_export_rows_carry_screening(client, official):
    import json
    import time

    create_profile(client, sectors=["shipbuilding"], capabilities=NAVAL, needs=NEEDS, country="KR")
    create_profile(client, sectors=["shipbuilding"], capabilities=CIVIL, needs=NEEDS)
    job = client.post("/v1/exports", json={"format": "jsonl"}, headers=official).json()["id"]
    for _ in range(400):
        if client.get(f"/v1/exports/{job}", headers=official).json()["status"] == "done":
            break
        time.sleep(0.05)
    text = client.get(f"/v1/exports/{job}/file", headers=official).text
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows and rows[0]["screening_status"] == "review_required"
    assert "ML9" in rows[0]["screening_categories"]
