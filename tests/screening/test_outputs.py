"""Screening in every output that lists pairs (match lists, ad-hoc search, pairings, export rows,
introductions) and the ``screening`` filter officials use on them, through the real HTTP stack,
database, model and index."""

from __future__ import annotations

import json
import time

from tests.conftest import create_profile
from tests.screening.test_screening import CIVIL, NAVAL, NEEDS, _introduce


def _search(client, headers, **body):
    payload = {"country": "KR", "sectors": ["shipbuilding"], "limit": 20} | body
    return client.post("/v1/matches/search", json=payload, headers=headers)


def test_search_results_carry_screening(client, official):
    civil_kr, _ = create_profile(
        client, sectors=["shipbuilding"], capabilities=CIVIL, needs=NEEDS, country="KR"
    )
    # an Indian firm, unregistered, that builds warships: its capabilities are screened as
    # it searches, and the pair with a Korean shipyard needs review
    r = _search(client, official, capabilities=NAVAL, needs=NEEDS)
    assert r.status_code == 200, r.text
    hit = next(m for m in r.json()["matches"] if m["profile"]["id"] == civil_kr["id"])
    s = hit["screening"]
    assert s["status"] == "review_required" and "ML9" in s["categories"]
    assert any("frigates" in why for why in s["reasons"])
    # a civil yard searching for the same partner: clear
    r = _search(client, official, capabilities=CIVIL + " We also paint hulls.", needs=NEEDS)
    hit = next(m for m in r.json()["matches"] if m["profile"]["id"] == civil_kr["id"])
    assert hit["screening"] == {"status": "clear", "categories": [], "reasons": []}
    # needs alone, but a declared category: review_required through the declaration
    r = _search(client, official, needs=NEEDS, controlled_technologies=["ML9"])
    hit = next(m for m in r.json()["matches"] if m["profile"]["id"] == civil_kr["id"])
    assert hit["screening"]["status"] == "review_required"
    assert any("declares ML9" in why for why in hit["screening"]["reasons"])
    # unknown codes are a 422 naming them
    r = _search(client, official, needs=NEEDS, controlled_technologies=["ML9", "ML77"])
    assert (
        r.status_code == 422
        and "ML77" in r.text
        and r.json()["detail"][0]["loc"][-1] == ("controlled_technologies")
    )


def test_search_results_see_the_registered_sides_flags(client, official):
    naval_kr, _ = create_profile(
        client, sectors=["shipbuilding", "defence"], capabilities=NAVAL, needs=NEEDS, country="KR"
    )
    r = _search(client, official, capabilities=CIVIL, needs=NEEDS)
    hit = next(m for m in r.json()["matches"] if m["profile"]["id"] == naval_kr["id"])
    assert hit["screening"]["status"] == "review_required"
    assert "ML9" in hit["screening"]["categories"]


def _registry(client):
    """A naval Korean yard, a civil Korean yard and a civil Indian yard."""
    naval, naval_key = create_profile(
        client, sectors=["shipbuilding", "defence"], capabilities=NAVAL, needs=NEEDS, country="KR"
    )
    civil_kr, civil_kr_key = create_profile(
        client, sectors=["shipbuilding"], capabilities=CIVIL, needs=NEEDS, country="KR"
    )
    india, in_key = create_profile(
        client, sectors=["shipbuilding"], capabilities=CIVIL + " Also ship repair.", needs=NEEDS
    )
    return (naval, naval_key), (civil_kr, civil_kr_key), (india, in_key)


def test_pairings_carry_and_filter_on_screening(client, official):
    (naval, _), (civil_kr, _), (india, in_key) = _registry(client)

    def pairs(query: str = "", headers=official) -> list[dict]:
        r = client.get(f"/v1/pairings?per_org=5{query}", headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["pairings"]

    every = {p["kr"]["id"]: p["screening"] for p in pairs()}
    assert every[naval["id"]]["status"] == "review_required"
    assert "ML9" in every[naval["id"]]["categories"] and every[naval["id"]]["reasons"]
    assert every[civil_kr["id"]]["status"] == "clear"
    review = pairs("&screening=review_required")
    assert [p["kr"]["id"] for p in review] == [naval["id"]]
    clear = pairs("&screening=clear")
    assert [p["kr"]["id"] for p in clear] == [civil_kr["id"]]
    assert client.get("/v1/pairings?screening=maybe", headers=official).status_code == 422
    # pairings are for officials: a firm's key is refused
    assert client.get("/v1/pairings?screening=clear", headers=in_key).status_code == 403


def _export(client, official, **params) -> list[dict]:
    r = client.post("/v1/exports", json={"format": "jsonl"} | params, headers=official)
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    for _ in range(400):
        if client.get(f"/v1/exports/{job}", headers=official).json()["status"] == "done":
            break
        time.sleep(0.05)
    text = client.get(f"/v1/exports/{job}/file", headers=official).text
    return [json.loads(line) for line in text.splitlines()]


def test_export_filters_on_screening(client, official):
    (naval, _), (civil_kr, _), _ = _registry(client)
    every = _export(client, official)
    assert {r["screening_status"] for r in every} == {"clear", "review_required"}
    review = _export(client, official, screening="review_required")
    assert review and all(r["screening_status"] == "review_required" for r in review)
    assert {r["kr_id"] for r in review} == {naval["id"]}
    assert all("ML9" in r["screening_categories"] for r in review)
    clear = _export(client, official, screening="clear")
    assert clear and all(r["screening_status"] == "clear" for r in clear)
    assert naval["id"] not in {r["kr_id"] for r in clear}
    assert len(review) + len(clear) == len(every)
    r = client.post("/v1/exports", json={"screening": "unknown"}, headers=official)
    assert r.status_code == 422 and "screening" in r.text


def test_introductions_filter_on_screening_and_parties_see_no_reasons(client, official):
    (naval, naval_key), (civil_kr, civil_kr_key), (india, in_key) = _registry(client)
    gated = _introduce(client, india, in_key, naval, naval_key)
    plain = _introduce(client, india, in_key, civil_kr, civil_kr_key)

    def listed(query: str) -> dict:
        r = client.get(f"/v1/introductions?{query}", headers=official)
        assert r.status_code == 200, r.text
        return r.json()

    every = listed("")
    assert {i["id"] for i in every["items"]} == {gated, plain}
    review = listed("screening=review_required")
    assert [i["id"] for i in review["items"]] == [gated]
    assert review["items"][0]["screening"] == "pending_review"
    assert review["counts"] == {"active": 1}
    clear = listed("screening=clear")
    assert [i["id"] for i in clear["items"]] == [plain] and clear["counts"] == {"active": 1}
    assert clear["items"][0]["screening"] == "not_required"
    assert listed("screening=review_required&state=expired")["items"] == []
    # the listing is for officials; a party sees its own introduction with the outcome only
    assert client.get("/v1/introductions?screening=clear", headers=in_key).status_code == 403
    seen = client.get(f"/v1/introductions/{gated}", headers=naval_key).json()
    assert seen["screening"] == "pending_review"
    assert "ML9" not in json.dumps(seen) and "flagged" not in json.dumps(seen)
    # once cleared, the filter still finds the pair (its screening needs review; it is decided)
    body = {"profiles": [india["id"], naval["id"]], "decision": "cleared"}
    assert client.post("/v1/screening/decisions", json=body, headers=official).status_code == 201
    review = listed("screening=review_required")
    assert [(i["id"], i["screening"]) for i in review["items"]] == [(gated, "cleared")]
