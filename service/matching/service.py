"""The queries behind the matching endpoints: one profile's matches, ad-hoc search, pairings."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from service.auth.service import Principal, require_owner_or_staff
from service.config import RankerSettings, Settings
from service.indexing.columns import COUNTRY_CODE, ORG_CODE, Summary
from service.indexing.lexical import profile_terms
from service.indexing.search import CandidateSource, Filters
from service.indexing.service import MatchIndex
from service.introductions import queries as introductions
from service.introductions.queries import PairStates
from service.matching.explain import Evidence, explain_pairs
from service.matching.features import COMPONENTS
from service.matching.ranking import Ranked, rank, rank_profiles, top_pairs
from service.profiles.models import Profile
from service.screening import service as screening
from service.screening.engine import Screener
from service.screening.schemas import PairScreening
from service.sectors import mask_of
from service.vocab import other_country


@dataclass
class Match:
    profile: Profile | Summary
    score: float
    components: dict[str, float]
    explanation: str
    evidence: list[Evidence]


def row_components(r: Ranked, row: int, col: int) -> dict[str, float]:
    return {name: round(float(r.components[name][row, col]), 6) for name in COMPONENTS}


# Evidence of a pairing (IN, KR) and of an export row says which country's offer answers.
PAIRING_DIRECTIONS = ("kr_offers", "in_offers")


def _quoted(evidence: list[Evidence]) -> set[str]:
    return {e["offer"] for e in evidence} | {e["need"] for e in evidence}


def screen_matches(
    session: Session, subject: int, matches: list[Match], principal: Principal
) -> list[PairScreening]:
    """Each match's screening: one lookup of the stored declarations and flags of the subject
    and its partners (no encoding, no scoring on the request path)."""
    found = screening.sides(session, [subject, *(m.profile.id for m in matches)])
    out = []
    for m in matches:
        s = screening.pair_screening(found[subject], found[m.profile.id], _quoted(m.evidence))
        out.append(screening.for_viewer(s, principal))
    return out


def screen_adhoc(
    session: Session,
    screener: Screener,
    search: AdHocSearch,
    *,
    declared: list[str],
    sectors: list[str] | None,
    principal: Principal,
) -> list[PairScreening]:
    """Each ad-hoc search result's screening. The unregistered firm has no stored flags, so its
    capability sentences are scored here from the vectors the search encoded (no second
    encoding); its declared categories come with the request."""
    sents, vecs = search.query.get("capabilities", ([], None))
    firm = screening.Side(
        id=-1,
        public_id="",
        country=other_country(search.candidate_country),
        sectors=list(sectors or []),
        declared=list(declared),
        flags=[f.as_dict() for f in screener.flags(sents, vecs)] if sents else [],
    )
    found = screening.sides(session, [m.profile.id for m in search.matches])
    return [
        screening.for_viewer(
            screening.pair_screening(firm, found[m.profile.id], _quoted(m.evidence)), principal
        )
        for m in search.matches
    ]


def screen_pairings(session: Session, pairings: list[Pairing]) -> list[PairScreening]:
    """Each pairing's screening (officials' view: with categories and reasons)."""
    found = screening.sides(
        session, {i for p in pairings for i in (p.in_profile.id, p.kr_profile.id)}
    )
    return [
        screening.pair_screening(
            found[p.in_profile.id], found[p.kr_profile.id], _quoted(p.evidence)
        )
        for p in pairings
    ]


# -- queries behind the endpoints ----------------------------------------------------------


def indexed_subject(session: Session, index: MatchIndex, public_id: str) -> Summary:
    """The profile whose partners are asked for, from the index's memory (the caller catches
    it up with every committed change first); when it is not there, the database tells an
    unknown id (404) from one not indexed yet (503)."""
    from service.errors import Unavailable
    from service.profiles import service as profiles

    found = index.find(public_id)
    if found is None:
        profiles.get(session, public_id)
        raise Unavailable("this profile is not in the search index yet; retry in a moment")
    return found


def matches_for_profile(
    session: Session,
    index: MatchIndex,
    profile: Profile | Summary,
    *,
    limit: int,
    pool: int,
    ranker: RankerSettings,
    filters: Filters = Filters(),
    min_score: float = 0.0,
    hide: Collection[int] = (),
) -> list[Match]:
    """``profile``'s best ``limit`` partners, leaving out the ids in ``hide``."""
    k = limit + len(hide)  # ranked past the hidden ones, so the list stays full
    r = rank_profiles(
        index,
        np.array([profile.id]),
        profile.country,
        k=k,
        pool=max(pool, k),
        ranker=ranker,
        filters=filters,
    )
    cols = [
        c
        for c in range(r.ids.shape[1])
        if r.ids[0, c] >= 0 and r.scores[0, c] >= min_score and int(r.ids[0, c]) not in hide
    ][:limit]
    profiles = index.summaries(int(r.ids[0, c]) for c in cols)
    # a candidate deleted by a concurrent catch-up since ranking drops out
    cols = [c for c in cols if int(r.ids[0, c]) in profiles]
    ids = [int(r.ids[0, c]) for c in cols]
    profiles[profile.id] = profile
    texts = explain_pairs(
        session,
        index,
        [(profile.id, i) for i in ids],
        profiles,
        competitors(r, cols, ranker),
    )
    return [
        Match(profiles[i], round(float(r.scores[0, c]), 6), row_components(r, 0, c), *t)
        for i, c, t in zip(ids, cols, texts, strict=True)
    ]


