"""Reads of the workflow: lists, officials' view and funnel, and pair states for match lists."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from service.auth.service import Principal
from service.core.pagination import decode_cursor, encode_cursor, newest_first
from service.db import utcnow
from service.introductions.models import Interest, Introduction, Outcome
from service.introductions.schemas import Funnel, InterestList, IntroductionList
from service.introductions.views import interests_out, introduction_out
from service.profiles.models import Profile
from service.screening import service as screening
from service.sectors import SECTOR_BIT

# Stages that show a partnership moving, in order; a later one implies the earlier ones.
PROGRESS = ("meeting_held", "negotiating", "agreement_signed")


def list_interests(
    session: Session,
    profile: Profile,
    *,
    direction: str | None,
    state: str | None,
    cursor: str | None,
    limit: int,
) -> InterestList:
    """A profile's interests, newest first (``direction`` incoming or outgoing, else both).

    A brokered proposal is an interest to each side; a side's list holds the one it answers
    (incoming), not the one addressed to the other side."""
    mine = {
        "incoming": Interest.to_profile_id == profile.id,
        "outgoing": and_(
            Interest.from_profile_id == profile.id, Interest.introduction_id.is_(None)
        ),
    }
    stmt = select(Interest).where(mine[direction] if direction else or_(*mine.values()))
    if state:
        stmt = stmt.where(Interest.state == state)
    rows, following = newest_first(session, stmt, Interest.id, cursor=cursor, limit=limit)
    return InterestList(
        items=interests_out(session, rows, perspective=profile.id), next_cursor=following
    )


def _party_filter(stmt, sector: str | None, country: str | None):  # noqa: ANN001, ANN202
    """Introductions where either side is of ``sector`` / ``country``."""
    if not (sector or country):
        return stmt
    low, high = aliased(Profile), aliased(Profile)
    stmt = stmt.join(low, low.id == Introduction.low_profile_id).join(
        high, high.id == Introduction.high_profile_id
    )
    if sector:
        bit = SECTOR_BIT[sector]
        stmt = stmt.where(
            or_(low.sector_mask.op("&")(bit) != 0, high.sector_mask.op("&")(bit) != 0)
        )
    if country:
        stmt = stmt.where(or_(low.country == country, high.country == country))
    return stmt


def list_introductions(
    session: Session,
    principal: Principal,
    *,
    state: str | None,
    sector: str | None,
    country: str | None,
    since: datetime | None,
    profile: Profile | None,
    cursor: str | None,
    limit: int,
    screened: str | None = None,
) -> IntroductionList:
    """Officials' view: introductions matching the filters with their history, newest first,
    and their counts by state. ``screened``: only pairs whose screening is ``clear`` or
    ``review_required``."""
    base = select(Introduction)
    if since:
        base = base.where(Introduction.created_at >= since)
    if profile is not None:
        base = base.where(
            or_(
                Introduction.low_profile_id == profile.id,
                Introduction.high_profile_id == profile.id,
            )
        )
    base = _party_filter(base, sector, country)
    if screened is not None:
        counts, rows, following = _screened_page(session, base, screened, state, cursor, limit)
    else:
        counts_q = base.with_only_columns(Introduction.state, func.count()).group_by(
            Introduction.state
        )
        counts = {s: n for s, n in session.execute(counts_q).tuples()}
        stmt = base.where(Introduction.state == state) if state else base
        rows, following = newest_first(session, stmt, Introduction.id, cursor=cursor, limit=limit)
    return IntroductionList(
        items=[introduction_out(session, i, principal) for i in rows],
        counts=counts,
        next_cursor=following,
    )


def _screened_page(
    session: Session,
    base,  # noqa: ANN001 - the filtered select of introductions
    screened: str,
    state: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[dict[str, int], list[Introduction], str | None]:
    """Counts by state, one page (newest first) of the introductions whose pair screening is
    ``screened``, and the next page's cursor. The status is computed from the stored
    declarations and flags (as the gate does, a flag counting as touching), not stored: every
    introduction the other filters leave is screened, with one lookup of its sides, and the page
    is cut here."""
    after = decode_cursor(cursor)  # a bad cursor is refused before any screening
    found = session.execute(
        base.with_only_columns(
            Introduction.id,
            Introduction.state,
            Introduction.low_profile_id,
            Introduction.high_profile_id,
        )
    ).all()
    people = screening.sides(session, {p for r in found for p in (r[2], r[3])})
    kept = [
        (i, st)
        for i, st, low, high in found
        if screening.pair_screening(people[low], people[high]).status == screened
    ]
    counts = dict(Counter(st for _, st in kept))
    page = sorted(
        (i for i, st in kept if (not state or st == state) and (not after or i < after)),
        reverse=True,
    )
    following = encode_cursor(page[limit - 1]) if len(page) > limit else None
    rows = session.scalars(
        select(Introduction)
        .where(Introduction.id.in_(page[:limit]))
        .order_by(Introduction.id.desc())
    )
    return counts, list(rows), following


def funnel(
    session: Session, *, sector: str | None, country: str | None, since: datetime | None
) -> Funnel:
    """From interest to agreement. Interests are counted by their sender's ``country`` and
    either side's ``sector``; introductions and their outcomes by either side."""
    sender, recipient = aliased(Profile), aliased(Profile)
    q = (
        select(Interest.state, Interest.decline_reason, func.count())
        .join(sender, sender.id == Interest.from_profile_id)
        .join(recipient, recipient.id == Interest.to_profile_id)
        .group_by(Interest.state, Interest.decline_reason)
    )
    if since:
        q = q.where(Interest.created_at >= since)
    if country:
        q = q.where(sender.country == country)
    if sector:
        bit = SECTOR_BIT[sector]
        q = q.where(
            or_(sender.sector_mask.op("&")(bit) != 0, recipient.sector_mask.op("&")(bit) != 0)
        )
    by_state: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for state, reason, n in session.execute(q).tuples():
        by_state[state] += n
        if state == "declined" and reason:
            reasons[reason] += n
    intro_q = select(Introduction.id).where(Introduction.state == "active")
    if since:
        intro_q = intro_q.where(Introduction.introduced_at >= since)
    intro_ids = select(_party_filter(intro_q, sector, country).subquery().c.id)
    n_intro = session.scalar(select(func.count()).select_from(intro_ids.subquery())) or 0
    reached = session.execute(
        select(Outcome.introduction_id, Outcome.stage)
        .where(Outcome.introduction_id.in_(intro_ids), Outcome.stage.in_(PROGRESS))
        .distinct()
    ).tuples()
    best: dict[int, int] = {}
    for intro_id, stage in reached:
        best[intro_id] = max(best.get(intro_id, 0), PROGRESS.index(stage) + 1)
    return Funnel(
        interests_sent=sum(by_state.values()),
        accepted=by_state["accepted"],
        declined=by_state["declined"],
        declined_by_reason=dict(reasons),
        withdrawn=by_state["withdrawn"],
        expired=by_state["expired"],
        pending=by_state["pending"],
        introductions=n_intro,
        meetings=sum(1 for v in best.values() if v >= 1),
        negotiations=sum(1 for v in best.values() if v >= 2),
        agreements=sum(1 for v in best.values() if v >= 3),
    )


