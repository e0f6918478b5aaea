"""The FAISS index equals the database, survives restarts, and never re-encodes needlessly."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from embeddings.index import manifest_path
from service.app import create_app
from service.profiles.models import Profile
from tests.conftest import create_profile, profile_payload


def index_state(client) -> dict[str, set[int]]:
    idx = client.app.state.matchmaker.index
    return {c: set(ix.ids().tolist()) for c, ix in idx.indexes.items()}


def db_state(client) -> dict[str, set[int]]:
    with client.app.state.matchmaker.sessions() as s:
        rows = s.execute(select(Profile.id, Profile.country)).all()
    return {c: {i for i, cc in rows if cc == c} for c in ("IN", "KR")}


def test_index_equals_database_after_register_update_delete(client, admin):
    a, owner_a = create_profile(client)
    b, _ = create_profile(client, country="KR")
    c, owner_c = create_profile(client, country="KR")
    assert index_state(client) == db_state(client)
    client.patch(
        f"/v1/profiles/{a['id']}",
        headers=owner_a,
        json={"capabilities": "We now build lithium iron phosphate battery packs."},
    )
    client.delete(f"/v1/profiles/{c['id']}", headers=owner_c)
    assert index_state(client) == db_state(client)
    # The updated vector is the one in the index.
    state = client.app.state.matchmaker
    with state.sessions() as s:
        pid = s.scalar(select(Profile.id).where(Profile.public_id == a["id"]))
    caps, _ = state.index.vectors(np.array([pid]))
    expected = state.encoder.embed_document(
        "We now build lithium iron phosphate battery packs."
    ).vector
    np.testing.assert_array_equal(caps[0], expected.astype(np.float16))  # index precision


def test_registered_profile_is_searchable_by_the_next_request(client, admin):
    kr, _ = create_profile(
        client,
        country="KR",
        capabilities="We build LNG carrier hulls and "
        "membrane cargo containment systems at our Geoje shipyard.",
    )
    r = client.post(
        "/v1/matches/search",
        headers=admin,
        json={"needs": "We need a shipyard partner for LNG carrier construction.", "country": "KR"},
    )
    assert [m["profile"]["id"] for m in r.json()["matches"]] == [kr["id"]]
    client.delete(f"/v1/profiles/{kr['id']}", headers=admin)
    r = client.post(
        "/v1/matches/search",
        headers=admin,
        json={"needs": "We need a shipyard partner for LNG carrier construction.", "country": "KR"},
    )
    assert r.json()["matches"] == []


def test_unchanged_text_costs_no_encoding(client, encoder):
    a, owner = create_profile(client)
    before = (encoder.calls, encoder.encoded_sentences)
    url = f"/v1/profiles/{a['id']}"
    assert client.patch(url, json={"city": "Pune"}, headers=owner).status_code == 200
    assert (
        client.patch(url, json={"capabilities": a["capabilities"]}, headers=owner).status_code
        == 200
    )
    assert (encoder.calls, encoder.encoded_sentences) == before
    client.patch(
        url, json={"needs": "A different need about hydrogen electrolysers."}, headers=owner
    )
    assert encoder.calls == before[0] + 1


def test_long_text_is_split_not_truncated(client, encoder):
    sentence = "Our foundry runs " + " ".join(f"process{i}" for i in range(400)) + "."
    text = "We design chips. " * 40 + sentence
    doc = encoder.embed_document(text)
    assert sum(len(s) for s in doc.sentences) >= len(text) - 100
    assert any("process399" in s for s in doc.sentences)
    for s in doc.sentences:
        assert encoder._count_tokens(s) <= 256
    a, _ = create_profile(client, capabilities=text[:5000])
    assert a["capabilities"] == text[:5000].strip()


def _restart(settings, encoder):
    return TestClient(create_app(settings, encoder=encoder))


def _search(c, admin):
    r = c.post(
        "/v1/matches/search",
        headers=admin,
        json={
            "needs": "advanced packaging and memory",
            "capabilities": "assembly plants in India",
            "country": "KR",
            "limit": 5,
        },
    )
    return [(m["profile"]["id"], m["score"]) for m in r.json()["matches"]]


def test_restart_gives_identical_results_and_corrupt_index_is_rebuilt_without_encoding(
    settings, encoder, admin
):
    with _restart(settings, encoder) as c:
        for i in range(6):
            c.post("/v1/profiles", json=profile_payload(country="KR" if i % 2 else "IN"))
        first = _search(c, admin)
    assert len(first) == 3
    path = settings.index_dir / "profiles-KR.faiss"
    assert path.exists() and manifest_path(path).exists()

    encoded = encoder.encoded_sentences
    with _restart(settings, encoder) as c:
        assert c.app.state.matchmaker.index.saved_seq > 0  # loaded, not rebuilt
        # The ad-hoc query texts are cached, so a search costs no encoding either.
        assert _search(c, admin) == first
    path.write_bytes(b"garbage")
    with _restart(settings, encoder) as c:
        assert _search(c, admin) == first
    path.unlink()
    with _restart(settings, encoder) as c:
        assert _search(c, admin) == first
    assert encoder.encoded_sentences == encoded


def test_index_for_another_model_is_rebuilt(settings, encoder, admin):
    import json

    with _restart(settings, encoder) as c:
        c.post("/v1/profiles", json=profile_payload(country="KR"))
    m = manifest_path(settings.index_dir / "profiles-KR.faiss")
    meta = json.loads(m.read_text())
    meta["model"] = "some-other-model"
    m.write_text(json.dumps(meta))
    with _restart(settings, encoder) as c:
        assert c.app.state.matchmaker.index.count()["KR"] == 1
        assert len(_search(c, admin)) == 1


def test_change_made_by_another_process_is_picked_up(client, admin, encoder):
    """Another worker's write (same database) is applied before the next search."""
    from service.db import create_session_factory, transaction
    from service.profiles.schemas import ProfileCreate
    from service.profiles.service import register

    state = client.app.state.matchmaker
    with transaction(create_session_factory(state.engine)) as s:
        # Written by sessions this index does not follow: only the change log tells the index.
        register(s, encoder, ProfileCreate(**profile_payload(country="KR")))
    r = client.post(
        "/v1/matches/search",
        headers=admin,
        json={"needs": "advanced packaging and memory", "country": "KR"},
    )
    assert len(r.json()["matches"]) == 1


