"""Profile registration, update and deletion: plain functions taking a session.

What is embedded: each profile's ``capabilities`` and ``needs`` texts, exactly as written, one
vector per sentence plus their pooled vector. Sector names and tags are deliberately *not* folded
in: sector fit is scored separately and exactly (``service.matching.scoring.sector_fit``), and
mixing sector words into the texts would make every firm of a sector look alike, blurring the
complementarity signal the texts carry.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from embeddings.encoder import Encoder
from embeddings.text import own_name_masker, text_hash
from service.auth.service import Principal, create_key, replace_owner_key
from service.core.pagination import decode_cursor, encode_cursor
from service.core.text import name_key, nfc, quote
from service.errors import Conflict, InvalidInput, MatchmakerError, NotFound, TooLarge
from service.profiles import changes as change_log
from service.profiles import repository as repo
from service.profiles.models import TEXT_FIELDS, Profile
from service.profiles.schemas import ProfileCreate, ProfileList, ProfileOut, ProfileUpdate
from service.sectors import mask_of

log = logging.getLogger(__name__)

# Every public id this service has issued; anything else is an unknown id (404) found without
# asking the database, which cannot even take some of what arrives in a path (NUL on PostgreSQL).
PUBLIC_ID = re.compile(r"pr_[0-9a-f]{16}")


def new_public_id() -> str:
    return "pr_" + secrets.token_hex(8)


@dataclass
class Registered:
    profile: Profile
    api_key: str


def register_many(
    session: Session, encoder: Encoder, items: list[ProfileCreate], *, background: bool = False
) -> list[Registered | MatchmakerError]:
    """Register validated profiles; each item succeeds or fails on its own.

    All texts are encoded in one batched encoder pass (``background``: in the calling thread,
    not the encoder pool single registrations share); each insert runs in a savepoint so a
    failing item leaves nothing behind while the others are kept.
    """
    results: list[Registered | MatchmakerError | None] = [None] * len(items)
    keys = [(it.country, name_key(it.name)) for it in items]
    taken = repo.existing_name_keys(session, keys)
    seen: dict[tuple[str, str], int] = {}
    todo: list[int] = []
    for i, key in enumerate(keys):
        if key in taken:
            results[i] = Conflict(
                "an organisation with this name is already registered in this country",
                existing_id=taken[key],
            )
        elif key in seen:
            results[i] = Conflict(
                f"duplicate of item {seen[key]} in the same request", duplicate_of=seen[key]
            )
        else:
            seen[key] = i
            todo.append(i)

    texts = [t for i in todo for t in (items[i].capabilities, items[i].needs)]
    maskers = [own_name_masker(items[i].name, items[i].org_type) for i in todo]
    docs = encoder.embed_documents(
        texts, rewrite=[m for m in maskers for _ in range(2)], background=background
    )
    created: list[int] = []
    for n, i in enumerate(todo):
        item = items[i]
        try:
            with session.begin_nested():
                profile = _new_profile(item)
                session.add(profile)
                session.flush()
                session.add_all(
                    repo.embedding_row(profile.id, field, encoder.model_name, text, doc)
                    for field, text, doc in (
                        ("capabilities", item.capabilities, docs[2 * n]),
                        ("needs", item.needs, docs[2 * n + 1]),
                    )
                )
                key = create_key(session, "owner", profile_id=profile.id)
            results[i] = Registered(profile, key)
            created.append(profile.id)
        except IntegrityError:
            # Lost a race with a concurrent registration of the same name.
            results[i] = Conflict("an organisation with this name is already registered")
    change_log.record(session, created, "upsert")
    return results  # type: ignore[return-value]


def _new_profile(item: ProfileCreate) -> Profile:
    return Profile(
        public_id=new_public_id(),
        name=item.name,
        name_key=name_key(item.name),
        country=item.country,
        org_type=item.org_type,
        sectors=list(item.sectors),
        sector_mask=mask_of(item.sectors),
        capabilities=item.capabilities,
        needs=item.needs,
        partnership_types=list(item.partnership_types),
        employees=item.employees,
        city=item.city,
        website=str(item.website) if item.website else None,
        contact_email=str(item.contact_email) if item.contact_email else None,
        tags=list(item.tags),
        controlled_technologies=list(item.controlled_technologies),
    )


def register(session: Session, encoder: Encoder, item: ProfileCreate) -> Registered:
    result = register_many(session, encoder, [item])[0]
    if isinstance(result, MatchmakerError):
        raise result
    return result


def check_bulk_size(raw_items: list[dict[str, Any]], max_chars: int) -> None:
    """413 naming the limit when the texts of a bulk request are longer in all than
    ``max_chars`` (their encoding is the request's cost)."""
    total = sum(
        len(v) for raw in raw_items for f in TEXT_FIELDS if isinstance(v := raw.get(f), str)
    )
    if total > max_chars:
        raise TooLarge(
            f"the capabilities and needs texts of this bulk request hold {total} characters in "
            f"all, more than {max_chars} (MATCHMAKER_BULK_MAX_TEXT_CHARS); send fewer profiles "
            "per request",
            limit=max_chars,
        )


def validate_bulk_items(raw_items: list[dict[str, Any]]) -> list[ProfileCreate | InvalidInput]:
    out: list[ProfileCreate | InvalidInput] = []
    for raw in raw_items:
        try:
            out.append(ProfileCreate.model_validate(raw))
        except ValidationError as exc:
            errors = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            ]
            out.append(InvalidInput("invalid profile", errors=errors))
    return out


