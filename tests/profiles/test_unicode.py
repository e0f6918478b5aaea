"""Unicode in profile text: stored in NFC, look-alike names are duplicates, invisible and
bidirectional controls refused (RELIABILITY.md, "Hostile input")."""

from __future__ import annotations

import unicodedata

import pytest

from tests.conftest import create_profile, profile_payload
from tests.profiles.test_api import count_profiles

NAME = "Hanbit Duplicate Test"


@pytest.mark.parametrize(
    ("label", "again", "status"),
    [
        # Format characters are refused in names outright (422)...
        ("zero-width space", "Hanbit Dupli\u200bcate Test", 422),
        ("soft hyphen", "Han\u00adbit Duplicate Test", 422),
        # ...and what is allowed folds onto the first registration (409).
        ("full-width letters", "Ｈａｎｂｉｔ Ｄｕｐｌｉｃａｔｅ Ｔｅｓｔ", 409),
        ("one Cyrillic a", "H\u0430nbit Duplicate Test", 409),
        ("Greek capital omicron", "Hanbit Duplicate Test \u039f", 409),
        ("digit zero for a capital O", "Hanbit Duplicate Test 0", 409),
        ("extra spaces and case", "  HANBIT   duplicate TEST ", 409),
    ],
)
def test_look_alike_name_is_not_a_new_organisation(client, label, again, status):
    a, _ = create_profile(client, name=NAME + (" O" if again.endswith(("\u039f", "0")) else ""))
    r = client.post("/v1/profiles", json=profile_payload(name=again))
    assert r.status_code == status, (label, r.text)
    if status == 409:
        assert r.json()["existing_id"] == a["id"]
    assert count_profiles(client) == 1


def test_the_duplicate_key_folds_format_characters_too():
    """Rows stored before format characters were refused (and any other way in) still fold
    onto the same key."""
    from service.core.text import name_key

    key = name_key(NAME)
    for variant in ("Hanbit Dupli\u200bcate Test", "Han\u00adbit \u202eDuplicate Test"):
        assert name_key(variant) == key
    assert name_key("Hanbit Duplicate Tests") != key


@pytest.mark.parametrize("name", ["한빛 마린 시스템즈", "Société Générale Électronique"])
def test_decomposed_name_is_stored_composed_and_is_a_duplicate(client, name):
    nfd = unicodedata.normalize("NFD", name)
    assert nfd != name
    a, _ = create_profile(client, name=nfd, country="KR")
    assert a["name"] == name  # stored in NFC
    r = client.post("/v1/profiles", json=profile_payload(name=name, country="KR"))
    assert r.status_code == 409 and r.json()["existing_id"] == a["id"]
    # A search typed decomposed finds the composed text.
    q = unicodedata.normalize("NFD", name.split()[0])
    assert [p["id"] for p in client.get("/v1/profiles", params={"q": q}).json()["items"]] == [
        a["id"]
    ]


def test_all_text_fields_are_stored_in_nfc(client):
    decomposed = unicodedata.normalize("NFD", "Café ")
    a, _ = create_profile(
        client,
        city=decomposed + "Séoul",
        tags=[decomposed + "tag"],
        capabilities=decomposed + "We make wafer-level packaging for élite chips.",
        needs=decomposed + "We seek a partner with high-bandwidth memory know-how.",
    )
    for value in (a["city"], a["tags"][0], a["capabilities"], a["needs"]):
        assert unicodedata.is_normalized("NFC", value), value


def test_look_alike_rename_and_bulk_items_are_duplicates(client, admin):
    a, _ = create_profile(client, name=NAME, country="KR")
    b, owner_b = create_profile(client, name="Other Name Ltd", country="KR")
    r = client.patch(
        f"/v1/profiles/{b['id']}", json={"name": "H\u0430nbit Duplicate Test"}, headers=owner_b
    )
    assert r.status_code == 409 and r.json()["existing_id"] == a["id"]
    items = [profile_payload(name="Fresh Name Ltd"), profile_payload(name="Ｆｒｅｓｈ Name Ltd")]
    res = client.post("/v1/profiles/bulk", json={"profiles": items}, headers=admin).json()
    assert [x["status"] for x in res["results"]] == [201, 409]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"name": "\u200b\u200b\u200b"}, "name"),  # only zero-width characters
        ({"name": "\u200b \u2060"}, "name"),
        ({"name": "\u3164\u3164"}, "name"),  # Hangul fillers: letters that render as nothing
        ({"name": "!! --"}, "name"),  # no letter or digit
        ({"name": "Hanbit \u202eLtd"}, "name"),  # right-to-left override
        ({"name": "Hanbit\u2066 Marine\u2069"}, "name"),  # bidi isolates
        ({"name": "Hanbit\u200d Marine"}, "name"),  # zero-width joiner
        ({"name": "Hanbit\u0085Marine"}, "name"),  # C1 control
        ({"city": "Seoul\u202e"}, "city"),
        ({"city": "\u200b"}, "city"),
        ({"tags": ["ok", "bad\u200btag"]}, "tags"),
        ({"tags": ["\u2067"]}, "tags"),
    ],
)
def test_format_and_control_characters_in_one_line_fields_are_422_naming_the_field(
    client, override, field
):
    r = client.post("/v1/profiles", json=profile_payload(**override))
    assert r.status_code == 422, r.text
    assert any(field in e["loc"] for e in r.json()["detail"]), r.text
    assert count_profiles(client) == 0


def test_patch_refuses_a_bidi_override_in_the_name(client):
    a, owner = create_profile(client)
    url = f"/v1/profiles/{a['id']}"
    r = client.patch(url, json={"name": "Evil \u202eLtd"}, headers=owner)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "name"


def test_names_whose_fold_is_longer_than_the_column_register(client):
    """The skeleton maps "m" to "rn" and NFKC spells one Arabic ligature in 18 letters: the
    duplicate key of a 200-character name is far longer than 200 characters (PostgreSQL's
    varchar(200) refused it), so it is stored as a digest."""
    create_profile(client, name="m" * 200)
    create_profile(client, name="\ufdfa" * 200)
    create_profile(client, name="m" * 100)
    r = client.post("/v1/profiles", json=profile_payload(name="rn" * 100))
    assert r.status_code == 409


def test_a_name_lengthened_past_the_limit_by_nfc_is_422(client):
    # U+0958 has no composed form: NFC writes it as two code points.
    r = client.post("/v1/profiles", json=profile_payload(name="\u0958" * 150))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "name"
