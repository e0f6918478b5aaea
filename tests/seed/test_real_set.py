"""The labelled real-partnership set (``seed_data/real``) that ``bench/quality.py`` scores.

One organisation in the set twice is counted both as the true partner and as a wrong answer
ranked above it, and one deal entered twice can be trained on in one fold and scored in another
(SOURCES.md, "Duplicates merged"). These checks fail on the set as it was before the merge.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

from service.core.text import name_key

REAL = Path(__file__).resolve().parents[2] / "seed_data" / "real"

# Legal-form words and bracketed asides that do not make a different organisation:
# "Bharat Forge Ltd" and "Bharat Forge", "Data Patterns (India) Limited" and "Data Patterns".
LEGAL_FORMS = re.compile(r"\b(ltd|limited|co|corp|corporation|inc|pvt|private|plc)\b")


def org_key(name: str) -> str:
    """The registry's duplicate key (``name_key``) of the name without legal form and asides."""
    plain = re.sub(r"\([^)]*\)", " ", name).casefold().replace("&", " and ")
    plain = LEGAL_FORMS.sub(" ", re.sub(r"[^\w]+", " ", plain))
    return name_key(" ".join(plain.split()))


def load() -> tuple[list[dict], list[dict]]:
    lines = (REAL / "profiles.jsonl").read_text(encoding="utf-8").splitlines()
    profiles = [json.loads(line) for line in lines if line.strip()]
    with open(REAL / "pairs.csv", newline="") as fh:
        pairs = list(csv.DictReader(fh))
    return profiles, pairs


def test_org_key_folds_legal_forms_and_asides() -> None:
    assert org_key("Data Patterns (India) Limited") == org_key("Data Patterns")
    assert org_key("L&F Co., Ltd. (엘앤에프)") == org_key("L&F (엘앤에프)")
    assert org_key("Tata Motors") != org_key("Tata AutoComp Systems Ltd")


def test_no_organisation_twice() -> None:
    profiles, _ = load()
    names: dict[tuple[str, str], list[str]] = {}
    for p in profiles:
        names.setdefault((p["country"], org_key(p["name"])), []).append(p["name"])
    assert [v for v in names.values() if len(v) > 1] == []
    assert len({p["key"] for p in profiles}) == len(profiles)


def test_no_deal_twice_and_every_pair_is_cross_border() -> None:
    profiles, pairs = load()
    by_key = {p["key"]: p for p in profiles}
    seen = Counter((r["in_key"], r["kr_key"]) for r in pairs)
    assert [k for k, n in seen.items() if n > 1] == []
    for r in pairs:
        a, b = by_key[r["in_key"]], by_key[r["kr_key"]]
        assert (a["country"], b["country"]) == ("IN", "KR"), r
        assert a["role"] == b["role"] == "partner", r
    assert len(pairs) >= 60
    assert sum(p["role"] == "distractor" for p in profiles) >= 300