def get(session: Session, public_id: str) -> Profile:
    profile = repo.by_public_id(session, public_id) if PUBLIC_ID.fullmatch(public_id) else None
    if profile is None:
        raise NotFound(f"no profile with id {quote(public_id)}")
    return profile


def by_public_ids(session: Session, public_ids: Iterable[str]) -> dict[str, Profile]:
    """The profiles of these public ids that exist (one indexed query)."""
    return repo.by_public_ids(session, [p for p in set(public_ids) if PUBLIC_ID.fullmatch(p)])


def get_by_id(session: Session, profile_id: int) -> Profile:
    """A profile by its row id (as a key or a console session names it)."""
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise NotFound("this profile no longer exists")
    return profile


def update(session: Session, encoder: Encoder, profile: Profile, patch: ProfileUpdate) -> Profile:
    """Apply a partial update; re-encode only texts whose content changed."""
    changes = patch.model_dump(exclude_unset=True)
    if "name" in changes and name_key(changes["name"]) != profile.name_key:
        taken = repo.existing_name_keys(session, [(profile.country, name_key(changes["name"]))])
        if taken:
            raise Conflict(
                "an organisation with this name is already registered in this country",
                existing_id=next(iter(taken.values())),
            )
        profile.name_key = name_key(changes["name"])
    if "sectors" in changes:
        profile.sector_mask = mask_of(changes["sectors"])
    for field in ("website", "contact_email"):
        if changes.get(field) is not None:
            changes[field] = str(changes[field])
    stored = repo.embedding_rows(session, profile.id)
    # The encoder reads the texts with the organisation's own name masked: a new name (or
    # kind, which picks the stand-in) re-encodes both texts.
    renamed = any(f in changes and changes[f] != getattr(profile, f) for f in ("name", "org_type"))
    reencode = [
        f
        for f in TEXT_FIELDS
        if renamed
        or (f in changes and (f not in stored or stored[f].text_hash != text_hash(changes[f])))
    ]
    for field, value in changes.items():
        setattr(profile, field, value)
    changes = {f: getattr(profile, f) for f in reencode} | changes
    if reencode:
        masker = own_name_masker(profile.name, profile.org_type)
        docs = encoder.embed_documents(
            [changes[f] for f in reencode], rewrite=[masker] * len(reencode)
        )
        for field, doc in zip(reencode, docs, strict=True):
            if field in stored:
                session.delete(stored[field])
            session.flush()
            session.add(
                repo.embedding_row(profile.id, field, encoder.model_name, changes[field], doc)
            )
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("an organisation with this name is already registered") from exc
    if changes:
        change_log.record(session, [profile.id], "upsert")
    return profile


def reissue_owner_key(session: Session, profile: Profile) -> str:
    """A new owner key for ``profile`` (for its owner, who lost theirs, or after a leak); the
    old keys stop working when the request commits."""
    key = replace_owner_key(session, profile.id)
    log.info("owner key of profile %s re-issued", profile.public_id)
    return key


def delete(session: Session, profile: Profile) -> None:
    pid = profile.id
    session.delete(profile)
    session.flush()
    change_log.record(session, [pid], "delete")


def to_out(profile: Profile, principal: Principal) -> ProfileOut:
    show_contact = principal.is_staff or principal.owns(profile.id)
    return ProfileOut(
        id=profile.public_id,
        name=profile.name,
        country=profile.country,
        org_type=profile.org_type,
        sectors=list(profile.sectors),
        city=profile.city,
        capabilities=profile.capabilities,
        needs=profile.needs,
        partnership_types=list(profile.partnership_types),
        employees=profile.employees,
        website=profile.website,
        contact_email=profile.contact_email if show_contact else None,
        tags=list(profile.tags),
        controlled_technologies=list(profile.controlled_technologies) if show_contact else None,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


def list_profiles(
    session: Session,
    principal: Principal,
    *,
    country: str | None,
    sector: str | None,
    org_type: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
    scan: int | None = None,
) -> ProfileList:
    """A page of profiles in id order. With ``scan``, a text search (``q``) looks at no more
    than that many profiles per page: fewer than ``limit`` items with a ``next_cursor`` then
    means "no more matches among the profiles looked at so far; carry on from the cursor"."""
    after = decode_cursor(cursor)
    upto = repo.scan_bound(session, after, scan) if scan and q else None
    rows = repo.list_page(
        session,
        country=country,
        sector=sector,
        org_type=org_type,
        q=nfc(q) if q else q,  # texts are stored in NFC
        after_id=after,
        limit=limit + 1,
        upto_id=upto,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    following = rows[-1].id if more and rows else upto
    return ProfileList(
        items=[to_out(p, principal) for p in rows],
        next_cursor=encode_cursor(following) if following is not None else None,
    )
