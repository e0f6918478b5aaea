"""Screening: flags per profile, the status of a pair, officials' decisions and their queue.

Plain functions taking a session. Screening is an aid for officials, not legal advice: it
never blocks a registration, and only an official's decision opens a gated introduction.

A pair is ``review_required`` when a category that either side declares or is flagged for
*touches* the pair: the other side works in one of the category's sectors, or the pair's
evidence quotes the sentence that raised the flag. Where no evidence is at hand (the queue and
the introduction gate) a flag counts as touching, so the gate errs towards review.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.auth.service import Principal
from service.controls import Catalogue, catalogue
from service.db import transaction, utcnow
from service.errors import InvalidInput
from service.profiles import changes as change_log
from service.profiles import service as profiles
from service.profiles.models import Profile, ProfileEmbedding
from service.profiles.repository import sentence_data
from service.screening.engine import Screener
from service.screening.models import ScreeningDecision, ScreeningResult
from service.screening.schemas import DecisionCreate, DecisionOut, PairScreening

log = logging.getLogger(__name__)


# -- flags per profile -------------------------------------------------------------------------


def screen_profiles(session: Session, screener: Screener, ids: Sequence[int]) -> int:
    """Recompute the flags of ``ids`` from their stored capability sentences (no encoding);
    returns how many were screened. Flushes only."""
    data = sentence_data(session, ids, fields=("capabilities",))
    hashes = dict(
        session.execute(
            select(ProfileEmbedding.profile_id, ProfileEmbedding.text_hash).where(
                ProfileEmbedding.profile_id.in_(list(ids)),
                ProfileEmbedding.field == "capabilities",
            )
        ).all()
    )
    existing = {
        r.profile_id: r
        for r in session.scalars(
            select(ScreeningResult).where(ScreeningResult.profile_id.in_(list(ids)))
        )
    }
    done = 0
    for pid in ids:
        if (pid, "capabilities") not in data:
            continue  # deleted meanwhile
        sents, vecs = data[(pid, "capabilities")]
        flags = [f.as_dict() for f in screener.flags(sents, vecs)]
        row = existing.get(pid) or ScreeningResult(profile_id=pid)
        row.vocabulary_version, row.text_hash = screener.version, hashes[pid]
        row.flags, row.screened_at = flags, utcnow()
        session.add(row)
        done += 1
    session.flush()
    return done


def stale_ids(session: Session, screener: Screener, everything: bool = False) -> list[int]:
    """Profiles never screened, screened with another vocabulary or model, or whose text
    changed since (all of them with ``everything``)."""
    e, r = ProfileEmbedding, ScreeningResult
    stmt = (
        select(e.profile_id)
        .outerjoin(r, r.profile_id == e.profile_id)
        .where(e.field == "capabilities")
    )
    if not everything:
        stmt = stmt.where(
            r.profile_id.is_(None)
            | (r.vocabulary_version != screener.version)
            | (r.text_hash != e.text_hash)
        )
    return list(session.scalars(stmt.order_by(e.profile_id)))


def screen_stale(
    sessions: sessionmaker[Session],
    screener: Screener,
    everything: bool = False,
    batch: int = 500,
    progress: bool = False,
) -> int:
    """``matchmaker screen``: screen what is stale (or everything), in batches, each its own
    transaction."""
    from tqdm import tqdm

    with sessions() as session:
        ids = stale_ids(session, screener, everything)
    done = 0
    with tqdm(total=len(ids), unit="profile", disable=not progress) as bar:
        for start in range(0, len(ids), batch):
            with transaction(sessions) as session:
                done += screen_profiles(session, screener, ids[start : start + batch])
            bar.update(len(ids[start : start + batch]))
    return done


def follow(sessions: sessionmaker[Session], screener: Screener) -> None:
    """Screen each profile written through ``sessions`` right after its commit (the change
    log's after-commit hook), in its own transaction: registration never waits on, or fails
    for, screening. Missed ones (a crash, another process) are caught by ``matchmaker screen``."""
    state = {"seq": None}
    lock = threading.Lock()

    def screen_new() -> None:
        with lock, transaction(sessions) as session:
            if state["seq"] is None:
                state["seq"] = 0
            new = change_log.after(session.connection(), state["seq"])
            if not new:
                return
            state["seq"] = new[-1].seq
            stale = set(stale_ids(session, screener)) & {c.profile_id for c in new}
            if stale:
                screen_profiles(session, screener, sorted(stale))

    with sessions() as session:
        state["seq"] = change_log.last_seq(session)
    change_log.after_commit(sessions, screen_new)


# -- the status of a pair ----------------------------------------------------------------------


@dataclass
class Side:
    id: int
    public_id: str
    country: str
    sectors: list[str]
    declared: list[str]
    flags: list[dict] = field(default_factory=list)


def sides(session: Session, ids: Iterable[int]) -> dict[int, Side]:
    """What pair screening needs of each profile: one indexed query (profiles by primary key,
    their stored flags beside)."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    p, r = Profile.__table__.c, ScreeningResult.__table__.c
    rows = session.connection().execute(
        select(p.id, p.public_id, p.country, p.sectors, p.controlled_technologies, r.flags)
        .select_from(Profile.__table__.outerjoin(ScreeningResult.__table__))
        .where(p.id.in_(wanted))
    )
    return {
        i: Side(i, pub, c, list(s or []), list(d or []), list(f or []))
        for i, pub, c, s, d, f in rows
    }


def pair_screening(
    a: Side,
    b: Side,
    evidence: set[str] | None = None,
    vocabulary: Catalogue | None = None,
) -> PairScreening:
    """The pair's status, the categories under review and why. ``evidence``: the sentences the
    pair's evidence quotes (None where it is not at hand: a flag then counts as touching)."""
    vocab = vocabulary or catalogue()
    cats: set[str] = set()
    reasons: list[str] = []
    for x, y in ((a, b), (b, a)):
        held: dict[str, str | None] = {c: None for c in vocab.closure(x.declared)}
        for f in x.flags:
            for c in vocab.closure([f["code"]]):
                held.setdefault(c, f["sentence"])
                held[c] = held[c] or f["sentence"]
        for code, sentence in sorted(held.items()):
            cat = vocab.categories.get(code)
            if cat is None:
                continue
            shared = sorted(set(cat.sectors) & set(y.sectors))
            quoted = sentence is not None and (evidence is None or sentence in evidence)
            if not (shared or quoted):
                continue
            cats.add(code)
            how = f"declares {code}" if code in x.declared else f"is flagged for {code}"
            why = f"{x.country} side {how} ({cat.name})"
            if sentence is not None and code not in x.declared:
                why += f' on "{sentence}"'
            if shared:
                why += f"; the {y.country} side works in {', '.join(shared)}"
            reasons.append(why)
    status = "review_required" if cats else "clear"
    return PairScreening(status=status, categories=sorted(cats), reasons=reasons)


def for_viewer(s: PairScreening, principal: Principal | None) -> PairScreening:
    """Officials and admins see the categories and reasons; everyone else the status alone."""
    if principal is not None and principal.is_staff:
        return s
    return PairScreening(status=s.status, categories=[], reasons=[])


# -- decisions and the gate --------------------------------------------------------------------


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def latest_decisions(
    session: Session, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], ScreeningDecision]:
    wanted = {_pair(*p) for p in pairs}
    if not wanted:
        return {}
    lows = {p[0] for p in wanted}
    rows = session.scalars(
        select(ScreeningDecision)
        .where(ScreeningDecision.low_profile_id.in_(lows))
        .order_by(ScreeningDecision.decided_at, ScreeningDecision.id)
    )
    out = {}
    for d in rows:
        key = (d.low_profile_id, d.high_profile_id)
        if key in wanted:
            out[key] = d  # oldest first: the latest wins
    return out