class PairStates(NamedTuple):
    states: dict[int, str]  # partner id -> state as the asker sees it; absent means "none"
    hidden: set[int]  # partners a match list leaves out unless asked for
    introductions: dict[int, str]  # partner id -> public id of their active introduction


def pair_states(session: Session, profile_id: int, cooldown_days: float) -> PairStates:
    """How each partner stands with ``profile_id`` as it sees it, and which partners a match
    list hides: a decline either way within the cooldown, with nothing open or introduced
    since."""
    cutoff = utcnow() - timedelta(days=cooldown_days)
    rows = session.execute(
        select(
            Interest.from_profile_id,
            Interest.to_profile_id,
            Interest.state,
            Interest.answered_at,
            Interest.introduction_id,
        ).where(
            or_(Interest.from_profile_id == profile_id, Interest.to_profile_id == profile_id),
            or_(
                Interest.state == "pending",
                and_(Interest.state == "declined", Interest.answered_at >= cutoff),
                and_(Interest.state == "accepted", Interest.introduction_id.is_not(None)),
            ),
        )
    ).tuples()
    rank = {"introduced": 4, "received": 3, "sent": 2, "declined": 1}
    states: dict[int, str] = {}

    def note(partner: int, state: str) -> None:
        if rank[state] > rank.get(states.get(partner, ""), 0):
            states[partner] = state

    for src, dst, state, _answered, brokered in rows:
        partner = dst if src == profile_id else src
        if state == "declined":
            note(partner, "declined")
        elif brokered is not None:
            # A proposal: unanswered by this side is "received"; accepted, waiting: "sent".
            mine = dst == profile_id
            if mine:
                note(partner, "received" if state == "pending" else "sent")
        else:
            note(partner, "sent" if src == profile_id else "received")
    introduced = session.execute(
        select(
            Introduction.low_profile_id, Introduction.high_profile_id, Introduction.public_id
        ).where(
            Introduction.state == "active",
            or_(
                Introduction.low_profile_id == profile_id,
                Introduction.high_profile_id == profile_id,
            ),
        )
    ).tuples()
    intro_ids = {}
    for low, high, public_id in introduced:
        partner = high if low == profile_id else low
        note(partner, "introduced")
        intro_ids[partner] = public_id
    hidden = {p for p, s in states.items() if s == "declined"}
    return PairStates(states, hidden, intro_ids)


