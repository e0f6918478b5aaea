"""Keyword terms and BM25 pair features: the compiled kernels against a plain reference."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from embeddings import lexical
from embeddings.text import mask_name, name_forms, own_name_masker
from service.indexing.lexical import K1, B, TermStore, profile_terms

TEXTS = [
    ("We make high-nickel cathodes and precursors.", "We seek cell makers in India."),
    ("We assemble LFP cells and packs.", "We need high-nickel cathode material and coating."),
    ("We build ships, LNG carriers and ammonia-fuelled container ships.", "We want a yard."),
    ("Our shipyard repairs naval vessels.", "We seek ship design know-how and LNG engines."),
    ("Cathode cathode cathode plants.", "Cells."),
]


def reference(texts, a: int, b: int) -> tuple[float, ...]:
    """LEXICAL_FEATURES of (a, b) written out plainly from the module docstring."""
    bags = [(lexical.words(c), lexical.words(n)) for c, n in texts]
    whole = [c + n for c, n in bags]
    n_docs = len(texts)
    df = Counter(t for w in whole for t in set(w))

    def idf(t):
        return math.log(1 + (n_docs - df[t] + 0.5) / (df[t] + 0.5))

    avg_caps = sum(len(c) for c, _ in bags) / n_docs
    avg_needs = sum(len(n) for _, n in bags) / n_docs
    avg_whole = sum(len(w) for w in whole) / n_docs

    def bm25(q, d, avg):
        tf = Counter(d)
        norm = K1 * (1 - B + B * len(d) / avg)
        return sum(idf(t) * tf[t] * (K1 + 1) / (tf[t] + norm) for t in set(q) if tf[t])

    def cover(q, d):
        total = sum(idf(t) for t in set(q))
        return sum(idf(t) for t in set(q) if t in set(d)) / total if total else 0.0

    (ca, na), (cb, nb) = bags[a], bags[b]
    return (
        bm25(na, cb, avg_caps) + bm25(nb, ca, avg_caps),
        bm25(whole[a], whole[b], avg_whole) + bm25(whole[b], whole[a], avg_whole),
        cover(na, cb) + cover(nb, ca),
        bm25(ca, cb, avg_caps) + bm25(cb, ca, avg_caps),
        bm25(na, nb, avg_needs) + bm25(nb, na, avg_needs),
    )


def store_of(texts) -> TermStore:
    store = TermStore()
    for i, (c, n) in enumerate(texts):
        store.set(i, *profile_terms(c, n))
    return store


def test_pair_features_match_the_plain_formula_and_are_symmetric():
    store = store_of(TEXTS)
    a, b = np.repeat(np.arange(5), 5), np.tile(np.arange(5), 5)
    got = store.pair_features(a, b).reshape(5, 5, 5)
    for i in range(5):
        for j in range(5):
            assert got[i, j] == pytest.approx(reference(TEXTS, i, j), rel=1e-9)
    assert np.allclose(got, got.transpose(1, 0, 2))


def test_pairs_in_any_order_score_as_alone():
    """The kernel spreads a query's terms once for a run of its pairs: interleaved queries,
    and a profile with an empty field next to the one stored after it, must not mix."""
    texts = [*TEXTS, ("", "We need cathodes."), ("Cathode lines and cells.", "")]
    store = store_of(texts)
    n = len(texts)
    a, b = np.tile(np.arange(n), n), np.repeat(np.arange(n), n)  # a new query on every row
    got = store.pair_features(a, b)
    for r in range(len(a)):
        assert got[r] == pytest.approx(reference(texts, a[r], b[r]), rel=1e-9, abs=1e-12)
        assert np.array_equal(got[r], store.pair_features(a[r : r + 1], b[r : r + 1])[0])


def test_statistics_follow_edits_and_deletes_exactly():
    store = store_of(TEXTS)
    store.set(2, *profile_terms("Completely new words: turbines.", "Blades."))
    store.set(2, *profile_terms(*TEXTS[2]))
    store.remove([4])
    store.set(4, *profile_terms(*TEXTS[4]))
    fresh = store_of(TEXTS)
    a, b = np.repeat(np.arange(5), 5), np.tile(np.arange(5), 5)
    assert np.array_equal(store.pair_features(a, b), fresh.pair_features(a, b))
    store.remove([0, 1])
    left = [TEXTS[2], TEXTS[3], TEXTS[4]]
    assert store.pair_features(np.array([2]), np.array([3]))[0] == pytest.approx(
        reference(left, 0, 1), rel=1e-9
    )


def test_many_edits_compact_the_buffers_without_changing_a_feature():
    store = store_of(TEXTS)
    before = store.pair_features(np.array([0, 1]), np.array([1, 2]))
    for _ in range(3000):  # each edit appends; old versions are garbage until compacted
        store.set(3, *profile_terms(*TEXTS[3]))
    assert len(store.terms) == 1 << 16  # garbage was compacted away, never grown over
    assert np.array_equal(store.pair_features(np.array([0, 1]), np.array([1, 2])), before)


def test_an_adhoc_query_scores_like_the_same_text_indexed():
    store = store_of(TEXTS)
    query = store.query(*profile_terms(*TEXTS[1]))
    got = store.pair_features(None, np.arange(5), query)
    assert np.allclose(got, store.pair_features(np.full(5, 1), np.arange(5)))


def test_terms_are_stemmed_stable_and_round_trip():
    assert lexical.words("Electrodes and the cathodes") == ["electrod", "cathod"]
    ids, counts = lexical.terms("cathode cathodes anode")
    assert sorted(counts.tolist()) == [1, 2] and list(ids) == sorted(ids)
    # stable across processes (a stored profile's terms are compared with new ones)
    assert (
        lexical.term_id("cathod")
        == int.from_bytes(__import__("hashlib").blake2b(b"cathod", digest_size=8).digest(), "big")
        >> 1
    )
    back = lexical.unpack(lexical.pack(ids, counts))
    assert np.array_equal(back[0], ids) and np.array_equal(back[1], counts)


def test_an_organisation_s_own_name_is_masked_for_the_encoder_only():
    assert name_forms("EcoPro BM (에코프로비엠)") == ["EcoPro BM", "EcoPro", "에코프로비엠"]
    assert (
        mask_name(
            "EcoPro BM makes cathodes; EcoPro's plants are big.",
            "EcoPro BM (에코프로비엠)",
            "the company",
        )
        == "The company makes cathodes; the company's plants are big."
    )
    # a generic first word is never taken for the name
    assert "Indian" not in name_forms("Indian Institute of Science")
    mask = own_name_masker("Indian Institute of Science", "research_institute")
    assert (
        mask("Indian Institute of Science runs Indian labs.") == "The institute runs Indian labs."
    )
    assert mask("Nothing to mask here.") == "Nothing to mask here."


def test_a_store_built_at_once_scores_like_one_built_profile_by_profile():
    items = [(i * 3 + 1, *profile_terms(c, n)) for i, (c, n) in enumerate(TEXTS)]
    one_by_one = TermStore()
    for pid, caps, needs in items:
        one_by_one.set(pid, caps, needs)
    at_once = TermStore.build(items)
    ids = np.array([pid for pid, _, _ in items])
    a, b = np.repeat(ids, len(ids)), np.tile(ids, len(ids))
    assert np.allclose(at_once.pair_features(a, b), one_by_one.pair_features(a, b), rtol=1e-12)
    at_once.set(4, *profile_terms("Naval radar and sonar.", "Hull steel."))  # and edits after
    one_by_one.set(4, *profile_terms("Naval radar and sonar.", "Hull steel."))
    assert np.allclose(at_once.pair_features(a, b), one_by_one.pair_features(a, b), rtol=1e-12)
