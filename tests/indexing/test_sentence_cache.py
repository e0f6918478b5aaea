import gc

import numpy as np

from service.indexing.sentences import SentenceCache


def test_entries_are_kept_in_a_form_the_collector_stops_tracking():
    """Tens of thousands of entries live as long as the worker; held as lists, every full
    collection walked each of them while the worker's requests stood still."""
    cache = SentenceCache(10)
    vectors = np.zeros((2, 4), np.float16)
    cache.put_many({(1, "capabilities", 7): (["We make cells.", "We test packs."], vectors)})
    gc.collect()
    gc.collect()
    (entry,) = cache.get_many([(1, "capabilities", 7)]).values()
    assert entry[0] == ("We make cells.", "We test packs.")
    assert entry[1] is vectors
    assert not gc.is_tracked(entry)


def test_texts_without_a_content_key_are_never_cached():
    cache = SentenceCache(10)
    cache.put_many({(1, "needs", 0): (["We seek a partner."], np.zeros((1, 4), np.float16))})
    assert cache.get_many([(1, "needs", 0)]) == {}
