"""The workflow after a match: interests, answers, brokered introductions, outcomes, expiry.

Every state change is one conditional UPDATE (``... WHERE state = 'pending'``): of two racing
requests (two accepts, an accept and a withdrawal, an answer and the expiry sweep) exactly one
changes the row, and the other is told 409. Each change writes its webhook events
(``webhooks.outbox``) in the same transaction, so an acknowledged change always has its events.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.auth.service import Principal, require_key
from service.config import IntroductionSettings
from service.core.text import quote
from service.db import utcnow
from service.errors import Conflict, Forbidden, InvalidInput, LimitReached, NotFound
from service.introductions import views
from service.introductions.models import Interest, Introduction, Outcome
from service.introductions.schemas import (
    DeclineRequest,
    InterestCreate,
    IntroductionCreate,
    OutcomeCreate,
)
from service.profiles import service as profiles
from service.profiles.models import Profile
from service.webhooks import outbox


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _acts_for(principal: Principal, profile: Profile) -> None:
    """Only a profile's owner (or an admin) acts for it; officials act only as brokers."""
    require_key(principal)
    if principal.role == "official":
        raise Forbidden("officials act as brokers only: propose with POST /v1/introductions")
    if not (principal.role == "admin" or principal.owns(profile.id)):
        raise Forbidden("only the profile's owner may act for it")


def lock_pair(session: Session, a: int, b: int) -> None:
    """Serialise workflow changes of one pair until commit.

    Two firms sending each other an interest at the same moment must end mutual, not as two
    pending interests: the second waits for the first and then sees it. PostgreSQL: an
    advisory lock on the pair. SQLite serialises writers, but a transaction only joins the
    queue at its first write, so that is what this is.
    """
    low, high = sorted((a, b))
    if session.get_bind().dialect.name == "postgresql":
        key = (low * 1_000_003 + high) % (2**62)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    else:
        session.execute(text("UPDATE profiles SET id = id WHERE id = :id"), {"id": low})


def _introduction_of_pair(session: Session, a: int, b: int) -> Introduction | None:
    low, high = sorted((a, b))
    return session.scalar(
        select(Introduction).where(
            Introduction.low_profile_id == low, Introduction.high_profile_id == high
        )
    )


def emit_interest(session: Session, to: int, kind: str, interest: Interest) -> None:
    outbox.emit(session, to, kind, {"interest": views.interest_event(session, interest)})


def _emit_introduced(session: Session, intro: Introduction) -> None:
    data = {"introduction": views.introduction_event(session, intro)}
    for pid in (intro.low_profile_id, intro.high_profile_id):
        outbox.emit(session, pid, "introduction.created", data)


def _introduce(session: Session, a: int, b: int, now: datetime) -> Introduction:
    """The pair's introduction, made active now (created, or re-opened after a decline)."""
    intro = _introduction_of_pair(session, a, b)
    if intro is None:
        low, high = sorted((a, b))
        intro = Introduction(
            public_id=_new_id("ix"), low_profile_id=low, high_profile_id=high, state="active"
        )
        session.add(intro)
    intro.state, intro.introduced_at = "active", now
    session.flush()
    _emit_introduced(session, intro)
    return intro


# -- interests -------------------------------------------------------------------------------


