"""Plain-language explanations of a match, quoting the sentences that fit each other's needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

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
