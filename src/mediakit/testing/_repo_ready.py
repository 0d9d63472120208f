"""``ready_only`` listings: the status filter is in the query, so keyset pages stay full and the walk is complete. (see :mod:`mediakit.testing`)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediakit.models import Image, ProcessingStatus
from mediakit.repositories import Repositories
from mediakit.testing import builders as b
from mediakit.testing._repo_fixtures import RepositoryFixtures

STATUSES = list(ProcessingStatus)


def _clear(repos: Repositories) -> None:
    while items := repos.images.list(visible_only=False, limit=500).items:
        for i in items:
            repos.images.delete(i.id)


class ReadyOnlyContract(RepositoryFixtures):
    """``ready_only`` listings: the status filter is in the query, so keyset pages stay full and the walk is complete."""

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        rows=st.lists(st.tuples(st.sampled_from(STATUSES), st.booleans()), max_size=25),
        limit=st.integers(1, 4),
    )
    def test_ready_only_pages_are_full_and_complete(
        self, repos: Repositories, rows: list[tuple[ProcessingStatus, bool]], limit: int
    ) -> None:
        """Walking ``visible_only`` + ``ready_only`` pages gives exactly the visible ready
        images, newest first, every page but the last holding ``limit`` items."""
        _clear(repos)
        base = b.image().created_at
        images = [
            b.image(created_at=base + timedelta(seconds=n % 5), status=status, visible=visible)
            for n, (status, visible) in enumerate(rows)
        ]
        repos.images.add_many(images)
        want = sorted(
            (i for i in images if i.visible and i.status is ProcessingStatus.READY),
            key=lambda i: (i.created_at, i.id),
            reverse=True,
        )
        got: list[Image] = []
        pages: list[int] = []
        cursor: str | None = None
        while True:
            page = repos.images.list(visible_only=True, ready_only=True, limit=limit, cursor=cursor)
            pages.append(len(page.items))
            got.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [i.id for i in got] == [i.id for i in want]
        assert all(n == limit for n in pages[:-1])
        # without the filter every visible image is still listed (admins and old callers)
        everything = repos.images.list(visible_only=False, limit=100).items
        assert len(everything) == len(images)

    def test_tracks_ready_only_lists_and_counts(self, repos: Repositories) -> None:
        """list_for_set and count_for_sets leave out tracks that are not ready."""
        s = b.music_set()
        other = b.music_set()
        repos.music_sets.add(s)
        repos.music_sets.add(other)
        tracks = [b.track(s.id, status=status) for status in STATUSES]
        repos.tracks.add_many([*tracks, b.track(other.id, status=ProcessingStatus.FAILED)])
        ready = [t.id for t in repos.tracks.list_for_set(s.id, ready_only=True)]
        assert ready == [t.id for t in tracks if t.status is ProcessingStatus.READY]
        assert len(repos.tracks.list_for_set(s.id)) == len(STATUSES)
        assert repos.tracks.count_for_sets([s.id, other.id], ready_only=True) == {
            s.id: 1,
            other.id: 0,
        }
        assert repos.tracks.count_for_sets([s.id, other.id]) == {s.id: len(STATUSES), other.id: 1}