def send_interest(
    session: Session,
    settings: IntroductionSettings,
    principal: Principal,
    sender_public_id: str,
    body: InterestCreate,
) -> Interest:
    """A's owner sends B an interest; mutual at once if B already has one open towards A."""
    sender = profiles.get(session, sender_public_id)
    _acts_for(principal, sender)
    recipient = profiles.get(session, body.to)
    if recipient.id == sender.id:
        raise InvalidInput("an interest cannot be sent to oneself", loc=["body", "to"])
    if recipient.country == sender.country:
        raise InvalidInput(
            "interests go to a firm of the other country (IN to KR, KR to IN)", loc=["body", "to"]
        )
    lock_pair(session, sender.id, recipient.id)
    now = utcnow()
    intro = _introduction_of_pair(session, sender.id, recipient.id)
    if intro is not None and intro.state == "active":
        raise Conflict("these two are introduced already", introduction_id=intro.public_id)
    open_same = session.scalar(
        select(Interest.public_id).where(
            Interest.from_profile_id == sender.id,
            Interest.to_profile_id == recipient.id,
            Interest.state == "pending",
            Interest.introduction_id.is_(None),
        )
    )
    if open_same:
        raise Conflict("an interest to this profile is already open", interest_id=open_same)
    cooldown = now - timedelta(days=settings.decline_cooldown_days)
    declined = session.scalar(
        select(Interest.public_id).where(
            Interest.from_profile_id == sender.id,
            Interest.to_profile_id == recipient.id,
            Interest.state == "declined",
            Interest.answered_at >= cooldown,
        )
    )
    if declined:
        raise Conflict(
            f"this firm declined an interest from this profile within the last "
            f"{settings.decline_cooldown_days:g} days",
            interest_id=declined,
        )
    open_count = session.scalar(
        select(func.count())
        .select_from(Interest)
        .where(
            Interest.from_profile_id == sender.id,
            Interest.state == "pending",
            Interest.introduction_id.is_(None),
        )
    )
    if (open_count or 0) >= settings.max_open_interests:
        raise LimitReached(
            f"this profile has {open_count} open interests, the most allowed; wait for answers "
            "or withdraw one",
            limit=settings.max_open_interests,
        )
    interest = _pending(
        sender,
        recipient,
        settings,
        now,
        message=body.message,
        partnership_type=body.partnership_type,
    )
    session.add(interest)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # the unique open-pair index: a concurrent twin won
        raise Conflict("an interest to this profile is already open") from exc
    # Mutual: B already waits for an answer from A. Accept B's, and A's is accepted with it.
    reverse = session.scalar(
        select(Interest).where(
            Interest.from_profile_id == recipient.id,
            Interest.to_profile_id == sender.id,
            Interest.state == "pending",
            Interest.introduction_id.is_(None),
            Interest.expires_at > now,
        )
    )
    if reverse is not None and _transition(session, reverse, "accepted", now):
        interest.state, interest.answered_at = "accepted", now
        session.flush()
        emit_interest(session, recipient.id, "interest.accepted", reverse)
        _introduce(session, sender.id, recipient.id, now)
    else:
        emit_interest(session, recipient.id, "interest.received", interest)
    return interest


def _pending(
    sender: Profile,
    recipient: Profile,
    settings: IntroductionSettings,
    now: datetime,
    **values: object,
) -> Interest:
    """A new interest waiting for ``recipient``'s answer until the configured time passes."""
    return Interest(
        public_id=_new_id("in"),
        from_profile_id=sender.id,
        to_profile_id=recipient.id,
        state="pending",
        created_at=now,
        expires_at=now + timedelta(days=settings.interest_ttl_days),
        **values,
    )


