"""What the index keeps of each profile besides its vectors, in memory and by internal id.

``IndexedProfile`` is one profile as loaded from the database; ``Columns`` holds every indexed
profile's metadata and pair vector in arrays indexed by id; ``Summary`` is what a match list
shows of a partner, so a match list needs no database query for its partners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from embeddings import lexical
from service.profiles.models import TEXT_FIELDS, Profile
from service.vocab import COUNTRIES, ORG_TYPES, partnership_mask

ORG_CODE = {o: i for i, o in enumerate(ORG_TYPES)}
# Table columns, not ORM attributes: the index reads them on the request path (catch-up),
# where the ORM's compile and row-loading layers cost more CPU than the queries themselves.
_profile = Profile.__table__.c
# What the matcher keeps of each profile besides its vectors.
META_COLUMNS = (
    _profile.id,
    _profile.country,
    _profile.sector_mask,
    _profile.partnership_types,
    _profile.org_type,
    _profile.public_id,
    _profile.name,
    _profile.city,
    _profile.sectors,
)
COUNTRY_CODE = {c: i for i, c in enumerate(COUNTRIES)}


@dataclass(frozen=True)
class IndexedProfile:
    """What the matcher needs of one profile, all in memory."""

    id: int
    country: str
    sector_mask: int
    partnership_mask: int
    org_type: str
    capabilities: np.ndarray
    needs: np.ndarray
    # what a match summary shows, so a match list needs no database query for its partners
    public_id: str = ""
    name: str = ""
    city: str | None = None
    sectors: tuple[str, ...] = ()
    # content keys of the capabilities and needs texts (``text_key``), 0 when unknown
    text_keys: tuple[int, int] = (0, 0)
    # keyword terms (hashes, counts) of the capabilities and needs (``embeddings.lexical``)
    terms: tuple[tuple[np.ndarray, np.ndarray], ...] = ()


def text_key(text_hash: str) -> int:
    """A stored text's SHA-256 (hex) as a non-zero int64: identifies the text's content, so
    anything cached under it can never be served for another version of the text."""
    return int(text_hash[:15], 16) or 1


def indexed_profile(
    row: Any,
    capabilities: np.ndarray,
    needs: np.ndarray,
    hashes: dict[str, str] | None = None,
    terms: dict[str, bytes] | None = None,
) -> IndexedProfile:
    """``IndexedProfile`` from a row of ``META_COLUMNS`` (``hashes``: text hash per field,
    ``terms``: stored keyword terms per field)."""
    hashes = hashes or {}
    terms = terms or {}
    return IndexedProfile(
        id=row.id,
        country=row.country,
        sector_mask=row.sector_mask,
        partnership_mask=partnership_mask(row.partnership_types),
        org_type=row.org_type,
        capabilities=capabilities,
        needs=needs,
        public_id=row.public_id,
        name=row.name,
        city=row.city,
        sectors=tuple(row.sectors),
        text_keys=tuple(text_key(hashes[f]) if f in hashes else 0 for f in TEXT_FIELDS),
        terms=tuple(lexical.unpack(terms[f]) for f in TEXT_FIELDS if terms.get(f) is not None),
    )


@dataclass(frozen=True)
class Summary:
    """The index's record of a partner, as a match list shows it (``ProfileSummary.of``)."""

    id: int
    public_id: str
    name: str
    country: str
    org_type: str
    sectors: tuple[str, ...]
    city: str | None


class Columns:
    """Per-profile data indexed directly by internal id (ids are dense integers): metadata and
    the pair vector ``[capabilities | needs]``, so scoring gathers rows with numpy instead of
    asking FAISS to reconstruct them."""

    FIELDS = (
        "present",
        "country",
        "sector_mask",
        "partnership_mask",
        "org",
        "pairs",
        "summary",
        "text_keys",
    )

    def __init__(self, size: int = 1024, dim: int = 384) -> None:
        self.dim = dim
        self.present = np.zeros(size, dtype=bool)
        self.country = np.full(size, -1, dtype=np.int8)
        self.sector_mask = np.zeros(size, dtype=np.int32)
        self.partnership_mask = np.zeros(size, dtype=np.int32)
        self.org = np.zeros(size, dtype=np.int8)
        self.pairs = np.zeros((size, 2 * dim), dtype=np.float32)
        self.summary = np.full(size, None, dtype=object)
        self.text_keys = np.zeros((size, len(TEXT_FIELDS)), dtype=np.int64)
        self.by_public_id: dict[str, int] = {}

    def _grow(self, max_id: int) -> None:
        size = len(self.present)
        if max_id < size:
            return
        new = max(max_id + 1, size * 2)
        for name in self.FIELDS:
            old = getattr(self, name)
            arr = np.zeros((new, *old.shape[1:]), dtype=old.dtype)
            if name == "summary":
                arr[:] = None
            if name == "country":
                arr[:] = -1
            arr[:size] = old
            setattr(self, name, arr)

    def set(self, p: IndexedProfile) -> None:
        self._grow(p.id)
        self.present[p.id] = True
        self.country[p.id] = COUNTRY_CODE[p.country]
        self.sector_mask[p.id] = p.sector_mask
        self.partnership_mask[p.id] = p.partnership_mask
        self.org[p.id] = ORG_CODE[p.org_type]
        if p.capabilities.size:
            self.pairs[p.id] = pair_vector(p.capabilities, p.needs)
        self.summary[p.id] = Summary(
            p.id, p.public_id, p.name, p.country, p.org_type, tuple(p.sectors), p.city
        )
        self.text_keys[p.id] = p.text_keys
        if p.public_id:
            self.by_public_id[p.public_id] = p.id

    def clear(self, id_: int) -> None:
        if id_ < len(self.present):
            if self.summary[id_] is not None:
                self.by_public_id.pop(self.summary[id_].public_id, None)
            self.present[id_] = False
            self.country[id_] = -1
            self.pairs[id_] = 0
            self.summary[id_] = None
            self.text_keys[id_] = 0

    def ids_where(self, country: str, mask: np.ndarray | None = None) -> np.ndarray:
        sel = self.country == COUNTRY_CODE[country]
        if mask is not None:
            sel &= mask
        return np.flatnonzero(sel).astype(np.int64)


def terms_of(p: IndexedProfile) -> tuple[int, tuple, tuple]:
    """(id, capabilities terms, needs terms) of a profile; none when they were not stored."""
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int32))
    caps, needs = p.terms if len(p.terms) == 2 else (empty, empty)
    return p.id, caps, needs


def pair_vector(capabilities: np.ndarray, needs: np.ndarray) -> np.ndarray:
    """Indexed form of a profile: ``[capabilities | needs]``, at float16 precision.

    The IVF index stores float16 (``embeddings.index``); rounding here too makes the vectors
    re-ranking reads, whether computed now, rebuilt or read back from a saved index, the same
    numbers bit for bit. The rounding moves a cosine by about 1e-4.
    """
    pair = np.concatenate([capabilities, needs], axis=-1)
    return pair.astype(np.float16).astype(np.float32)


def query_vector(capabilities: np.ndarray, needs: np.ndarray) -> np.ndarray:
    """Query form of a profile: ``[needs | capabilities]`` (see module docstring)."""
    return np.concatenate([needs, capabilities], axis=-1).astype(np.float32)
