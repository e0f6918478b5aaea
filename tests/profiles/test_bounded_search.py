"""A text search bounded per page (the console's registry): each page looks at no more than
``scan`` profiles; following the cursors finds every match once, and the last page has none."""

from __future__ import annotations

from service.auth.service import Principal
from service.db import transaction
from service.profiles import service as profiles
from tests.conftest import create_profile


def test_bounded_search_pages_through_every_match_once(client):
    made = [create_profile(client, name=f"Plain Works {i}")[0]["id"] for i in range(5)]
    rare = create_profile(client, name="Zephyrine Optics")[0]["id"]
    made += [create_profile(client, name=f"Plain Works {i}")[0]["id"] for i in range(5, 8)]
    staff = Principal("admin")
    pages, found, cursor = 0, [], None
    with transaction(client.app.state.matchmaker.sessions) as session:
        while True:
            page = profiles.list_profiles(
                session,
                staff,
                country=None,
                sector=None,
                org_type=None,
                q="zephyrine",
                limit=25,
                cursor=cursor,
                scan=3,
            )
            pages += 1
            found += [p.id for p in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        unbounded = profiles.list_profiles(
            session,
            staff,
            country=None,
            sector=None,
            org_type=None,
            q="plain works",
            limit=25,
            cursor=None,
        )
    assert found == [rare]
    assert pages == 3  # 9 profiles, 3 looked at per page; the third page reaches the end
    assert [p.id for p in unbounded.items] == made and unbounded.next_cursor is None