def _transition(session: Session, interest: Interest, new: str, now: datetime, **values) -> bool:
    """Move a pending, unexpired interest to ``new``; False when another change came first."""
    done = session.execute(
        update(Interest)
        .where(Interest.id == interest.id, Interest.state == "pending", Interest.expires_at > now)
        .values(state=new, answered_at=now, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done:
        session.refresh(interest)
    return bool(done)


# Ids this service issues; any other string is unknown without asking the database.
INTEREST_ID = re.compile(r"in_[0-9a-f]{16}")
INTRODUCTION_ID = re.compile(r"ix_[0-9a-f]{16}")


def get_interest(session: Session, public_id: str) -> Interest:
    interest = None
    if INTEREST_ID.fullmatch(public_id):
        interest = session.scalar(select(Interest).where(Interest.public_id == public_id))
    if interest is None:
        raise NotFound(f"no interest with id {quote(public_id)}")
    return interest


def _not_open(interest: Interest, now: datetime) -> Conflict:
    state = "expired" if interest.state == "pending" and interest.expires_at <= now else None
    return Conflict(
        f"this interest is {state or interest.state}, no longer open", state=state or interest.state
    )


def answer(
    session: Session,
    principal: Principal,
    public_id: str,
    action: str,
    decline: DeclineRequest | None = None,
) -> Interest:
    """Accept, decline or withdraw an interest (``action``)."""
    require_key(principal)
    interest = get_interest(session, public_id)
    now = utcnow()
    if action == "withdraw":
        allowed = principal.role == "admin" or (
            principal.owns(interest.from_profile_id)
            if interest.introduction_id is None
            else principal.role == "official" and principal.key_id == interest.broker_key_id
        )
        if not allowed:
            raise Forbidden("only the sender (or, for a brokered one, its broker) may withdraw it")
    elif not (principal.role == "admin" or principal.owns(interest.to_profile_id)):
        raise Forbidden("only the recipient may answer an interest")
    intro = None
    if interest.introduction_id is not None:
        # The proposal's row first: two sides accepting at once take turns here (PostgreSQL;
        # SQLite serialises the writes anyway) and the second sees the first's acceptance.
        intro = session.scalar(
            select(Introduction)
            .where(Introduction.id == interest.introduction_id)
            .with_for_update()
        )
    new = {"accept": "accepted", "decline": "declined", "withdraw": "withdrawn"}[action]
    values = {}
    if decline is not None:
        values = {"decline_reason": decline.reason, "decline_note": decline.note}
    if not _transition(session, interest, new, now, **values):
        session.refresh(interest)
        raise _not_open(interest, now)
    if intro is None:
        if new == "accepted":
            emit_interest(session, interest.from_profile_id, "interest.accepted", interest)
            _introduce(session, interest.from_profile_id, interest.to_profile_id, now)
        elif new == "declined":
            emit_interest(session, interest.from_profile_id, "interest.declined", interest)
        return interest
    sibling = session.scalar(
        select(Interest).where(Interest.introduction_id == intro.id, Interest.id != interest.id)
    )
    if new == "accepted":
        if sibling is not None and sibling.state == "accepted":
            _introduce(session, interest.from_profile_id, interest.to_profile_id, now)
    else:  # a side declined, or the broker withdrew: the proposal ends for both
        intro.state = "declined"
        if sibling is not None:
            _transition(session, sibling, "withdrawn", now)
        session.flush()
    return interest


# -- brokered introductions ------------------------------------------------------------------


def broker(
    session: Session,
    settings: IntroductionSettings,
    principal: Principal,
    body: IntroductionCreate,
) -> Introduction:
    """An official proposes an introduction: each side receives it as an interest; contacts are
    revealed only when both accept."""
    a, b = (profiles.get(session, pid) for pid in body.profiles)
    if a.country == b.country:
        raise InvalidInput("an introduction pairs an Indian and a Korean profile", loc=["body"])
    lock_pair(session, a.id, b.id)
    intro = _introduction_of_pair(session, a.id, b.id)
    if intro is not None and intro.state in ("active", "proposed"):
        raise Conflict(
            f"these two have an introduction {intro.state} already", introduction_id=intro.public_id
        )
    now = utcnow()
    if intro is None:
        low, high = sorted((a.id, b.id))
        intro = Introduction(public_id=_new_id("ix"), low_profile_id=low, high_profile_id=high)
        session.add(intro)
    intro.state, intro.broker_key_id, intro.message, intro.created_at = (
        "proposed",
        principal.key_id,
        body.message,
        now,
    )
    intro.introduced_at = None
    session.flush()
    for sender, recipient in ((b, a), (a, b)):
        interest = _pending(
            sender,
            recipient,
            settings,
            now,
            message=body.message,
            introduction_id=intro.id,
            broker_key_id=principal.key_id,
        )
        session.add(interest)
        session.flush()
        emit_interest(session, recipient.id, "interest.received", interest)
    return intro


def get_introduction(session: Session, public_id: str) -> Introduction:
    intro = None
    if INTRODUCTION_ID.fullmatch(public_id):
        intro = session.scalar(select(Introduction).where(Introduction.public_id == public_id))
    if intro is None:
        raise NotFound(f"no introduction with id {quote(public_id)}")
    return intro


def report_outcome(
    session: Session, principal: Principal, public_id: str, body: OutcomeCreate
) -> Outcome:
    """Either side of an active introduction reports a stage; every report is kept."""
    require_key(principal)
    intro = get_introduction(session, public_id)
    sides = (intro.low_profile_id, intro.high_profile_id)
    side = next((p for p in sides if principal.owns(p)), None)
    if side is None:
        raise Forbidden("only the two sides of an introduction report its outcome")
    if intro.state != "active":
        raise Conflict(f"this introduction is {intro.state}; outcomes follow an introduction")
    if body.date > date.today() + timedelta(days=1):  # a day's grace for time zones
        raise InvalidInput("the date is in the future", loc=["body", "date"])
    outcome = Outcome(
        introduction_id=intro.id,
        profile_id=side,
        stage=body.stage,
        happened_on=body.date,
        note=body.note,
        reported_at=utcnow(),
    )
    session.add(outcome)
    session.flush()
    other = sides[1] if side == sides[0] else sides[0]
    data = {"introduction": views.introduction_event(session, intro)}
    data["outcome"] = views.outcome_event(session, outcome)
    outbox.emit(session, other, "outcome.reported", data)
    return outcome
