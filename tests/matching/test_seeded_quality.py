"""The seeded registry as a newcomer meets it: the README's firm and its search example.

One registry for the module (the 160 curated profiles plus the README's Navyuga Cell
Technologies), through the real HTTP stack, the real model and the shipped ranker model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from embeddings.text import own_name_masker
from service.app import create_app
from service.matching.explain import WEAK
from tests.conftest import ADMIN_KEY, ROOT, make_settings, wipe

ADMIN = {"X-API-Key": ADMIN_KEY}
README_FIRM = {
    "name": "Navyuga Cell Technologies",
    "country": "IN",
    "org_type": "startup",
    "sectors": ["clean_energy"],
    "capabilities": "We assemble LFP cells in Gujarat and sell packs to electric bus makers.",
    "needs": "We seek high-nickel cathode material and electrode coating know-how.",
    "partnership_types": ["joint_venture", "technology_licensing"],
    "city": "Ahmedabad",
}
README_SEARCH = {"needs": "A shipyard partner for ammonia-fuelled container ships", "country": "KR"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, database_url, encoder) -> Iterator[dict]:
    settings = make_settings(tmp_path_factory.mktemp("seeded") / "data", database_url)
    app = create_app(settings, encoder=encoder)
    lines = (ROOT / "seed_data" / "profiles.jsonl").read_text().splitlines()
    profiles = [json.loads(line) for line in lines]
    with TestClient(app) as client:
        r = client.post("/v1/profiles/bulk", json={"profiles": profiles}, headers=ADMIN)
        assert r.status_code in (200, 201, 207), r.text[:300]
        by_name = {
            p["name"]: item["id"] for p, item in zip(profiles, r.json()["results"], strict=True)
        }
        r = client.post("/v1/profiles", json=README_FIRM)
        assert r.status_code == 201, r.text
        yield {"client": client, "firm": r.json()["id"], "ids": by_name, "encoder": encoder}
    wipe(database_url)


def top10(seeded: dict) -> list[dict]:
    r = seeded["client"].get(f"/v1/profiles/{seeded['firm']}/matches", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()["matches"]


def test_the_readme_firm_gets_the_high_nickel_cathode_makers_near_the_top(seeded):
    """Before ranker v1, EcoPro BM (high-nickel NCA/NCM cathodes) was 10th and an
    electrolyser maker 2nd, on the word "electrodes". The firm needs "high-nickel cathode
    material and electrode coating know-how": the cathode makers answer the first half, the
    Korean cell makers (which coat electrodes) the second, and ranker v2 puts them first."""
    names = [m["profile"]["name"] for m in top10(seeded)]
    cathodes = {"POSCO Future M (포스코퓨처엠)", "EcoPro BM (에코프로비엠)"}
    assert cathodes <= set(names[:5]), names
    last_cathode = max(names.index(n) for n in cathodes)
    assert not any("Electrolyzer" in n for n in names[: last_cathode + 1]), names


def test_each_quoted_offer_answers_the_need_shown_beside_it(seeded):
    """The offer is the partner's sentence closest to *that* need, and whole sentences are
    quoted: each evidence item is recomputed from the texts with the same model."""
    encoder = seeded["encoder"]
    firm_needs = encoder.split(README_FIRM["needs"])
    for m in top10(seeded):
        forward = [e for e in m["evidence"] if e["direction"] == "partner_offers"]
        assert len(forward) == 1
        e = forward[0]
        assert e["need"] in firm_needs
        partner = seeded["client"].get(f"/v1/profiles/{m['profile']['id']}").json()
        offers = encoder.split(partner["capabilities"])
        assert e["offer"] in offers  # a whole stored sentence, never cut
        # the encoder reads each text with its own organisation's name masked
        read_need = own_name_masker(README_FIRM["name"], README_FIRM["org_type"])(e["need"])
        mask = own_name_masker(partner["name"], partner["org_type"])
        vecs = encoder.encode_sentences([read_need, *map(mask, offers)])
        vecs = vecs.astype(np.float16).astype(np.float32)
        sims = vecs[1:] @ vecs[0]
        assert offers[int(np.argmax(sims))] == e["offer"]
        assert e["similarity"] == pytest.approx(float(sims.max()), abs=0.02)
        if e["similarity"] >= WEAK:
            assert f"\u201c{e['offer'].rstrip('.;')}\u201d, which answers" in m["explanation"]
        else:
            assert "finds no close answer" in m["explanation"]
        assert "\u2026" not in m["explanation"]


def test_no_two_explanations_share_an_in_return_sentence_unless_the_needs_are_the_same(seeded):
    seen: dict[str, str] = {}
    for m in top10(seeded):
        parts = [s for s in m["explanation"].split(". ") if s.startswith("In return")]
        back = [e for e in m["evidence"] if e["direction"] == "asker_offers"]
        if not parts:
            continue
        assert len(parts) == 1 and len(back) == 1
        clause, need = parts[0], back[0]["need"]
        assert seen.get(clause, need) == need, (clause, need)
        seen[clause] = need


def test_weak_one_sided_and_competing_fits_are_said_plainly(seeded):
    texts = [m["explanation"] for m in top10(seeded)]
    r = seeded["client"].get(f"/v1/profiles/{seeded['firm']}/matches?limit=50", headers=ADMIN)
    for m in r.json()["matches"]:
        ev = {e["direction"]: e["similarity"] for e in m["evidence"]}
        if ev["partner_offers"] < WEAK and ev.get("asker_offers", 0) < WEAK:
            assert "The fit is weak" in m["explanation"]
        elif (ev["partner_offers"] < WEAK) != (ev.get("asker_offers", 0) < WEAK):
            assert "one-sided" in m["explanation"]
        if m["components"]["similarity"] >= 0.75:
            assert "possible competitors" in m["explanation"]
    assert texts


def test_the_readme_search_returns_shipbuilders_first_with_distinct_scores(seeded):
    r = seeded["client"].post("/v1/matches/search", json=README_SEARCH, headers=ADMIN)
    assert r.status_code == 200, r.text
    got = r.json()["matches"]
    assert all("shipbuilding" in m["profile"]["sectors"] for m in got[:3]), got[:3]
    yards = {
        "Hanwha Ocean (한화오션)",
        "HD Hyundai Heavy Industries (HD현대중공업)",
        "Samsung Heavy Industries (삼성중공업)",
    }
    assert len(yards & {m["profile"]["name"] for m in got[:3]}) >= 2
    scores = [m["score"] for m in got]
    assert len(set(scores)) == len(scores) and scores == sorted(scores, reverse=True)
    for m in got:
        # no sectors were given: never called "different sectors", or any other
        assert not m["explanation"].startswith(("Different sectors", "Both work", "Related"))
        assert [e["direction"] for e in m["evidence"]] == ["partner_offers"]


def test_a_capabilities_only_search_ranks_who_needs_the_offer(seeded):
    body = {
        "capabilities": "We build and license high-nickel NCM cathode material plants.",
        "country": "IN",
    }
    r = seeded["client"].post("/v1/matches/search", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    got = r.json()["matches"]
    assert got and all(m["profile"]["country"] == "IN" for m in got)
    assert any("clean_energy" in m["profile"]["sectors"] for m in got[:3])
    assert all([e["direction"] for e in m["evidence"]] == ["asker_offers"] for m in got)
    r = seeded["client"].post("/v1/matches/search", json={"country": "IN"}, headers=ADMIN)
    assert r.status_code == 422
    assert "needs, capabilities or both" in r.text


def test_a_pair_scores_the_same_from_either_side(seeded):
    client, firm = seeded["client"], seeded["firm"]
    there = {m["profile"]["id"]: m["score"] for m in top10(seeded)}
    for pid, score in list(there.items())[:3]:
        r = client.get(f"/v1/profiles/{pid}/matches?limit=100", headers=ADMIN)
        back = {m["profile"]["id"]: m["score"] for m in r.json()["matches"]}
        assert back[firm] == pytest.approx(score, abs=1e-5)