def match_list(
    session: Session,
    index: MatchIndex,
    settings: Settings,
    principal: Principal,
    public_id: str,
    *,
    limit: int,
    filters: Filters = Filters(),
    min_score: float = 0.0,
    include_declined: bool = False,
) -> tuple[Summary, list[Match], PairStates]:
    """A profile's match list as its owner, officials and admins see it (the API's and the
    console's): the index caught up first, the partners with the pair's workflow state, and
    those declined either way within the cooldown left out unless ``include_declined``."""
    index.catch_up(session)
    profile = indexed_subject(session, index, public_id)
    require_owner_or_staff(principal, profile.id)
    pairs = introductions.pair_states(
        session, profile.id, settings.introductions.decline_cooldown_days
    )
    matches = matches_for_profile(
        session,
        index,
        profile,
        limit=limit,
        pool=settings.candidate_pool,
        ranker=settings.ranker,
        min_score=min_score,
        filters=filters,
        hide=() if include_declined else pairs.hidden,
    )
    return profile, matches, pairs


def competitors(r: Ranked, cols: list[int], ranker: RankerSettings) -> list[bool]:
    """Whether the two capability texts are alike enough to call the pair possible competitors."""
    return [bool(r.components["similarity"][0, c] >= ranker.competitor_threshold) for c in cols]


@dataclass
class AdHoc:
    """An unregistered organisation described only by its texts (id -1 in explanations)."""

    name: str
    sectors: list[str]


@dataclass
class AdHocSearch:
    matches: list[Match]
    candidate_country: str
    # The query's sentences and their vectors by field ("needs", "capabilities"), as encoded.
    query: dict[str, tuple[list[str], np.ndarray]]


