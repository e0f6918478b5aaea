"""The change log's after-commit hook: the one way a write reaches this worker's index at once."""

from __future__ import annotations

from sqlalchemy import select

from service.db import create_session_factory, transaction
from service.profiles import changes
from service.profiles.schemas import ProfileCreate
from service.profiles.service import register
from tests.conftest import profile_payload


def _register(sessions, encoder, **overrides) -> str:
    with transaction(sessions) as s:
        return register(s, encoder, ProfileCreate(**profile_payload(**overrides))).profile.public_id


def test_listener_runs_after_a_commit_that_wrote_changes_and_only_then(client, encoder):
    state = client.app.state.matchmaker
    sessions = create_session_factory(state.engine)
    calls: list[int] = []
    changes.after_commit(sessions, lambda: calls.append(1))

    with transaction(sessions) as s:  # a commit that wrote no change
        s.execute(select(1))
    assert calls == []

    _register(sessions, encoder)
    assert calls == [1]

    # A rolled-back write: no call, and its mark does not leak into the next transaction.
    s = sessions()
    register(s, encoder, ProfileCreate(**profile_payload(name="Rolled Back Ltd")))
    s.rollback()
    s.execute(select(1))
    s.commit()
    s.close()
    assert calls == [1]


def test_a_savepoint_rolled_back_keeps_the_outer_changes_announced(client, encoder):
    state = client.app.state.matchmaker
    sessions = create_session_factory(state.engine)
    calls: list[int] = []
    changes.after_commit(sessions, lambda: calls.append(1))
    with transaction(sessions) as s:
        register(s, encoder, ProfileCreate(**profile_payload(name="Outer Write Ltd")))
        nested = s.begin_nested()
        nested.rollback()
    assert calls == [1]


def test_the_apps_index_holds_a_write_as_soon_as_it_commits(client, encoder):
    """The app's index follows its own sessions: no request, no timer needed."""
    state = client.app.state.matchmaker
    state.syncer.stop()  # only the hook may bring the profile in
    public_id = _register(state.sessions, encoder, country="KR")
    assert state.index.find(public_id) is not None

    other = create_session_factory(state.engine)  # another worker's sessions
    public_id = _register(other, encoder, country="KR", name="Other Worker Ltd")
    assert state.index.find(public_id) is None
