"""Plain-language explanations of a match, quoting the sentences that fit each other's needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from sqlalchemy.orm import Session

from service.indexing.service import MatchIndex, Summary, text_key
from service.profiles import repository as repo
from service.profiles.models import Profile
from service.sectors import SECTOR_RELATIONS, SECTORS

SECTOR_NAME = {s.code: s.name for s in SECTORS}
SentenceData = tuple[Sequence[str], np.ndarray]  # sentences and their (n, dim) vectors


class SentenceTable:
    """Sentences of some profiles' texts, flat: the texts, one vector matrix (float16 as stored:
    half the memory of float32) and the ``[start, start + count)`` rows of each (field, slot).

    A slot is whatever small number the caller addresses a text's owner by: the profile id in an
    export (dense arrays over millions of rows), a position in a short list for one match list.
    Every explanation, whether of ``/matches``, ``/pairings`` or an export, picks its quotes
    with :meth:`pick`, so the same pair is always explained with the same words.
    """

    def __init__(self, size: int, fields: Iterable[str]) -> None:
        self.start = {f: np.zeros(size, dtype=np.int64) for f in fields}
        self.count = {f: np.zeros(size, dtype=np.int64) for f in fields}
        self.texts: list[str] = []
        self._blocks: list[np.ndarray] = []
        self.matrix = np.zeros((0, 1), np.float16)

    def add(self, slot: int, field: str, data: SentenceData) -> None:
        sents, vecs = data
        self.start[field][slot], self.count[field][slot] = len(self.texts), len(sents)
        self.texts.extend(sents)
        self._blocks.append(vecs)

    def seal(self) -> SentenceTable:
        """Stack the added vectors into :attr:`matrix`; call once, after the last ``add``."""
        if self._blocks:
            self.matrix = np.concatenate(self._blocks)
            self._blocks = []
        return self

    def pick(self, field: str, owners: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """For each row, the number of the sentence of ``owners[row]``'s ``field`` closest to
        ``targets[row]`` (-1 if it has none): argmax over its sentences s of ``s . target``.

        Rows are grouped by their owner's sentence count n, so each group is one (rows, n, dim)
        gather and one batched product, with no per-sentence copy of the targets.
        """
        out = np.full(len(owners), -1, dtype=np.int64)
        counts = self.count[field][owners]
        starts = self.start[field][owners]
        for n in np.unique(counts[counts > 0]).tolist():
            rows = np.flatnonzero(counts == n)
            at = starts[rows, None] + np.arange(n)  # (rows, n) sentence numbers
            sims = np.einsum("rnd,rd->rn", self.matrix[at].astype(np.float32), targets[rows])
            out[rows] = at[np.arange(len(rows)), sims.argmax(axis=1)]  # first maximum on ties
        return out

    def text(self, i: int) -> str | None:
        return self.texts[i] if i >= 0 else None


def quote(text: str, limit: int = 140) -> str:
    text = text.strip().rstrip(".;")
    if len(text) <= limit:
        return f"\u201c{text}\u201d"
    cut = text[:limit].rsplit(" ", 1)[0]
    return f"\u201c{cut}\u2026\u201d"


@lru_cache(maxsize=4096)
def sector_phrase(a_sectors: tuple[str, ...], b_sectors: tuple[str, ...]) -> str:
    shared = [s for s in a_sectors if s in b_sectors]
    if shared:
        names = " and ".join(SECTOR_NAME[s] for s in shared)
        return f"Both work in {names}"
    related = [
        (a, b) for a in a_sectors for b in b_sectors if frozenset({a, b}) in SECTOR_RELATIONS
    ]
    if related:
        a, b = related[0]
        why = SECTOR_RELATIONS[frozenset({a, b})][1]
        return f"Related sectors, {SECTOR_NAME[a]} and {SECTOR_NAME[b]} ({why})"
    return "Different sectors"


def render(
    a_name: str,
    a_sectors: tuple[str, ...],
    b_name: str,
    b_sectors: tuple[str, ...],
    a_need: str | None,
    b_offer: str | None,
    a_offer: str | None,
) -> str:
    """Two sentences: the sector link, then what each side brings to the other's need."""
    first = sector_phrase(a_sectors, b_sectors) + "."
    if not (b_offer and a_need):
        return first
    second = f"For {a_name}'s need {quote(a_need)}, {b_name} offers {quote(b_offer)}"
    if a_offer:
        second += f"; in return {a_name} brings {quote(a_offer)}"
    return f"{first} {second}."


