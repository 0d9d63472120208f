"""The processing-lease contract (claim, renew, release, list_interrupted) of the image and track repositories. (see :mod:`mediakit.testing`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from mediakit.models import ProcessingStatus
from mediakit.repositories import Repositories
from mediakit.testing import builders as b
from mediakit.testing._repo_fixtures import RepositoryFixtures

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def _item_repos(repos: Repositories, kind: str) -> tuple[Any, str]:
    """The repository of ``kind`` and the id of a new pending row in it."""
    if kind == "image":
        image = attrs.evolve(b.image(), updated_at=NOW - timedelta(hours=1))
        repos.images.add_many([image])
        return repos.images, image.id
    music_set = b.music_set()
    repos.music_sets.add(music_set)
    (track,) = repos.tracks.add_many(
        [attrs.evolve(b.track(music_set.id), updated_at=NOW - timedelta(hours=1))]
    )
    return repos.tracks, track.id


KINDS = pytest.mark.parametrize("kind", ["image", "track"])


class LeasesContract(RepositoryFixtures):
    """The processing-lease contract (claim, renew, release, list_interrupted) of the image and track repositories."""

    @KINDS
    def test_a_claim_marks_the_row_processing_and_a_second_claim_loses(
        self, repos: Repositories, kind: str
    ) -> None:
        """The first claim wins (row ``processing``, ``updated_at`` moved, reason cleared);
        while its lease lives, every other owner's claim returns ``None`` and changes nothing."""
        repo, item_id = _item_repos(repos, kind)
        repo.update(item_id, {"failure_reason": "earlier"})
        row = repo.claim(item_id, owner="a", now=NOW, until=NOW + LEASE)
        assert row is not None
        assert row.id == item_id
        assert row.status is ProcessingStatus.PROCESSING
        assert row.failure_reason is None
        assert row.updated_at == NOW
        assert repo.get(item_id) == row
        assert repo.claim(item_id, owner="b", now=NOW + timedelta(seconds=59), until=NOW) is None
        assert repo.claim(item_id, owner="a", now=NOW, until=NOW + LEASE) is None  # not reentrant
        assert repo.get(item_id) == row

    @KINDS
    def test_an_expired_lease_can_be_taken_over_and_the_old_owner_loses_it(
        self, repos: Repositories, kind: str
    ) -> None:
        """At its expiry a lease is free; the new owner holds it and the old one can neither
        renew nor release it."""
        repo, item_id = _item_repos(repos, kind)
        assert repo.claim(item_id, owner="a", now=NOW, until=NOW + LEASE) is not None
        later = NOW + LEASE
        assert repo.claim(item_id, owner="b", now=later, until=later + LEASE) is not None
        assert repo.renew(item_id, owner="a", until=later + 2 * LEASE) is False
        repo.release(item_id, owner="a")
        assert repo.claim(item_id, owner="c", now=later, until=later + LEASE) is None
        assert repo.renew(item_id, owner="b", until=later + 2 * LEASE) is True
        assert repo.claim(item_id, owner="c", now=later + LEASE, until=later) is None  # renewed

    @KINDS
    def test_release_frees_the_row_at_once(self, repos: Repositories, kind: str) -> None:
        """After its owner releases it, anybody may claim the row."""
        repo, item_id = _item_repos(repos, kind)
        assert repo.claim(item_id, owner="a", now=NOW, until=NOW + LEASE) is not None
        repo.release(item_id, owner="a")
        assert repo.renew(item_id, owner="a", until=NOW + LEASE) is False
        assert repo.claim(item_id, owner="b", now=NOW, until=NOW + LEASE) is not None

    @KINDS
    def test_unfinished_only_leaves_ready_and_failed_rows_alone(
        self, repos: Repositories, kind: str
    ) -> None:
        """``unfinished_only`` claims pending and processing rows only; without it a finished
        row is claimed too (re-processing); a missing row is ``None`` either way."""
        repo, item_id = _item_repos(repos, kind)
        for status in (ProcessingStatus.READY, ProcessingStatus.FAILED):
            repo.update(item_id, {"status": status})
            assert repo.claim(item_id, owner="a", now=NOW, until=NOW, unfinished_only=True) is None
            assert repo.get(item_id).status is status
        row = repo.claim(item_id, owner="a", now=NOW, until=NOW + LEASE)
        assert row is not None
        assert row.status is ProcessingStatus.PROCESSING
        repo.release(item_id, owner="a")
        assert repo.claim(item_id, owner="a", now=NOW, until=NOW, unfinished_only=True) is not None
        assert repo.claim("no-such-id", owner="a", now=NOW, until=NOW + LEASE) is None

    @KINDS
    def test_list_interrupted_finds_dead_jobs_and_lost_pending_rows(
        self, repos: Repositories, kind: str
    ) -> None:
        """Listed: ``processing`` rows with an expired or no lease, ``pending`` rows untouched
        since ``pending_before``. Not listed: live leases, fresh pending rows, finished rows."""
        repo, stale_pending = _item_repos(repos, kind)
        _, dead_job = _item_repos(repos, kind)
        _, live_job = _item_repos(repos, kind)
        _, ready = _item_repos(repos, kind)
        _, fresh_pending = _item_repos(repos, kind)
        _, no_lease = _item_repos(repos, kind)
        repo.update(fresh_pending, {"updated_at": NOW})
        repo.update(ready, {"status": ProcessingStatus.READY})
        repo.update(no_lease, {"status": ProcessingStatus.PROCESSING})  # stuck from before leases
        t0 = NOW - timedelta(minutes=10)
        assert repo.claim(dead_job, owner="dead", now=t0, until=t0 + LEASE) is not None
        assert repo.claim(live_job, owner="live", now=NOW, until=NOW + LEASE) is not None
        found = repo.list_interrupted(now=NOW, pending_before=NOW - LEASE)
        assert sorted(found) == sorted([stale_pending, dead_job, no_lease])
        assert found[-1] == dead_job  # oldest updated_at first (the others: an hour ago)
        assert len(repo.list_interrupted(now=NOW, pending_before=NOW - LEASE, limit=1)) == 1

    @KINDS
    def test_concurrent_claims_have_exactly_one_winner(
        self, repos: Repositories, kind: str
    ) -> None:
        """Eight threads claim one row at the same moment: one wins, seven get ``None``."""
        repo, item_id = _item_repos(repos, kind)
        barrier = threading.Barrier(8)
        results: list[object] = []
        errors: list[BaseException] = []

        def claim(n: int) -> None:
            try:
                barrier.wait()
                results.append(repo.claim(item_id, owner=f"w{n}", now=NOW, until=NOW + LEASE))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(r is not None for r in results) == 1

    @KINDS
    def test_lease_datetimes_must_be_aware(self, repos: Repositories, kind: str) -> None:
        """A naive ``now`` or ``until`` is a ``ValueError`` (as for every datetime)."""
        repo, item_id = _item_repos(repos, kind)
        with pytest.raises(ValueError):
            repo.claim(item_id, owner="a", now=NOW.replace(tzinfo=None), until=NOW + LEASE)
