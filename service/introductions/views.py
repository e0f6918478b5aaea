"""How interests, introductions and outcomes are shown: to each side, to officials, in events.

Contact details appear only in an active introduction, to its two sides and to staff; every
time a side is shown the other's, the showing is recorded (``ContactReveal``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth.service import Principal
from service.db import utcnow
from service.introductions.models import ContactReveal, Interest, Introduction, Outcome
from service.introductions.schemas import (
    Contact,
    InterestOut,
    IntroductionOut,
    OutcomeOut,
    PartyOut,
)
from service.profiles.models import Profile
from service.profiles.schemas import ProfileSummary
from service.screening import service as screening
from service.webhooks import outbox


def profiles_by_id(session: Session, ids: Iterable[int]) -> dict[int, Profile]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(wanted)))}


def interest_out(
    i: Interest, people: dict[int, Profile], perspective: int | None = None
) -> InterestOut:
    """``perspective``: the profile whose list this is (sets ``direction``)."""
    sender, recipient = people[i.from_profile_id], people[i.to_profile_id]
    brokered = i.introduction_id is not None
    direction = None
    if perspective is not None:
        direction = "outgoing" if perspective == i.from_profile_id else "incoming"
    return InterestOut(
        id=i.public_id,
        state=i.state,  # type: ignore[arg-type]
        direction=direction,
        # A brokered interest comes from the official: the counterpart is who it proposes.
        sender=None if brokered else ProfileSummary.of(sender),  # type: ignore[arg-type]
        recipient=ProfileSummary.of(recipient),  # type: ignore[arg-type]
        counterpart=ProfileSummary.of(sender),  # type: ignore[arg-type]
        brokered=brokered,
        introduction_id=None,
        message=i.message,
        partnership_type=i.partnership_type,
        decline_reason=i.decline_reason,  # type: ignore[arg-type]
        decline_note=i.decline_note,
        created_at=i.created_at,
        expires_at=i.expires_at,
        answered_at=i.answered_at,
    )


def _intro_ids(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(Introduction.id, Introduction.public_id).where(Introduction.id.in_(wanted))
    )
    return {i: pid for i, pid in rows.tuples()}


def interests_out(
    session: Session, interests: list[Interest], perspective: int | None = None
) -> list[InterestOut]:
    people = profiles_by_id(
        session, [p for i in interests for p in (i.from_profile_id, i.to_profile_id)]
    )
    intro_ids = _intro_ids(session, (i.introduction_id for i in interests))
    out = []
    for i in interests:
        o = interest_out(i, people, perspective)
        o.introduction_id = intro_ids.get(i.introduction_id) if i.introduction_id else None
        out.append(o)
    return out


def outcome_out(o: Outcome, public_ids: dict[int, str]) -> OutcomeOut:
    return OutcomeOut(
        stage=o.stage,  # type: ignore[arg-type]
        date=o.happened_on,
        note=o.note,
        reported_by=public_ids[o.profile_id],
        reported_at=o.reported_at,
    )


def introduction_out(
    session: Session, intro: Introduction, principal: Principal | None
) -> IntroductionOut:
    """The whole introduction; contacts for those entitled (``principal``), each showing to a
    side recorded. ``principal`` None: no contacts (events, which carry none)."""
    sides = (intro.low_profile_id, intro.high_profile_id)
    people = profiles_by_id(session, sides)
    public_ids = {pid: people[pid].public_id for pid in sides}
    interests = list(
        session.scalars(
            select(Interest).where(_interests_of(intro)).order_by(Interest.created_at, Interest.id)
        )
    )
    outcomes = list(
        session.scalars(
            select(Outcome)
            .where(Outcome.introduction_id == intro.id)
            .order_by(Outcome.reported_at, Outcome.id)
        )
    )
    latest = {o.profile_id: o for o in outcomes}  # oldest first: the last one per side wins
    viewer = next((p for p in sides if principal is not None and principal.owns(p)), None)
    staff = principal is not None and principal.is_staff
    # The screening gate: a pair whose screening requires review shows its sides no contacts
    # until an official clears it (staff see them as always).
    gate, _ = screening.gate(session, intro.low_profile_id, intro.high_profile_id)
    show = intro.state == "active" and (
        staff or (viewer is not None and gate in ("not_required", "cleared"))
    )
    parties = []
    for pid in sides:
        p = people[pid]
        accepted = intro.state == "active" or any(
            i.to_profile_id == pid and i.state == "accepted" for i in interests
        )
        reveal = show and pid != viewer
        if reveal:
            session.add(
                ContactReveal(
                    introduction_id=intro.id,
                    viewer_profile_id=viewer,
                    revealed_profile_id=pid,
                    key_id=principal.key_id if principal else None,
                    revealed_at=utcnow(),
                )
            )
        parties.append(
            PartyOut(
                profile=ProfileSummary.of(p),  # type: ignore[arg-type]
                contact=Contact(contact_email=p.contact_email, website=p.website)
                if reveal or (show and pid == viewer)
                else None,
                accepted=accepted,
                latest_outcome=outcome_out(latest[pid], public_ids) if pid in latest else None,
            )
        )
    session.flush()
    return IntroductionOut(
        id=intro.public_id,
        state=intro.state,  # type: ignore[arg-type]
        brokered=intro.broker_key_id is not None,
        message=intro.message,
        parties=parties,
        created_at=intro.created_at,
        introduced_at=intro.introduced_at,
        interests=interests_out(session, interests),
        outcomes=[outcome_out(o, public_ids) for o in outcomes],
        screening=gate,
    )


def _interests_of(intro: Introduction):  # noqa: ANN202 - a SQL condition
    """The interests behind an introduction: brokered ones by link, direct ones by pair."""
    low, high = intro.low_profile_id, intro.high_profile_id
    pair = ((Interest.from_profile_id == low) & (Interest.to_profile_id == high)) | (
        (Interest.from_profile_id == high) & (Interest.to_profile_id == low)
    )
    return (Interest.introduction_id == intro.id) | (
        pair & Interest.introduction_id.is_(None) & (Interest.state == "accepted")
    )


# -- event payloads (no contact details: the receiver fetches the introduction) --------------


def interest_event(session: Session, interest: Interest) -> dict:
    return interests_out(session, [interest])[0].model_dump(mode="json")


def introduction_event(session: Session, intro: Introduction) -> dict:
    people = profiles_by_id(session, (intro.low_profile_id, intro.high_profile_id))
    return {
        "id": intro.public_id,
        "state": intro.state,
        "brokered": intro.broker_key_id is not None,
        "profiles": [ProfileSummary.of(p) for p in people.values()],  # type: ignore[arg-type]
        "introduced_at": outbox.iso(intro.introduced_at) if intro.introduced_at else None,
    }


def outcome_view(session: Session, outcome: Outcome) -> OutcomeOut:
    people = profiles_by_id(session, [outcome.profile_id])
    return outcome_out(outcome, {pid: p.public_id for pid, p in people.items()})


def outcome_event(session: Session, outcome: Outcome) -> dict:
    return outcome_view(session, outcome).model_dump(mode="json")
