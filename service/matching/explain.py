"""Plain-language explanations of a match, quoting the sentences that fit each other's needs."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from service.sectors import SECTOR_RELATIONS, SECTORS

SECTOR_NAME = {s.code: s.name for s in SECTORS}
SentenceData = tuple[list[str], np.ndarray]  # sentences and their (n, dim) vectors


def quote(text: str, limit: int = 140) -> str:
    text = text.strip().rstrip(".;")
    if len(text) <= limit:
        return f"\u201c{text}\u201d"
    cut = text[:limit].rsplit(" ", 1)[0]
    return f"\u201c{cut}\u2026\u201d"


def best_sentence(data: SentenceData | None, target: np.ndarray) -> str | None:
    """The sentence of ``data`` closest to the ``target`` vector."""
    if data is None or not data[0]:
        return None
    sents, vecs = data
    return sents[int(np.argmax(vecs @ target))]


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


def explain(
    a_name: str,
    a_sectors: list[str],
    b_name: str,
    b_sectors: list[str],
    *,
    a_caps: np.ndarray,
    a_needs: np.ndarray,
    b_caps: np.ndarray,
    b_needs: np.ndarray,
    a_sentences: dict[str, SentenceData],
    b_sentences: dict[str, SentenceData],
) -> str:
    """Quote the sentence of B's offer closest to A's needs, the need of A closest to B's offer,
    and the sentence of A's offer closest to B's needs (batched twin: ``exports.writer``)."""
    return render(
        a_name,
        tuple(a_sectors),
        b_name,
        tuple(b_sectors),
        a_need=best_sentence(a_sentences.get("needs"), b_caps),
        b_offer=best_sentence(b_sentences.get("capabilities"), a_needs),
        a_offer=best_sentence(a_sentences.get("capabilities"), b_needs),
    )
