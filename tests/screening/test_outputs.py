"""Screening in every output that lists pairs (match lists, ad-hoc search, pairings, export rows,
introductions) and the ``screening`` filter officials use on them, through the real HTTP stack,
database, model and index."""

from __future__ import annotations

from tests.conftest import create_profile
from tests.screening.test_screening import CIVIL, NAVAL, NEEDS


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