def gate(session: Session, a: int, b: int) -> tuple[str, PairScreening]:
    """``not_required``, ``pending_review``, ``cleared`` or ``refused`` for an introduction of
    ``a`` and ``b``, with the pair's screening."""
    found = sides(session, (a, b))
    s = pair_screening(found[a], found[b])
    if s.status == "clear":
        return "not_required", s
    d = latest_decisions(session, [(a, b)]).get(_pair(a, b))
    return (d.decision if d else "pending_review"), s


def decision_out(d: ScreeningDecision, public: dict[int, str]) -> DecisionOut:
    return DecisionOut(
        id=d.public_id,
        profiles=[public[d.low_profile_id], public[d.high_profile_id]],
        decision=d.decision,
        reason=d.reason,
        decided_by=d.key_id,
        decided_at=d.decided_at,
        vocabulary_version=d.vocabulary_version,
        categories=list(d.categories),
    )


def decide(
    session: Session, principal: Principal, body: DecisionCreate, version: str
) -> DecisionOut:
    """An official records a decision on a pair (cleared, or refused with a reason). Every
    decision is kept: who (the key), when, why, and the vocabulary version and categories it
    was made on."""
    a, b = (profiles.get(session, pid) for pid in body.profiles)
    if a.country == b.country:
        raise InvalidInput("a decision is on an Indian and a Korean profile", loc=["body"])
    _, s = gate(session, a.id, b.id)
    low, high = _pair(a.id, b.id)
    d = ScreeningDecision(
        public_id="sd_" + secrets.token_hex(8),
        low_profile_id=low,
        high_profile_id=high,
        decision=body.decision,
        reason=body.reason,
        key_id=principal.key_id,
        vocabulary_version=version,
        categories=s.categories,
        decided_at=utcnow(),
    )
    session.add(d)
    session.flush()
    return decision_out(d, {a.id: a.public_id, b.id: b.public_id})
