"""Profiles declare export-control categories on registration and PATCH; unknown codes are 422."""

from __future__ import annotations

from tests.conftest import create_profile, profile_payload


def test_declared_categories_round_trip_and_are_private(client, official):
    body, owner = create_profile(client, controlled_technologies=["ML5", "WA-DU-3"])
    assert body["controlled_technologies"] == ["ML5", "WA-DU-3"]
    url = f"/v1/profiles/{body['id']}"
    assert client.get(url).json()["controlled_technologies"] is None  # the public view
    assert client.get(url, headers=official).json()["controlled_technologies"] == [
        "ML5",
        "WA-DU-3",
    ]
    r = client.patch(url, json={"controlled_technologies": ["KR-NCT-SEMI"]}, headers=owner)
    assert r.status_code == 200, r.text
    assert client.get(url, headers=owner).json()["controlled_technologies"] == ["KR-NCT-SEMI"]


def test_unknown_codes_are_422_naming_them(client):
    r = client.post(
        "/v1/profiles", json=profile_payload(controlled_technologies=["ML5", "ML99", "XYZ"])
    )
    assert r.status_code == 422
    msg = r.json()["detail"][0]["msg"]
    assert "ML99" in msg and "XYZ" in msg and "ML5," not in msg
    assert r.json()["detail"][0]["loc"][-1] == "controlled_technologies"
    body, owner = create_profile(client)
    r = client.patch(
        f"/v1/profiles/{body['id']}", json={"controlled_technologies": ["ML23"]}, headers=owner
    )
    assert r.status_code == 422 and "ML23" in r.text
