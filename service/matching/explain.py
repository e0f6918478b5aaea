"""Plain-language explanations of a match, built from its evidence (``service.matching.evidence``).

An explanation names the sector link, quotes the need of one side with the sentence of the other
side's offer that answers it (both directions), and says plainly when the fit is weak, one-sided,
or when the two mostly offer the same things. Quotes are whole sentences, never cut.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, TypedDict

import numpy as np
from sqlalchemy.orm import Session

from service.indexing.columns import Summary, text_key
from service.indexing.service import MatchIndex
from service.matching.evidence import DirectionEvidence, SentenceData, SentenceTable
from service.profiles import repository as repo
from service.profiles.models import TEXT_FIELDS, Profile
from service.sectors import SECTOR_RELATIONS, SECTORS

SECTOR_NAME = {s.code: s.name for s in SECTORS}
# Sentence cosines of all-MiniLM-L6-v2: an offer below WEAK does not really answer the need (on
# the labelled real partnerships, most true partners' best pair is above 0.5, most unrelated
# same-sector pairs' below 0.35).
WEAK = 0.35


class Evidence(TypedDict):
    """One need of one side and the sentence of the other side's offer that answers it (a plain
    dict: an export builds a million of them)."""

    direction: str  # who offers: e.g. "partner_offers" / "asker_offers", "kr_offers" / "in_offers"
    need: str
    offer: str
    similarity: float


class Explanation(NamedTuple):
    text: str
    evidence: list[Evidence]


class Side(NamedTuple):
    """What one direction of a pair quotes: the best (need, offer) pair and the worst-met need."""

    need: str
    offer: str
    similarity: float
    gap: str | None
    gap_similarity: float


def side(
    ev: DirectionEvidence, row: int, needs: SentenceTable, offers: SentenceTable | None = None
) -> Side | None:
    """Row ``row`` of ``ev`` as quotable text (``offers`` defaults to the needs' table)."""
    offers = offers or needs
    need, offer = needs.text(int(ev.need[row])), offers.text(int(ev.offer[row]))
    if need is None or offer is None:
        return None
    gap = int(ev.gap[row])
    return Side(
        need,
        offer,
        round(float(ev.similarity[row]), 4),
        needs.text(gap) if gap != int(ev.need[row]) else None,
        float(ev.gap_similarity[row]),
    )


def upper_first(text: str) -> str:
    """A sentence may start with a name written in lower case ("your organisation")."""
    return text[:1].upper() + text[1:]


def quote(text: str) -> str:
    """A whole sentence in quotation marks (final full stop dropped: the prose adds its own)."""
    return f"\u201c{text.strip().rstrip('.;')}\u201d"


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
    forward: Side | None,
    back: Side | None,
    *,
    competitors: bool,
    directions: tuple[str, str] = ("partner_offers", "asker_offers"),
) -> Explanation:
    """Prose and evidence of one pair. ``forward``: B's offer against A's needs; ``back``: A's
    offer against B's needs (None when A stated no capabilities). ``directions`` name the
    evidence's two directions (who offers)."""
    text = prose((a_name, b_name), (a_sectors, b_sectors), (forward, back), competitors)
    evidence: list[Evidence] = [
        {"direction": direction, "need": s.need, "offer": s.offer, "similarity": s.similarity}
        for direction, s in zip(directions, (forward, back), strict=True)
        if s is not None
    ]
    return Explanation(text, evidence)