def export_pair_states(session: Session, cooldown_days: float) -> dict[tuple[int, int], str]:
    """State of every (IN id, KR id) pair in the workflow, for exports: ``introduced``,
    ``pending_from_in``, ``pending_from_kr`` or ``declined`` (within the cooldown)."""
    cutoff = utcnow() - timedelta(days=cooldown_days)
    src = aliased(Profile)
    rows = session.execute(
        select(Interest.from_profile_id, Interest.to_profile_id, Interest.state, src.country)
        .join(src, src.id == Interest.from_profile_id)
        .where(
            or_(
                Interest.state == "pending",
                and_(Interest.state == "declined", Interest.answered_at >= cutoff),
            )
        )
    ).tuples()
    rank = {"introduced": 3, "pending_from_in": 2, "pending_from_kr": 2, "declined": 1}
    out: dict[tuple[int, int], str] = {}

    def note(key: tuple[int, int], state: str) -> None:
        if rank[state] > rank.get(out.get(key, ""), 0):
            out[key] = state

    for a, b, state, country in rows:
        key = (a, b) if country == "IN" else (b, a)
        note(key, "declined" if state == "declined" else f"pending_from_{country.lower()}")
    low_p, high_p = aliased(Profile), aliased(Profile)
    for low, high, low_country in session.execute(
        select(Introduction.low_profile_id, Introduction.high_profile_id, low_p.country)
        .join(low_p, low_p.id == Introduction.low_profile_id)
        .join(high_p, high_p.id == Introduction.high_profile_id)
        .where(Introduction.state == "active")
    ).tuples():
        note((low, high) if low_country == "IN" else (high, low), "introduced")
    return out


# -- the screening queue -----------------------------------------------------------------------


def screening_queue(session: Session, *, state: str, limit: int) -> list[dict]:
    """Pairs with an interest or an introduction whose screening requires review, newest
    interest first; ``state``: ``pending`` (no decision yet), ``decided`` or ``all``."""

    def pair(a: int, b: int) -> tuple[int, int]:
        return (a, b) if a < b else (b, a)

    last: dict[tuple[int, int], datetime | None] = {}
    rows = session.execute(
        select(
            Interest.from_profile_id, Interest.to_profile_id, func.max(Interest.created_at)
        ).group_by(Interest.from_profile_id, Interest.to_profile_id)
    )
    for f, t, at in rows:
        key = pair(f, t)
        if last.get(key) is None or at > last[key]:
            last[key] = at
    intros = {
        (lo, hi): pub
        for lo, hi, pub in session.execute(
            select(
                Introduction.low_profile_id, Introduction.high_profile_id, Introduction.public_id
            )
        )
    }
    for key in intros:
        last.setdefault(key, None)
    people = screening.sides(session, {i for k in last for i in k})
    decided = screening.latest_decisions(session, last)
    out = []
    for key, at in last.items():
        if key[0] not in people or key[1] not in people:
            continue
        a, b = people[key[0]], people[key[1]]
        s = screening.pair_screening(a, b)
        d = decided.get(key)
        if (
            s.status != "review_required"
            or (state == "pending" and d)
            or (state == "decided" and not d)
        ):
            continue
        first, second = (a, b) if a.country == "IN" else (b, a)
        public = {a.id: a.public_id, b.id: b.public_id}
        out.append(
            {
                "profiles": [first.public_id, second.public_id],
                "last_interest_at": at,
                "introduction_id": intros.get(key),
                "screening": s,
                "decision": screening.decision_out(d, public) if d else None,
            }
        )
    out.sort(
        key=lambda q: (q["last_interest_at"] is not None, q["last_interest_at"] or 0), reverse=True
    )
    return out[:limit]
