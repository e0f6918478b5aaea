"""A bounded, thread-safe cache of the sentences explanations quote.

A match list quotes the capability sentences of its partners, and partners recur: a few thousand
well-connected profiles appear in most lists. Keys carry the text's content key
(``service.indexing.service.text_key``), so an entry can never stand for another version of the
text: when a profile's text changes, lookups use the new key and the old entry ages out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np
from cachetools import LRUCache

# (sentences, float16 vectors (n, dim))
Entry = tuple[Sequence[str], np.ndarray]
Key = tuple[int, str, int]  # (profile id, field, text key)


class SentenceCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._lru: LRUCache[Key, Entry] = LRUCache(maxsize=max(1, size))
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Entry]:
        """The cached entries among ``keys`` (keys with a zero text key are never cached)."""
        found: dict[Key, Entry] = {}
        if self.size <= 0:
            return found
        with self._lock:
            for key in keys:
                entry = self._lru.get(key) if key[2] else None
                if entry is None:
                    self.misses += 1
                else:
                    self.hits += 1
                    found[key] = entry
        return found

    def put_many(self, entries: dict[Key, Entry]) -> None:
        if self.size <= 0:
            return
        # Stored as tuples of strings and arrays, which the garbage collector stops tracking:
        # a full collection then never walks the (tens of thousands of) long-lived entries.
        frozen = {k: (tuple(sents), vecs) for k, (sents, vecs) in entries.items() if k[2]}
        with self._lock:
            for key, entry in frozen.items():
                self._lru[key] = entry
