"""Splitting profile texts into the units the encoder sees.

all-MiniLM-L6-v2 reads at most 256 word pieces and silently drops the rest. Profile texts may be
far longer, so each text is split into sentences and every sentence is encoded on its own; a
sentence still longer than the window is cut into overlapping word windows that fit. Nothing is
ever truncated, and sentence-level vectors let the matcher quote the sentence that matches.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path

_SENTENCE_END = re.compile(r"(?<=[.!?;。])\s+|\n+")
_SPACE = re.compile(r"\s+")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_sentences(text: str) -> list[str]:
    parts = (_SPACE.sub(" ", p).strip() for p in _SENTENCE_END.split(text))
    return [p for p in parts if p]


def fit_to_window(
    sentence: str, count_tokens: Callable[[str], int], max_tokens: int, overlap_words: int = 8
) -> list[str]:
    """Cut ``sentence`` into word windows of at most ``max_tokens`` tokens."""
    if count_tokens(sentence) <= max_tokens:
        return [sentence]
    # A WordPiece token covers at least one character, so a "word" longer than half the window
    # (a URL, a hash, a run of symbols) is first cut into character chunks that surely fit.
    chunk = max(1, max_tokens // 2)
    words = [w[i : i + chunk] for w in sentence.split(" ") for i in range(0, max(len(w), 1), chunk)]
    pieces: list[str] = []
    start = 0
    while start < len(words):
        # Grow greedily, then shrink until the window fits: word pieces per word vary a lot.
        end = min(len(words), start + max_tokens)
        while end > start + 1 and count_tokens(" ".join(words[start:end])) > max_tokens:
            end = start + max(1, (end - start) * 3 // 4)
        pieces.append(" ".join(words[start:end]))
        if end >= len(words):
            break
        start = max(start + 1, end - overlap_words)
    return pieces


_PAREN = re.compile(r"\s*\(([^)]*)\)")


@cache
def _name_data() -> dict:
    return json.loads((Path(__file__).parent / "data" / "name_words.json").read_text())


@cache
def _name_words() -> tuple[frozenset[str], frozenset[str]]:
    data = _name_data()
    return frozenset(data["generic_first_words"]), frozenset(data["legal_suffixes"])


def name_forms(name: str) -> list[str]:
    """Ways a profile's text may name its own organisation, longest first: the name without
    parentheses, what the parentheses hold (often the Hangul name), the name without its legal
    suffix, its leading words ("Larsen & Toubro" of "Larsen & Toubro Defence"), and its first
    word when that word identifies it (not "Indian" or "National")."""
    generic, suffixes = _name_words()
    base = _PAREN.sub("", name).strip()
    forms = {base, *(x.strip() for x in _PAREN.findall(name))}
    words = base.split()
    while len(words) > 1 and words[-1].lower().strip(",") in suffixes:
        words.pop()
        forms.add(" ".join(words))
    for end in range(2, len(words)):
        if words[end - 1][:1].isupper():
            forms.add(" ".join(words[:end]))
    if len(words) > 1 and len(words[0]) >= 3 and words[0].lower() not in generic:
        forms.add(words[0])
    return sorted((f for f in forms if len(f) >= 2), key=lambda f: (-len(f), f))


@lru_cache(maxsize=4096)  # bounded: every registered name would otherwise stay compiled
def _name_pattern(name: str) -> re.Pattern[str] | None:
    forms = name_forms(name)
    if not forms:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, forms)) + r")(?!\w)")


def mask_name(sentence: str, name: str, stand_in: str = "the organisation") -> str:
    """``sentence`` with its own organisation's name replaced by ``stand_in``.

    The encoder reads what a sentence says, and an unfamiliar proper name drags the vector away
    from the content: "EcoPro BM is a Korean cathode materials producer ..." scored 0.32 against
    "We seek high-nickel cathode material", the same sentence without the name 0.58. The
    stored and quoted text keeps the name; only the encoder's input is masked.
    """
    pattern = _name_pattern(name)
    if pattern is None:
        return sentence

    def repl(m: re.Match[str]) -> str:
        at_start = not sentence[: m.start()].strip()
        return stand_in[:1].upper() + stand_in[1:] if at_start else stand_in

    return pattern.sub(repl, sentence)


def own_name_masker(name: str, org_type: str) -> Callable[[str], str]:
    """``mask_name`` for one profile: its name, and a stand-in that suits its kind."""
    stand_in = _name_data()["stand_ins"].get(org_type, "the organisation")
    return lambda sentence: mask_name(sentence, name, stand_in)