def quoted_sentences(
    session: Session, index: MatchIndex, askers: list[int], partners: list[int]
) -> dict[tuple[int, str], SentenceData]:
    """Sentences (and float16 vectors, as stored) of both texts of ``askers`` and the
    capabilities of ``partners``: from the index's sentence cache where it holds the indexed
    version of a text, else from the database (and then cached under the content key of what
    was read)."""
    wanted = [(i, f) for i in askers for f in repo.TEXT_FIELDS]
    wanted += [(i, "capabilities") for i in partners]
    keys = index.text_keys({i for i, _ in wanted})
    cache_key = {(i, f): (i, f, keys[i][repo.TEXT_FIELDS.index(f)]) for i, f in wanted}
    hits = index.sentence_cache.get_many(cache_key.values())
    out = {(i, f): hits[k] for (i, f), k in cache_key.items() if k in hits}
    missing = [w for w in wanted if w not in out]
    if missing:
        asking = set(askers)
        fetch_both = sorted({i for i, f in missing if i in asking})
        hashes: dict[tuple[int, str], str] = {}
        fetched = repo.sentence_data(
            session,
            fetch_both,
            as_float16=True,
            capabilities_of=sorted({i for i, _ in missing}.difference(fetch_both)),
            hashes=hashes,
        )
        index.sentence_cache.put_many(
            {(i, f, text_key(hashes[(i, f)])): data for (i, f), data in fetched.items()}
        )
        out |= fetched
    return out


def explain_pairs(
    session: Session,
    index: MatchIndex,
    pairs: list[tuple[int, int]],
    profiles: dict[int, Profile | Summary],
    query_vectors: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
    query_sentences: dict[int, dict[str, SentenceData]] | None = None,
) -> list[str]:
    """Explanation of each (a, b) pair of profile ids (``a`` may be an ad-hoc query, id < 0):
    the sentence of B's offer closest to A's needs, the need of A closest to B's offer, and the
    sentence of A's offer closest to B's needs, picked for all pairs at once."""
    if not pairs:
        return []
    ids = sorted({i for p in pairs for i in p if i >= 0})
    askers = sorted({a for a, _ in pairs if a >= 0})
    sent = quoted_sentences(session, index, askers, sorted(set(ids).difference(askers)))
    caps, needs = index.vectors(np.array(ids, dtype=np.int64))
    queries = sorted(query_vectors or {})
    slot = {i: n for n, i in enumerate([*ids, *queries])}
    if queries:
        caps = np.vstack([caps, *(query_vectors[q][0][None] for q in queries)])
        needs = np.vstack([needs, *(query_vectors[q][1][None] for q in queries)])
    table = SentenceTable(len(slot), repo.TEXT_FIELDS)
    for (i, field), data in sent.items():
        table.add(slot[i], field, data)
    for q, fields in (query_sentences or {}).items():
        for field, data in fields.items():
            table.add(slot[q], field, data)
    table.seal()
    a = np.array([slot[x] for x, _ in pairs])
    b = np.array([slot[y] for _, y in pairs])
    a_need = table.pick("needs", a, caps[b]).tolist()
    b_offer = table.pick("capabilities", b, needs[a]).tolist()
    a_offer = table.pick("capabilities", a, needs[b]).tolist()
    out = []
    for n, (x, y) in enumerate(pairs):
        pa, pb = profiles[x], profiles[y]
        out.append(
            render(
                pa.name,
                tuple(pa.sectors),
                pb.name,
                tuple(pb.sectors),
                a_need=table.text(a_need[n]),
                b_offer=table.text(b_offer[n]),
                a_offer=table.text(a_offer[n]),
            )
        )
    return out
