"""The console's workflow pages keep the API's roles: officials broker and decide but never act
for a firm; a firm answers only its own interests and sees only its own introductions. Real app
(its HTTP stack, sessions and CSRF), real database."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import create_profile


def console_as(client: TestClient, key: str) -> tuple[TestClient, str]:
    """A browser of its own (cookie jar) signed in with ``key``; its CSRF token."""
    c = TestClient(client.app)
    page = c.get("/console/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = c.post("/console/signin", data={"api_key": key, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = c.get("/console/registry")
    return c, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_workflow_pages_follow_the_api_roles(client, official):
    kr, kr_key = create_profile(client, country="KR", contact_email="kr@example.test")
    india, in_key = create_profile(client, contact_email="in@example.test")
    other, other_key = create_profile(client, name="Another Indian Firm")
    r = client.post(f"/v1/profiles/{india['id']}/interests", json={"to": kr["id"]}, headers=in_key)
    assert r.status_code == 201, r.text
    interest = r.json()["id"]

    staff, staff_csrf = console_as(client, official["X-API-Key"])
    firm, firm_csrf = console_as(client, kr_key["X-API-Key"])
    outsider, outsider_csrf = console_as(client, other_key["X-API-Key"])

    # officials act as brokers only: they cannot answer for a firm
    r = staff.post(f"/console/interests/{interest}/accept", data={"csrf": staff_csrf})
    assert r.status_code == 403 and "only the recipient" in r.text
    # nor can a firm that is not the recipient
    r = outsider.post(f"/console/interests/{interest}/accept", data={"csrf": outsider_csrf})
    assert r.status_code == 403
    r = firm.post(f"/console/interests/{interest}/accept", data={"csrf": firm_csrf})
    assert r.status_code == 200 and "/console/profiles/" in str(r.url)
    ix = client.get(f"/v1/profiles/{india['id']}/matches?limit=50", headers=in_key).json()
    ix = next(m["introduction_id"] for m in ix["matches"] if m["profile"]["id"] == kr["id"])

    # staff pages are staff's
    for path in ("/console/introductions", "/console/screening", "/console/pairings"):
        assert firm.get(path).status_code == 403, path
        assert staff.get(path).status_code == 200, path
    body = {"csrf": firm_csrf, "in_profile": india["id"], "kr_profile": kr["id"]}
    assert firm.post("/console/introductions", data=body).status_code == 403
    body = {"csrf": firm_csrf, "profiles": [india["id"], kr["id"]], "decision": "cleared"}
    assert firm.post("/console/screening/decisions", data=body).status_code == 403

    # an introduction's page: its sides (with the partner's contact) and staff, nobody else
    page = firm.get(f"/console/introductions/{ix}")
    assert page.status_code == 200 and "in@example.test" in page.text
    assert outsider.get(f"/console/introductions/{ix}").status_code == 403
    # outcomes are the sides' to report, not an official's
    outcome = {"stage": "meeting_held", "date": "2026-12-01"}
    r = staff.post(f"/console/introductions/{ix}/outcomes", data={**outcome, "csrf": staff_csrf})
    assert r.status_code == 403
    r = firm.post(f"/console/introductions/{ix}/outcomes", data={**outcome, "csrf": firm_csrf})
    assert r.status_code == 200 and "meeting held" in r.text