def search_adhoc(
    session: Session,
    index: MatchIndex,
    encoder,  # noqa: ANN001 - embeddings.encoder.Encoder
    *,
    needs: str | None,
    capabilities: str | None,
    candidate_country: str,
    sectors: list[str] | None,
    limit: int,
    pool: int,
    ranker: RankerSettings,
) -> AdHocSearch:
    """Matches for an unregistered organisation described by its needs, its capabilities or
    both. With one side only, candidates are ranked by that direction alone (the model's
    ``needs_only`` or ``capabilities_only`` weights): what answers the needs, or who needs what
    is offered."""
    texts = {f: t for f, t in (("needs", needs), ("capabilities", capabilities)) if t}
    docs = dict(zip(texts, encoder.embed_documents(list(texts.values())), strict=True))
    dim = index.dim
    q_needs = docs["needs"].vector[None, :] if "needs" in docs else np.zeros((1, dim), np.float32)
    q_caps = (
        docs["capabilities"].vector[None, :]
        if "capabilities" in docs
        else np.zeros((1, dim), np.float32)
    )
    kind = "both" if len(docs) == 2 else f"{next(iter(docs))}_only"
    meta = {
        "sector_mask": np.array([mask_of(sectors or [])]),
        "partnership_mask": np.array([0]),
        "org": np.array([ORG_CODE["company"]]),
        "country": np.array([COUNTRY_CODE[other_country(candidate_country)]]),
    }
    r = rank(
        index,
        source=CandidateSource(candidate_country),
        q_caps=q_caps,
        q_needs=q_needs,
        q_meta=meta,
        k=limit,
        pool=max(pool, limit),
        ranker=ranker,
        query_terms=index.terms.query(*profile_terms(capabilities or "", needs or "")),
        kind=kind,
    )
    profiles: dict = index.summaries(int(i) for i in r.ids[0] if i >= 0)
    cols = [c for c in range(r.ids.shape[1]) if int(r.ids[0, c]) in profiles]
    ids = [int(r.ids[0, c]) for c in cols]
    profiles[-1] = AdHoc("your organisation", sectors or [])
    q_sent = {f: (d.sentences, d.sentence_vectors) for f, d in docs.items()}
    texts_out = explain_pairs(
        session,
        index,
        [(-1, i) for i in ids],
        profiles,
        competitors(r, cols, ranker) if capabilities else [False] * len(ids),
        query_sentences={-1: q_sent},
    )
    matches = [
        Match(profiles[i], round(float(r.scores[0, c]), 6), row_components(r, 0, c), *t)
        for i, c, t in zip(ids, cols, texts_out, strict=True)
    ]
    return AdHocSearch(matches, candidate_country, q_sent)


@dataclass
class Pairing:
    in_profile: Summary
    kr_profile: Summary
    score: float
    components: dict[str, float]
    explanation: str
    evidence: list[Evidence]


def best_pairings(
    session: Session,
    index: MatchIndex,
    *,
    sector: str | None,
    limit: int,
    per_org: int,
    min_score: float,
    pool: int,
    ranker: RankerSettings,
) -> list[Pairing]:
    """Best IN-KR pairs of the registry, each pair once, no organisation in more than ``per_org``.

    Candidates are every profile's top partners from both sides; a greedy pass takes pairs
    best-first while both organisations are under the cap.
    """
    found = top_pairs(
        index,
        k=max(10, 2 * per_org),
        pool=pool,
        ranker=ranker,
        filters=Filters(sector=sector),
        min_score=min_score,
    )
    chosen: list[tuple[tuple[int, int], tuple[float, dict[str, float]]]] = []
    if found:
        order = np.lexsort((found["kr"], found["in"], -found["score"]))
        taken: dict[int, int] = {}
        for n in order.tolist():
            a, b = int(found["in"][n]), int(found["kr"][n])
            if taken.get(a, 0) < per_org and taken.get(b, 0) < per_org:
                comps = {c: round(float(found[c][n]), 6) for c in COMPONENTS}
                chosen.append(((a, b), (float(found["score"][n]), comps)))
                taken[a] = taken.get(a, 0) + 1
                taken[b] = taken.get(b, 0) + 1
                if len(chosen) == limit:
                    break
    profiles = index.summaries({i for (pair, _) in chosen for i in pair})
    chosen = [c for c in chosen if c[0][0] in profiles and c[0][1] in profiles]
    texts = explain_pairs(
        session,
        index,
        [pair for pair, _ in chosen],
        profiles,
        [comps["similarity"] >= ranker.competitor_threshold for _, (_, comps) in chosen],
        directions=PAIRING_DIRECTIONS,
    )
    return [
        Pairing(profiles[a], profiles[b], round(score, 6), comps, *t)
        for ((a, b), (score, comps)), t in zip(chosen, texts, strict=True)
    ]
