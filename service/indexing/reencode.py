"""Re-encode every stored text (after a model change), in batches, with a progress bar."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from embeddings.encoder import Encoder
from embeddings.text import own_name_masker
from service.db import transaction
from service.profiles import changes
from service.profiles import repository as repo
from service.profiles.models import TEXT_FIELDS, Profile, ProfileEmbedding


def reencode_all(
    factory: sessionmaker[Session], encoder: Encoder, progress: bool = True, batch: int = 500
) -> int:
    with factory() as session:
        ids = list(session.scalars(select(Profile.id).order_by(Profile.id)))
    for start in tqdm(range(0, len(ids), batch), desc="re-encode", disable=not progress):
        chunk = ids[start : start + batch]
        with transaction(factory) as session:
            profiles = list(session.scalars(select(Profile).where(Profile.id.in_(chunk))))
            docs = encoder.embed_documents(
                [t for p in profiles for t in (p.capabilities, p.needs)],
                rewrite=[own_name_masker(p.name, p.org_type) for p in profiles for _ in range(2)],
            )
            session.execute(delete(ProfileEmbedding).where(ProfileEmbedding.profile_id.in_(chunk)))
            for n, p in enumerate(profiles):
                for j, field in enumerate(TEXT_FIELDS):
                    session.add(
                        repo.embedding_row(
                            p.id, field, encoder.model_name, getattr(p, field), docs[2 * n + j]
                        )
                    )
            changes.record(session, [p.id for p in profiles], "upsert")
    return len(ids)