def test_very_long_token_is_split_to_fit(encoder):
    token = "x" * 3000
    doc = encoder.embed_document(f"We offer {token} as a service.")
    assert "".join(doc.sentences).count("x") >= 3000
    assert all(encoder._count_tokens(s) <= 256 for s in doc.sentences)


def test_profile_never_disappears_from_matches_while_updated(client, admin):
    """An update re-adds the profile's vectors; concurrent match queries must never see a gap."""
    import threading

    a, owner = create_profile(client)
    create_profile(client, country="KR")
    state = client.app.state.matchmaker
    with state.sessions() as s:
        pid = s.scalar(select(Profile.id).where(Profile.public_id == a["id"]))
        rows = state.index.load_rows(s, [pid])
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            state.index.upsert(rows)

    t = threading.Thread(target=churn)
    t.start()
    try:
        codes = {
            client.get(f"/v1/profiles/{a['id']}/matches", headers=admin).status_code
            for _ in range(150)
        }
    finally:
        stop.set()
        t.join()
    assert codes == {200}


def test_encoder_threads_setting_changes_parallelism_not_vectors(model_cache, encoder):
    """``serve --workers N`` gives each worker 1/N of the CPUs for encoding: same batches, so
    the same vectors as one session per CPU."""
    from service.bootstrap import build_encoder
    from service.config import Settings

    one = build_encoder(Settings(data_dir=model_cache.parent, encoder_threads=1))
    assert len(one._backend.sessions) == 1
    salt = np.random.default_rng().integers(1e9)  # fresh sentences: no cache hits
    texts = [f"Line {n} of run {salt}: wafer bonding and test." for n in range(150)]  # 3 batches
    np.testing.assert_array_equal(one.encode_sentences(texts), encoder.encode_sentences(texts))


