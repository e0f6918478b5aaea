"""Data access for profiles. Flushes only; the caller's unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from embeddings import lexical
from embeddings.encoder import DocumentEmbedding
from embeddings.text import text_hash
from service.profiles.models import TEXT_FIELDS, Profile, ProfileEmbedding
from service.sectors import SECTOR_BIT


def by_public_id(session: Session, public_id: str) -> Profile | None:
    return session.scalar(select(Profile).where(Profile.public_id == public_id))


def by_public_ids(session: Session, public_ids: Sequence[str]) -> dict[str, Profile]:
    if not public_ids:
        return {}
    rows = session.scalars(select(Profile).where(Profile.public_id.in_(list(public_ids))))
    return {p.public_id: p for p in rows}


def existing_name_keys(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Map (country, name_key) to the public id of profiles that already use them."""
    if not keys:
        return {}
    # Both columns, so the lookup walks the unique (country, name_key) index; on name_key
    # alone it scanned the whole table (0.3 s per registration at 100k profiles).
    rows = session.execute(
        select(Profile.country, Profile.name_key, Profile.public_id).where(
            Profile.country.in_({c for c, _ in keys}), Profile.name_key.in_({k for _, k in keys})
        )
    )
    wanted = set(keys)
    return {(c, n): pid for c, n, pid in rows if (c, n) in wanted}


def list_page(
    session: Session,
    *,
    country: str | None,
    sector: str | None,
    org_type: str | None,
    q: str | None,
    after_id: int,
    limit: int,
    upto_id: int | None = None,
) -> list[Profile]:
    stmt = select(Profile).where(Profile.id > after_id)
    if upto_id is not None:
        stmt = stmt.where(Profile.id <= upto_id)
    if country:
        stmt = stmt.where(Profile.country == country)
    if sector:
        stmt = stmt.where(Profile.sector_mask.op("&")(SECTOR_BIT[sector]) != 0)
    if org_type:
        stmt = stmt.where(Profile.org_type == org_type)
    if q:
        needle = q.lower()
        stmt = stmt.where(
            func.lower(Profile.name).contains(needle, autoescape=True)
            | func.lower(Profile.capabilities).contains(needle, autoescape=True)
            | func.lower(Profile.needs).contains(needle, autoescape=True)
        )
    return list(session.scalars(stmt.order_by(Profile.id).limit(limit)))


def scan_bound(session: Session, after_id: int, rows: int) -> int | None:
    """The id ``rows`` profiles after ``after_id`` (primary-key order), where a bounded text
    search stops; None when no more than ``rows`` remain (the search then reads to the end)."""
    ids = session.scalars(
        select(Profile.id)
        .where(Profile.id > after_id)
        .order_by(Profile.id)
        .offset(rows - 1)
        .limit(2)
    ).all()
    return ids[0] if len(ids) == 2 else None


def embedding_rows(session: Session, profile_id: int) -> dict[str, ProfileEmbedding]:
    rows = session.scalars(
        select(ProfileEmbedding).where(ProfileEmbedding.profile_id == profile_id)
    )
    return {r.field: r for r in rows}


def embedding_row(
    profile_id: int, field: str, model: str, text: str, doc: DocumentEmbedding
) -> ProfileEmbedding:
    return ProfileEmbedding(
        profile_id=profile_id,
        field=field,
        model=model,
        text_hash=text_hash(text),
        vector=doc.vector.astype(np.float32).tobytes(),
        sentences=doc.sentences,
        sentence_vectors=doc.sentence_vectors.astype(np.float16).tobytes(),
        terms=lexical.pack(*lexical.terms(text)),
    )


def sentence_data(
    session: Session,
    ids: Sequence[int],
    fields: Sequence[str] = TEXT_FIELDS,
    as_float16: bool = False,
    hashes: dict[tuple[int, str], str] | None = None,
) -> dict[tuple[int, str], tuple[list[str], np.ndarray]]:
    """Sentences and their vectors per (profile id, field) of ``ids``, for quoting matches.
    ``hashes``, if given, receives each row's text hash."""
    if not ids:
        return {}
    # Table columns on the session's connection: every match list runs this query, and the
    # ORM layer (compile state, row loading) cost more CPU than the query itself.
    t = ProfileEmbedding.__table__.c
    wanted = and_(t.profile_id.in_(list(ids)), t.field.in_(list(fields)))
    rows = session.connection().execute(
        select(t.profile_id, t.field, t.sentences, t.sentence_vectors, t.text_hash).where(wanted)
    )
    out = {}
    for pid, field, sents, blob, digest in rows:
        vecs = np.frombuffer(blob, dtype=np.float16).reshape(len(sents), -1)
        out[(pid, field)] = (sents, vecs if as_float16 else vecs.astype(np.float32))
        if hashes is not None:
            hashes[(pid, field)] = digest
    return out
