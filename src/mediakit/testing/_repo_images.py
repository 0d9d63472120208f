"""The image and music-set repository contract. (see :mod:`mediakit.testing`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from mediakit.errors import BadRequest, Conflict, NotFound
from mediakit.models import ProcessingStatus
from mediakit.repositories import (
    ImageRepository,
    MusicSetRepository,
    Repositories,
    TrackRepository,
)
from mediakit.testing import builders as b
from mediakit.testing._repo_fixtures import RepositoryFixtures


class ImagesContract(RepositoryFixtures):
    """The image and music-set repository contract."""

    def test_implementations_satisfy_the_protocols(self, repos: Repositories) -> None:
        assert isinstance(repos.images, ImageRepository)
        assert isinstance(repos.music_sets, MusicSetRepository)
        assert isinstance(repos.tracks, TrackRepository)

    # ------------------------------------------------------------------------------ images

    def test_added_image_round_trips_every_field(self, repos: Repositories) -> None:
        img = b.image(
            title="Sunset",
            description="Over the sea, ünïcödé",
            visible=True,
            owner_id="admin-1",
            width=4000,
            height=3000,
            status=ProcessingStatus.READY,
            failure_reason=None,
            size=12_345_678_901,  # > 2**32: stored as a big integer
        )
        img = attrs.evolve(img, thumbnails=b.thumbs(img.id))
        repos.images.add_many([img])
        assert repos.images.get(img.id) == img

    def test_get_of_an_unknown_image_is_none(self, repos: Repositories) -> None:
        assert repos.images.get("nope") is None

    def test_add_many_is_all_or_nothing_when_an_id_exists(self, repos: Repositories) -> None:
        first = b.image()
        repos.images.add_many([first])
        fresh = b.image()
        with pytest.raises(Conflict, match=first.id):
            repos.images.add_many([fresh, attrs.evolve(first, title="again")])
        assert repos.images.get(fresh.id) is None
        assert repos.images.get(first.id) == first

    def test_add_many_with_the_same_id_twice_conflicts(self, repos: Repositories) -> None:
        img = b.image()
        with pytest.raises(Conflict):
            repos.images.add_many([img, img])
        assert repos.images.get(img.id) is None

    def test_add_many_of_nothing_is_a_no_op(self, repos: Repositories) -> None:
        repos.images.add_many([])
        assert repos.images.list(visible_only=False).items == []

    def test_datetimes_are_stored_and_returned_as_aware_utc(self, repos: Repositories) -> None:
        paris = timezone(timedelta(hours=2))
        at = datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=paris)
        img = b.image(created_at=at, updated_at=at)
        repos.images.add_many([img])
        got = repos.images.get(img.id)
        assert got is not None
        assert got.created_at == at
        assert got.created_at.tzinfo == UTC
        assert got.created_at.microsecond == 123456

    def test_a_naive_datetime_is_refused(self, repos: Repositories) -> None:
        naive = datetime(2026, 1, 1, 12, 0)
        with pytest.raises(ValueError, match="timezone-aware"):
            repos.images.add_many([b.image(created_at=naive, updated_at=naive)])
        assert repos.images.list(visible_only=False).items == []

    def test_update_sets_only_the_given_fields_and_returns_the_new_row(
        self, repos: Repositories
    ) -> None:
        img = b.image(title="old", description="keep me")
        repos.images.add_many([img])
        later = img.updated_at + timedelta(minutes=5)
        thumbs = b.thumbs(img.id)
        new = repos.images.update(
            img.id, {"title": "new", "updated_at": later, "thumbnails": list(thumbs)}
        )
        assert new == attrs.evolve(img, title="new", updated_at=later, thumbnails=thumbs)
        assert repos.images.get(img.id) == new

    def test_update_accepts_a_status_string(self, repos: Repositories) -> None:
        img = b.image()
        repos.images.add_many([img])
        assert repos.images.update(img.id, {"status": "failed"}).status is ProcessingStatus.FAILED

    def test_update_with_no_changes_returns_the_row(self, repos: Repositories) -> None:
        img = b.image()
        repos.images.add_many([img])
        assert repos.images.update(img.id, {}) == img

    @pytest.mark.parametrize("field", ["id", "created_at", "original_key", "bogus"])
    def test_update_of_a_field_that_cannot_change_is_a_value_error(
        self, repos: Repositories, field: str
    ) -> None:
        img = b.image()
        repos.images.add_many([img])
        with pytest.raises(ValueError, match=field):
            repos.images.update(img.id, {"title": "x", field: "y"})
        assert repos.images.get(img.id) == img

    def test_update_of_an_unknown_image_is_not_found(self, repos: Repositories) -> None:
        with pytest.raises(NotFound):
            repos.images.update("nope", {"title": "x"})

    def test_a_title_edit_and_a_status_update_at_once_both_survive(
        self, repos: Repositories
    ) -> None:
        """A processing job recording thumbnails never clobbers an admin's concurrent edit."""
        imgs = [b.image(title="before") for _ in range(10)]
        repos.images.add_many(imgs)
        for img in imgs:
            barrier = threading.Barrier(2)

            def admin(image_id: str = img.id, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                repos.images.update(image_id, {"title": "edited", "visible": True})

            def job(image_id: str = img.id, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                repos.images.update(
                    image_id, {"status": ProcessingStatus.READY, "thumbnails": b.thumbs(image_id)}
                )

            threads = [threading.Thread(target=admin), threading.Thread(target=job)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            got = repos.images.get(img.id)
            assert got is not None
            assert (got.title, got.visible, got.status) == ("edited", True, ProcessingStatus.READY)
            assert got.thumbnails == b.thumbs(img.id)

    def test_delete_says_whether_there_was_a_row(self, repos: Repositories) -> None:
        img = b.image()
        repos.images.add_many([img])
        assert repos.images.delete(img.id) is True
        assert repos.images.get(img.id) is None
        assert repos.images.delete(img.id) is False

    def test_list_is_newest_first_with_ties_broken_by_id_descending(
        self, repos: Repositories
    ) -> None:
        tie = b.T0 + timedelta(days=1)
        imgs = [
            b.image(id="aaa", created_at=tie),
            b.image(id="ZZZ", created_at=tie),
            b.image(id="mmm", created_at=tie),
            b.image(id="old", created_at=b.T0),
            b.image(id="new", created_at=tie + timedelta(microseconds=1)),
        ]
        repos.images.add_many(imgs)
        page = repos.images.list(visible_only=False)
        # byte-wise id order on every backend: "ZZZ" < "aaa" < "mmm"
        assert [i.id for i in page.items] == ["new", "mmm", "aaa", "ZZZ", "old"]
        assert page.next_cursor is None

    def test_visible_only_lists_only_visible_images(self, repos: Repositories) -> None:
        shown = [b.image(visible=True) for _ in range(3)]
        hidden = [b.image(visible=False) for _ in range(3)]
        repos.images.add_many(shown + hidden)
        ids = [i.id for i in repos.images.list(visible_only=True, limit=100).items]
        assert ids == [i.id for i in reversed(shown)]
        assert len(repos.images.list(visible_only=False, limit=100).items) == 6

    def test_pages_walk_every_image_once_in_order(self, repos: Repositories) -> None:
        imgs = [b.image() for _ in range(10)]
        repos.images.add_many(imgs)
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = repos.images.list(visible_only=False, limit=3, cursor=cursor)
            pages += 1
            assert len(page.items) <= 3
            seen += [i.id for i in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [i.id for i in reversed(imgs)]
        assert pages == 4

    def test_a_full_last_page_has_no_next_cursor(self, repos: Repositories) -> None:
        repos.images.add_many([b.image() for _ in range(4)])
        first = repos.images.list(visible_only=False, limit=2)
        assert first.next_cursor is not None
        last = repos.images.list(visible_only=False, limit=2, cursor=first.next_cursor)
        assert len(last.items) == 2
        assert last.next_cursor is None

    @pytest.mark.parametrize(
        "cursor", ["", "not a cursor", "!!!!", "MjAyNi0wMS0wMQ", "bm9waXBl", "x" * 600]
    )
    def test_a_malformed_cursor_is_a_bad_request(self, repos: Repositories, cursor: str) -> None:
        repos.images.add_many([b.image()])
        with pytest.raises(BadRequest, match="cursor"):
            repos.images.list(visible_only=False, cursor=cursor)
        with pytest.raises(BadRequest, match="cursor"):
            repos.music_sets.list(visible_only=False, cursor=cursor)

    @pytest.mark.parametrize("limit", [0, -1])
    def test_a_non_positive_limit_is_a_bad_request(self, repos: Repositories, limit: int) -> None:
        with pytest.raises(BadRequest, match="limit"):
            repos.images.list(visible_only=False, limit=limit)

    def test_image_object_keys_are_originals_and_thumbnails(self, repos: Repositories) -> None:
        imgs = [b.image() for _ in range(3)]
        imgs[0] = attrs.evolve(imgs[0], thumbnails=b.thumbs(imgs[0].id))
        repos.images.add_many(imgs)
        expected = sorted(k for i in imgs for k in i.object_keys())
        assert sorted(repos.images.iter_object_keys()) == expected
        assert len(expected) == 5

    # ------------------------------------------------------------------------------ sets

    def test_added_set_round_trips(self, repos: Repositories) -> None:
        s = b.music_set(title="Live 2026", description="d", visible=True, owner_id="o")
        repos.music_sets.add(s)
        assert repos.music_sets.get(s.id) == s
        assert repos.music_sets.get("nope") is None

    def test_adding_a_set_twice_conflicts(self, repos: Repositories) -> None:
        s = b.music_set()
        repos.music_sets.add(s)
        with pytest.raises(Conflict, match=s.id):
            repos.music_sets.add(attrs.evolve(s, title="other"))
        assert repos.music_sets.get(s.id) == s

    def test_set_update_is_partial_and_checked(self, repos: Repositories) -> None:
        s = b.music_set(title="t", description="keep")
        repos.music_sets.add(s)
        assert repos.music_sets.update(s.id, {"visible": True}) == attrs.evolve(s, visible=True)
        with pytest.raises(ValueError, match="created_at"):
            repos.music_sets.update(s.id, {"created_at": b.T0})
        with pytest.raises(NotFound):
            repos.music_sets.update("nope", {"title": "x"})

    def test_sets_list_newest_first_visible_only_and_paged(self, repos: Repositories) -> None:
        sets = [b.music_set(visible=n % 2 == 0) for n in range(6)]
        for s in sets:
            repos.music_sets.add(s)
        page = repos.music_sets.list(visible_only=True, limit=2)
        assert [s.id for s in page.items] == [sets[4].id, sets[2].id]
        rest = repos.music_sets.list(visible_only=True, limit=2, cursor=page.next_cursor)
        assert [s.id for s in rest.items] == [sets[0].id]
        assert rest.next_cursor is None
        everything = repos.music_sets.list(visible_only=False, limit=10)
        assert [s.id for s in everything.items] == [s.id for s in reversed(sets)]

    def test_deleting_a_set_deletes_its_tracks_only(self, repos: Repositories) -> None:
        doomed, kept = b.music_set(), b.music_set()
        repos.music_sets.add(doomed)
        repos.music_sets.add(kept)
        gone = repos.tracks.add_many([b.track(doomed.id) for _ in range(3)])
        stay = repos.tracks.add_many([b.track(kept.id) for _ in range(2)])
        assert repos.music_sets.delete(doomed.id) is True
        assert repos.music_sets.get(doomed.id) is None
        assert repos.tracks.list_for_set(doomed.id) == []
        assert all(repos.tracks.get(t.id) is None for t in gone)
        assert repos.tracks.list_for_set(kept.id) == stay
        assert sorted(repos.tracks.iter_object_keys()) == sorted(t.original_key for t in stay)
        assert repos.music_sets.delete(doomed.id) is False