def test_a_sentence_vector_does_not_depend_on_what_it_is_encoded_with(encoder):
    """Sentences are batched only with others of the same token count, never padded: a
    sentence encodes to the same vector alone as beside longer and shorter ones. (Padded, the
    int8 model's activation scales, set per batch, depended on the batch: a short sentence
    padded to a long one's length moved to cosine 0.991 of itself alone.) The vectors still
    agree with the fp32 sentence-transformers reference."""
    from embeddings.encoder import _TorchBackend
    from service.config import Settings

    salt = np.random.default_rng().integers(1e9)  # fresh sentences: no cache hits
    short = f"Wafer bonding {salt}."
    others = [
        f"Run {salt}: we seek a partner for 300 mm wafer fabrication, packaging and test in Pune.",
        f"Grid {salt} batteries.",
    ]
    alone = encoder.encode_sentences([short])
    together = encoder.encode_sentences([*others, short + " "])  # same tokens, not cached
    np.testing.assert_array_equal(together[2], alone[0])

    reference = _TorchBackend(Settings().resolved_model_path()).encode([*others, short], 8)
    assert (np.sum(reference * np.vstack([together[:2], alone]), axis=1) > 0.98).all()


def test_requests_seeing_the_same_new_changes_apply_them_once(client, encoder):
    """Under load many requests find the same unapplied changes at once: one applies them, the
    others wait for it instead of loading and upserting the same rows again."""
    import threading

    from service.db import create_session_factory, transaction
    from service.profiles.schemas import ProfileCreate
    from service.profiles.service import register

    state = client.app.state.matchmaker
    index = state.index
    state.syncer.stop()  # its timer would apply the changes before the two requests do
    # Another worker's writes: sessions this worker's index does not follow, so only the change
    # log knows of them.
    with transaction(create_session_factory(state.engine)) as s:
        for country in ("IN", "KR"):
            register(s, encoder, ProfileCreate(**profile_payload(country=country)))

    arrived = threading.Semaphore(0)

    class Gate:  # index._applying, held shut until both requests have read the changes
        inner = threading.Lock()

        def __enter__(self) -> None:
            arrived.release()
            self.inner.acquire()

        def __exit__(self, *exc: object) -> None:
            self.inner.release()

    loads: list[list[int]] = []
    load_rows = index.load_rows
    index.load_rows = lambda session, ids: loads.append(ids) or load_rows(session, ids)
    gate = Gate()
    gate.inner.acquire()
    index._applying = gate
    applied: list[int] = []

    def request() -> None:
        with state.sessions() as s:
            applied.append(index.catch_up(s))

    threads = [threading.Thread(target=request) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        assert arrived.acquire(timeout=30) and arrived.acquire(timeout=30)
    finally:
        gate.inner.release()
        for t in threads:
            t.join(timeout=30)
    assert sorted(applied) == [0, 2]
    assert len(loads) == 1
    assert index_state(client) == db_state(client)


def test_periodic_save_is_left_to_a_worker_writing_or_just_done(client):
    """Workers hold the same index: a periodic save skips while another writes it, or when a
    copy is fresh; the shutdown save always writes."""
    import fcntl

    index = client.app.state.matchmaker.index
    create_profile(client)  # a change since the last save
    index.directory.mkdir(parents=True, exist_ok=True)
    with open(index.directory / ".lock", "a") as other_worker:
        fcntl.flock(other_worker, fcntl.LOCK_EX)
        assert index.save(unless_saved_within=60) is False
    assert index.save(unless_saved_within=60) is True
    create_profile(client, country="KR")
    assert index.save(unless_saved_within=60) is False  # a copy under a minute old serves
    assert index.save(unless_saved_within=0) is True
    assert index.save() is False  # nothing changed since
    create_profile(client, country="KR")
    assert index.save() is True


def test_low_priority_work_runs_niced_in_its_own_thread_and_reports_failure():
    import os
    import threading

    import pytest

    from service.core.threads import run_at_low_priority

    seen: list[tuple[int, int]] = []
    run_at_low_priority(
        lambda: seen.append(
            (threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        ),
        nice=5,
    )
    assert seen[0][0] != threading.get_native_id()
    assert seen[0][1] == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 5)
    with pytest.raises(ZeroDivisionError):
        run_at_low_priority(lambda: 1 / 0)
