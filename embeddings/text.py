"""Splitting profile texts into the units the encoder sees.

all-MiniLM-L6-v2 reads at most 256 word pieces and silently drops the rest. Profile texts may be
far longer, so each text is split into sentences and every sentence is encoded on its own; a
sentence still longer than the window is cut into overlapping word windows that fit. Nothing is
ever truncated, and sentence-level vectors let the matcher quote the sentence that matches.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

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
