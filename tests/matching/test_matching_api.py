"""Matching through the HTTP API with the real model and real FAISS."""

from __future__ import annotations

import pytest

from tests.conftest import create_profile

IN_CELLS = dict(
    name="Indian Cell Gigafactory",
    country="IN",
    sectors=["clean_energy"],
    capabilities="We operate a large lithium-ion cell assembly plant in Gujarat with cheap land, "
    "grid power and thousands of trained technicians. We sell battery packs to "
    "Indian two-wheeler and bus makers.",
    needs="We need a supplier of high-nickel cathode active material and the know-how for "
    "precursor production. We also want electrode coating process expertise.",
)
KR_CATHODE = dict(
    name="Korean Cathode Materials",
    country="KR",
    sectors=["clean_energy"],
    capabilities="We produce NCM811 cathode powders and license our co-precipitation precursor "
    "process. Our engineers have decades of electrode coating experience.",
    needs="We want to localise battery cell assembly in a large growing market and reach "
    "Indian electric bus and scooter makers through a manufacturing partner.",
)
KR_ONE_SIDED = dict(
    name="Korean Cathode Exporter",
    country="KR",
    sectors=["clean_energy"],
    capabilities="We produce NCM cathode powders and precursor materials for battery makers.",
    needs="We seek a partner for offshore wind turbine blade recycling in Northern Europe.",
)
KR_COMPETITOR = dict(
    name="Korean Cell Gigafactory",
    country="KR",
    sectors=["clean_energy"],
    capabilities="We operate a large lithium-ion cell assembly plant with trained technicians "
    "and sell battery packs to two-wheeler and bus makers.",
    needs="We need a supplier of high-nickel cathode active material and precursor know-how.",
)


@pytest.fixture
def market(client):
    a, owner_a = create_profile(client, **IN_CELLS)
    partner, _ = create_profile(client, **KR_CATHODE)
    one_sided, _ = create_profile(client, **KR_ONE_SIDED)
    competitor, _ = create_profile(client, **KR_COMPETITOR)
    other_in, _ = create_profile(client, name="Another Indian Firm", country="IN")
    return dict(
        a=a,
        owner_a=owner_a,
        partner=partner,
        one_sided=one_sided,
        competitor=competitor,
        other_in=other_in,
    )