def prose(
    names: tuple[str, str],
    sectors: tuple[tuple[str, ...], tuple[str, ...]],
    sides: tuple[Side | None, Side | None],
    competitors: bool,
) -> str:
    """The text of :func:`render` alone, of A and B's ``names``, ``sectors`` and (forward,
    back) ``sides`` (an export builds the evidence column from arrays). Sectors are mentioned
    only when both sides have some: an ad-hoc search without sectors is never called
    "different sectors"."""
    (a_name, b_name), (a_sectors, b_sectors), (forward, back) = names, sectors, sides
    parts: list[str] = []
    if a_sectors and b_sectors:
        parts.append(sector_phrase(a_sectors, b_sectors) + ".")
    fwd_ok = forward is not None and forward.similarity >= WEAK
    back_ok = back is not None and back.similarity >= WEAK
    if forward is not None:
        if fwd_ok:
            parts.append(
                f"{b_name} offers {quote(forward.offer)}, which answers {a_name}'s need "
                f"{quote(forward.need)}."
            )
        else:
            parts.append(
                f"{upper_first(a_name)}'s need {quote(forward.need)} finds no close answer."
            )
    if back is not None and back_ok:
        lead = "In return, " if forward is not None else ""
        giver = a_name if lead else upper_first(a_name)
        parts.append(
            f"{lead}{giver} offers {quote(back.offer)} for {b_name}'s need {quote(back.need)}."
        )
    if not fwd_ok and not back_ok:
        parts.append("The fit is weak: neither side's offer closely answers the other's needs.")
    elif forward is not None and back is not None and fwd_ok != back_ok:
        giver, taker = (a_name, b_name) if fwd_ok else (b_name, a_name)
        parts.append(f"The fit is one-sided: {giver} offers little that {taker} asks for.")
    if fwd_ok and forward.gap is not None and forward.gap_similarity < WEAK:
        parts.append(f"Not answered: {a_name}'s need {quote(forward.gap)}.")
    if competitors:
        parts.append(f"{a_name} and {b_name} mostly offer the same things: possible competitors.")
    return " ".join(parts)


def quoted_sentences(
    session: Session, index: MatchIndex, ids: list[int]
) -> dict[tuple[int, str], SentenceData]:
    """Sentences (and float16 vectors, as stored) of both texts of ``ids``: from the index's
    sentence cache where it holds the indexed version of a text, else from the database (and
    then cached under the content key of what was read)."""
    wanted = [(i, f) for i in ids for f in TEXT_FIELDS]
    keys = index.text_keys(ids)
    cache_key = {(i, f): (i, f, keys[i][TEXT_FIELDS.index(f)]) for i, f in wanted}
    hits = index.sentence_cache.get_many(cache_key.values())
    out = {(i, f): hits[k] for (i, f), k in cache_key.items() if k in hits}
    missing = sorted({i for i, f in wanted if (i, f) not in out})
    if missing:
        hashes: dict[tuple[int, str], str] = {}
        fetched = repo.sentence_data(session, missing, as_float16=True, hashes=hashes)
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
    competitors: list[bool],
    query_sentences: dict[int, dict[str, SentenceData]] | None = None,
    directions: tuple[str, str] = ("partner_offers", "asker_offers"),
) -> list[Explanation]:
    """Explanation of each (a, b) pair of profile ids (``a`` may be an ad-hoc query, id < 0,
    whose sentences come in ``query_sentences``), all pairs' evidence computed at once."""
    if not pairs:
        return []
    ids = sorted({i for p in pairs for i in p if i >= 0})
    sent = quoted_sentences(session, index, ids)
    queries = sorted(query_sentences or {})
    slot = {i: n for n, i in enumerate([*ids, *queries])}
    table = SentenceTable(len(slot), TEXT_FIELDS)
    for (i, field), data in sent.items():
        table.add(slot[i], field, data)
    for q in queries:
        for field, data in query_sentences[q].items():
            table.add(slot[q], field, data)
    table.seal()
    a = np.array([slot[x] for x, _ in pairs])
    b = np.array([slot[y] for _, y in pairs])
    forward, back = table.match(a, b), table.match(b, a)
    out = []
    for n, (x, y) in enumerate(pairs):
        pa, pb = profiles[x], profiles[y]
        out.append(
            render(
                pa.name,
                tuple(pa.sectors),
                pb.name,
                tuple(pb.sectors),
                side(forward, n, table),
                side(back, n, table),
                competitors=competitors[n],
                directions=directions,
            )
        )
    return out
