"""The Django track repository counts a listing's tracks in one ORM query."""

from __future__ import annotations

import pytest

from mediakit.testing import builders as b
from tests.django.support import django_repositories


def test_count_for_sets_is_one_group_by_query_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A page of sets is counted with one ``GROUP BY`` query; a longer id list with one
    per batch of ids; either way every id gets its count."""
    repos = django_repositories()  # configures Django first
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from mediakit_django import repositories

    sets = [b.music_set() for _ in range(7)]
    for s in sets:
        repos.music_sets.add(s)
    repos.tracks.add_many([b.track(s.id) for n, s in enumerate(sets) for _ in range(n)])
    with CaptureQueriesContext(connections["default"]) as page:
        counts = repos.tracks.count_for_sets([s.id for s in sets[:3]])
    assert counts == {sets[0].id: 0, sets[1].id: 1, sets[2].id: 2}
    assert len(page.captured_queries) == 1
    assert "GROUP BY" in page.captured_queries[0]["sql"].upper()
    monkeypatch.setattr(repositories, "_BATCH", 3)
    with CaptureQueriesContext(connections["default"]) as long:
        counts = repos.tracks.count_for_sets([s.id for s in sets])
    assert counts == {s.id: n for n, s in enumerate(sets)}
    assert len(long.captured_queries) == 3  # 7 ids in batches of 3
