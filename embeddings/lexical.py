"""Lexical terms of a text, for keyword matching beside the sentence vectors.

A text becomes a bag of stemmed terms: lower-cased (NFKC), split into letters and digits
("high-nickel" gives "high" and "nickel"), English function words dropped (``data/stopwords.txt``),
each word reduced by the Snowball English stemmer (PyStemmer), so "electrodes" and "electrode"
are one term. Each term is identified by a stable 63-bit hash of its text, the same in every
process and after every restart, so term counts can be stored with a profile and compared with
any other profile's without a shared vocabulary.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import Stemmer

_WORD = re.compile(r"[^\W_]+")
_STEMMER = Stemmer.Stemmer("english")


@cache
def stopwords() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "stopwords.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def words(text: str) -> list[str]:
    """Stemmed content words of ``text``, in order (one-character words dropped)."""
    stop = stopwords()
    raw = _WORD.findall(unicodedata.normalize("NFKC", text).lower())
    return _STEMMER.stemWords([w for w in raw if len(w) > 1 and w not in stop])


@lru_cache(maxsize=1 << 17)  # bounded: every word ever registered would otherwise stay here
def term_id(term: str) -> int:
    """A stable non-negative 63-bit id of a term (BLAKE2b)."""
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def terms(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(term ids sorted ascending, int64; their counts in ``text``, int32)."""
    counts = Counter(term_id(w) for w in words(text))
    ids = np.array(sorted(counts), dtype=np.int64)
    return ids, np.array([counts[i] for i in ids.tolist()], dtype=np.int32)


def pack(ids: np.ndarray, counts: np.ndarray) -> bytes:
    """Storage form of ``terms``: the ids (int64) then the counts (int32), little-endian."""
    return ids.astype("<i8").tobytes() + counts.astype("<i4").tobytes()


def unpack(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    n = len(blob) // 12
    return (
        np.frombuffer(blob, "<i8", count=n).astype(np.int64),
        np.frombuffer(blob, "<i4", count=n, offset=8 * n).astype(np.int32),
    )