def matches(client, pid, headers, **params):
    r = client.get(f"/v1/profiles/{pid}/matches", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["matches"]


def test_two_sided_partner_ranks_first_competitor_not_on_top(client, market):
    got = matches(client, market["a"]["id"], market["owner_a"])
    ids = [m["profile"]["id"] for m in got]
    assert ids[0] == market["partner"]["id"]
    assert ids.index(market["one_sided"]["id"]) > 0
    assert ids[0] != market["competitor"]["id"]
    for m in got:
        assert 0 <= m["score"] <= 1
        assert set(m["components"]) == {
            "sector_fit",
            "complementarity",
            "similarity",
            "partnership_fit",
            "keywords",
        }
    assert [m["score"] for m in got] == sorted((m["score"] for m in got), reverse=True)


def test_candidates_always_from_the_other_country(client, market, admin):
    got = matches(client, market["a"]["id"], admin)
    assert got and all(m["profile"]["country"] == "KR" for m in got)
    back = matches(client, market["partner"]["id"], admin)
    assert back and all(m["profile"]["country"] == "IN" for m in back)
    assert back[0]["profile"]["id"] == market["a"]["id"]


def test_partner_summary_follows_updates_and_deletes(client, market, admin):
    """Summaries come from the index's memory: a rename, a move and a deletion show at once."""
    pid = market["partner"]["id"]
    r = client.patch(
        f"/v1/profiles/{pid}",
        headers=admin,
        json={"name": "Korean Cathode Materials Renamed", "city": "Pohang", "sectors": ["ai"]},
    )
    assert r.status_code == 200, r.text
    got = {m["profile"]["id"]: m for m in matches(client, market["a"]["id"], admin)}
    assert got[pid]["profile"]["name"] == "Korean Cathode Materials Renamed"
    assert got[pid]["profile"]["city"] == "Pohang"
    assert got[pid]["profile"]["sectors"] == ["ai"]
    assert "Korean Cathode Materials Renamed" in got[pid]["explanation"]
    assert client.delete(f"/v1/profiles/{pid}", headers=admin).status_code == 204
    got = matches(client, market["a"]["id"], admin)
    assert got and pid not in {m["profile"]["id"] for m in got}
    assert client.get(f"/v1/profiles/{pid}/matches", headers=admin).status_code == 404


def test_quoted_sentences_follow_text_edits(client, market, admin):
    """Explanations quote from a per-worker cache keyed by the text's content: a second list
    is served from it, and an edited capability text is quoted as edited, never as cached."""
    cache = client.app.state.matchmaker.index.sentence_cache
    pid, a = market["partner"]["id"], market["a"]["id"]

    def offer(match: dict) -> str:  # the partner's sentence quoted for A's need
        return match["explanation"].split(" offers \u201c", 1)[1].split("\u201d", 1)[0]

    first = {m["profile"]["id"]: m for m in matches(client, a, admin)}
    assert offer(first[pid]) in KR_CATHODE["capabilities"]
    hits = cache.hits
    assert {m["profile"]["id"]: m for m in matches(client, a, admin)} == first
    assert cache.hits >= hits + len(first) + 1  # every partner and the asker's two texts
    new_caps = (
        "We produce single-crystal cathode powders with a dry coating line. "
        "We license our precursor co-precipitation know-how."
    )
    r = client.patch(f"/v1/profiles/{pid}", headers=admin, json={"capabilities": new_caps})
    assert r.status_code == 200, r.text
    got = {m["profile"]["id"]: m for m in matches(client, a, admin)}
    assert offer(got[pid]) in new_caps


def test_explanation_names_shared_sector_and_quotes_texts(client, market, admin):
    top = matches(client, market["a"]["id"], admin)[0]
    assert "Clean energy" in top["explanation"]
    assert "\u201c" in top["explanation"]
    assert "cathode" in top["explanation"].lower()


def test_filters_and_limits(client, market, admin):
    pid = market["a"]["id"]
    assert len(matches(client, pid, admin, limit=1)) == 1
    assert matches(client, pid, admin, sector="defence") == []
    assert matches(client, pid, admin, org_type="university") == []
    assert matches(client, pid, admin, min_score=0.99) == []
    assert len(matches(client, pid, admin, partnership_type="joint_venture")) == 3
    for bad in (
        {"limit": 0},
        {"limit": 101},
        {"min_score": 2},
        {"sector": "fishing"},
        {"org_type": "club"},
    ):
        r = client.get(f"/v1/profiles/{pid}/matches", headers=admin, params=bad)
        assert r.status_code == 422, bad


def test_match_roles(client, market, official):
    url = f"/v1/profiles/{market['a']['id']}/matches"
    assert client.get(url).status_code == 401
    _, stranger = create_profile(client)
    assert client.get(url, headers=stranger).status_code == 403
    assert client.get(url, headers=official).status_code == 200
    assert client.get("/v1/profiles/pr_missing/matches", headers=official).status_code == 404


def test_adhoc_search(client, market, official):
    body = {
        "needs": IN_CELLS["needs"],
        "capabilities": IN_CELLS["capabilities"],
        "country": "KR",
        "sectors": ["clean_energy"],
        "limit": 2,
    }
    assert client.post("/v1/matches/search", json=body).status_code == 401
    _, owner = create_profile(client)
    assert client.post("/v1/matches/search", json=body, headers=owner).status_code == 403
    r = client.post("/v1/matches/search", json=body, headers=official)
    got = r.json()["matches"]
    assert len(got) == 2 and got[0]["profile"]["id"] == market["partner"]["id"]
    assert "your organisation" in got[0]["explanation"]
    bad = client.post("/v1/matches/search", json={**body, "country": "JP"}, headers=official)
    assert bad.status_code == 422


def test_pairings_each_pair_once_with_per_org_cap(client, market, official):
    r = client.get("/v1/pairings", headers=official, params={"per_org": 1})
    pairs = r.json()["pairings"]
    orgs = [p["in"]["id"] for p in pairs] + [p["kr"]["id"] for p in pairs]
    assert len(orgs) == len(set(orgs))  # per_org=1: nobody twice
    assert pairs[0]["in"]["id"] == market["a"]["id"]
    assert pairs[0]["kr"]["id"] == market["partner"]["id"]
    r = client.get("/v1/pairings", headers=official, params={"per_org": 3})
    pairs = r.json()["pairings"]
    keys = [(p["in"]["id"], p["kr"]["id"]) for p in pairs]
    assert len(keys) == len(set(keys)) == 6
    assert all(p["in"]["country"] == "IN" and p["kr"]["country"] == "KR" for p in pairs)
    assert (
        client.get("/v1/pairings", headers=official, params={"sector": "defence"}).json()[
            "pairings"
        ]
        == []
    )
    assert client.get("/v1/pairings").status_code == 401
    _, owner = create_profile(client)
    assert client.get("/v1/pairings", headers=owner).status_code == 403


def test_match_lists_queue_for_the_worker_s_match_slots(settings, encoder, admin):
    """With one match slot, concurrent requests wait their turn (in arrival order) and each
    gets the answer it gets alone; none is lost or fails while waiting."""
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from service.app import create_app

    app = create_app(settings.model_copy(update={"match_concurrency": 1}), encoder=encoder)
    with TestClient(app) as client:
        ids = [create_profile(client, **IN_CELLS)[0]["id"]]
        ids.append(create_profile(client, **KR_CATHODE)[0]["id"])
        ids.append(create_profile(client, **KR_ONE_SIDED)[0]["id"])
        assert client.app.state.matchmaker.match_slots.total_tokens == 1
        alone = {pid: matches(client, pid, admin) for pid in ids}
        with ThreadPoolExecutor(12) as pool:
            together = list(pool.map(lambda pid: (pid, matches(client, pid, admin)), ids * 8))
    assert all(got == alone[pid] for pid, got in together)
