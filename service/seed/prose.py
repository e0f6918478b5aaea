"""The synthetic generator's prose: a profile's capabilities and needs texts from its plan."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import NamedTuple

from service.seed.words import (
    _CERT_LINES,
    _CITIES,
    _EARLIEST,
    _EMPLOYEES,
    _FACILITY_LINES,
    _FOUNDED,
    _GOV_KINDS,
    _HUBS,
    _INSTITUTE_KINDS,
    _INTROS,
    _MARKETS,
    _MAX_CAP_SENTENCES,
    _MAX_NEED_SENTENCES,
    _MILESTONES,
    _MONEY,
    _MOTIVATIONS,
    _NEED_FIRST,
    _NEED_MORE,
    _OFFER_LEADS,
    _OFFER_MORE,
    _ORG_TAGS,
    _PARTNER,
    _PTYPE_MANY,
    _PTYPE_NONE,
    _PTYPE_ONE,
    _PTYPE_PHRASES,
    _RESEARCH_MILESTONES,
    _SCALE_LINES,
    _STAGES,
    CAPABILITIES_CHARS,
    NEEDS_CHARS,
    VOCAB,
    SectorVocab,
    _Spec,
)

# --------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------


def _join(items: Sequence[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'; items that contain lists themselves get semicolons."""
    if len(items) <= 1:
        return "".join(items)
    if not any(" and " in item or ", " in item for item in items):
        return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
    if len(items) == 2:
        return f"{items[0]}, as well as {items[1]}"
    return f"{'; '.join(items[:-1])}; {conjunction} {items[-1]}"


def _fit(
    required: list[str], optional: list[str], spare: list[str], lo: int, hi: int, most: int
) -> str:
    """Join sentences: all required, optional ones while <= ``hi``, spare ones if < ``lo``."""
    sentences = list(required)
    length = sum(len(s) + 1 for s in sentences) - 1
    for sentence in optional:
        if len(sentences) < most and length + len(sentence) + 1 <= hi:
            sentences.append(sentence)
            length += len(sentence) + 1
    for sentence in spare:
        if length >= lo or len(sentences) >= most:
            break
        if length + len(sentence) + 1 <= hi:
            sentences.append(sentence)
            length += len(sentence) + 1
    return " ".join(sentences)


def _size_word(employees: int) -> str:
    if employees < 100:
        return "small"
    if employees < 1000:
        return "mid-sized"
    if employees < 10_000:
        return "large"
    return "leading"


def _money(country: str, employees: int) -> str:
    template, per_head = _MONEY[country]
    raw = max(1.0, employees * per_head)
    magnitude = 10 ** max(0, int(math.log10(raw)) - 1)
    return template.format(x=round(raw / magnitude) * magnitude)


class _Org(NamedTuple):
    country: str
    org_type: str
    city: str
    employees: int
    year: int


def _intro(rng: random.Random, org: _Org, vocab: SectorVocab) -> str:
    return rng.choice(_INTROS[org.org_type]).format(
        year=org.year,
        city=org.city,
        size=_size_word(org.employees),
        noun=vocab.noun,
        focus=vocab.focus,
        stage=rng.choice(_STAGES),
        kind=rng.choice(_INSTITUTE_KINDS),
        gov=rng.choice(_GOV_KINDS[org.country]),
    )


def _scale(rng: random.Random, org: _Org) -> str:
    emp = f"{org.employees:,}"
    return rng.choice(_SCALE_LINES[org.org_type]).format(
        emp=emp,
        k=rng.randint(3, 40),
        market=rng.choice(_MARKETS),
        rev=_money(org.country, org.employees),
        funding=f"USD {rng.choice((1, 2, 3, 5, 8, 12, 20, 35, 60))} million",
    )


def _capabilities(rng: random.Random, org: _Org, spec: _Spec) -> str:
    vocab = VOCAB[spec.sectors[0]]
    phrases = [c.capability for c in spec.offers]
    split = 2 if len(phrases) > 2 and rng.random() < 0.5 else len(phrases)
    required = [_intro(rng, org, vocab), rng.choice(_OFFER_LEADS).format(x=_join(phrases[:split]))]
    if phrases[split:]:
        required.append(rng.choice(_OFFER_MORE).format(x=_join(phrases[split:])))
    facilities = rng.sample(vocab.facilities, rng.choice((1, 1, 2)))
    required.append(rng.choice(_FACILITY_LINES).format(x=_join(facilities), city=org.city))
    certs = _join(rng.sample(vocab.certifications, rng.randint(1, 3)))
    research = org.org_type in ("research_institute", "university", "government_agency")
    milestone = rng.choice(_RESEARCH_MILESTONES if research else _MILESTONES)
    extras = [rng.choice(_CERT_LINES).format(x=certs), _scale(rng, org), milestone]
    keep = [rng.random() < p for p in (0.6, 0.7, 0.35)]
    optional = [s for s, k in zip(extras, keep, strict=True) if k]
    spare = [s for s, k in zip(extras, keep, strict=True) if not k]
    return _fit(required, optional, spare, *CAPABILITIES_CHARS, _MAX_CAP_SENTENCES)


def _needs(rng: random.Random, org: _Org, spec: _Spec) -> str:
    adj, partner_country, partner_adj = _PARTNER[org.country]
    phrases = [vp.format(pc=partner_country, pa=partner_adj) for vp in spec.needs]
    sentences = [rng.choice(_NEED_FIRST).format(adj=adj, vp=phrases[0])]
    more = rng.sample(_NEED_MORE, len(phrases) - 1)
    sentences += [line.format(vp=vp) for line, vp in zip(more, phrases[1:], strict=True)]
    if spec.ptypes:
        deal = _join([_PTYPE_PHRASES[p] for p in spec.ptypes], "or")
        lines = _PTYPE_ONE if len(spec.ptypes) == 1 else _PTYPE_MANY
        sentences.append(rng.choice(lines).format(x=deal))
    else:
        sentences.append(rng.choice(_PTYPE_NONE))
    motivation = rng.choice(_MOTIVATIONS).format(market=rng.choice(_MARKETS))
    optional = [motivation] if rng.random() < 0.3 else []
    spare = [] if optional else [motivation]
    return _fit(sentences, optional, spare, *NEEDS_CHARS, _MAX_NEED_SENTENCES)


def _tags(org: _Org, spec: _Spec) -> list[str]:
    tags = [*spec.sectors, *(c.tag for c in spec.offers)]
    if org.org_type in _ORG_TAGS:
        tags.append(_ORG_TAGS[org.org_type])
    return list(dict.fromkeys(tags))[:8]


# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------


def _city(rng: random.Random, country: str, sector: str, org_type: str) -> str:
    hub_share = 0.7 if org_type in ("company", "startup") else 0.5
    if rng.random() < hub_share:
        return rng.choice(_HUBS[country][sector])
    return rng.choice(_CITIES[country])


def _employees(rng: random.Random, org_type: str) -> int:
    low, high, skew = _EMPLOYEES[org_type]
    u = rng.random() ** skew
    value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    return max(low, min(high, round(value)))


def _founded(rng: random.Random, org_type: str, sector: str) -> int:
    low, high = _FOUNDED[org_type]
    return rng.randint(max(low, _EARLIEST.get(sector, low)), high)
