"""The track repository contract (ordering within a set). (see :mod:`mediakit.testing`)."""

from __future__ import annotations

import threading

import attrs
import pytest

from mediakit.errors import Conflict, NotFound, UnprocessableEntity
from mediakit.models import AudioTier, MusicSet, ProcessingStatus, Track
from mediakit.repositories import Repositories
from mediakit.testing import builders as b
from mediakit.testing._repo_fixtures import RepositoryFixtures


def _set(repos: Repositories) -> MusicSet:
    s = b.music_set()
    repos.music_sets.add(s)
    return s


def _ids(tracks: list[Track]) -> list[str]:
    return [t.id for t in tracks]


class TracksContract(RepositoryFixtures):
    """The track repository contract (ordering within a set)."""

    def test_add_many_appends_in_order_with_positions_from_zero(self, repos: Repositories) -> None:
        s = _set(repos)
        given = [b.track(s.id, position=99, title=f"t{n}") for n in range(3)]
        stored = repos.tracks.add_many(given)
        assert [t.position for t in stored] == [0, 1, 2]
        assert stored == [attrs.evolve(t, position=n) for n, t in enumerate(given)]
        more = repos.tracks.add_many([b.track(s.id), b.track(s.id)])
        assert [t.position for t in more] == [3, 4]
        assert repos.tracks.list_for_set(s.id) == stored + more

    def test_a_stored_track_round_trips_every_field(self, repos: Repositories) -> None:
        s = _set(repos)
        t = b.track(s.id, title="Intro", duration_s=61.25, bitrate_kbps=1411)
        t = attrs.evolve(
            t, renditions=b.tiers(s.id, t.id), status=ProcessingStatus.READY, failure_reason=None
        )
        (stored,) = repos.tracks.add_many([t])
        assert repos.tracks.get(t.id) == stored == t
        assert stored.rendition(AudioTier.HIGH) == b.tiers(s.id, t.id)[0]
        assert repos.tracks.get("nope") is None

    def test_add_many_spreads_over_several_sets(self, repos: Repositories) -> None:
        one, two = _set(repos), _set(repos)
        stored = repos.tracks.add_many(
            [b.track(one.id), b.track(two.id), b.track(one.id), b.track(two.id)]
        )
        assert [(t.set_id, t.position) for t in stored] == [
            (one.id, 0),
            (two.id, 0),
            (one.id, 1),
            (two.id, 1),
        ]

    def test_add_many_to_a_missing_set_is_not_found_and_stores_nothing(
        self, repos: Repositories
    ) -> None:
        s = _set(repos)
        ok = b.track(s.id)
        with pytest.raises(NotFound, match="missing-set"):
            repos.tracks.add_many([ok, b.track("missing-set")])
        assert repos.tracks.get(ok.id) is None
        assert repos.tracks.list_for_set(s.id) == []

    def test_add_many_with_an_existing_id_conflicts_and_stores_nothing(
        self, repos: Repositories
    ) -> None:
        s = _set(repos)
        (first,) = repos.tracks.add_many([b.track(s.id)])
        fresh = b.track(s.id)
        with pytest.raises(Conflict, match=first.id):
            repos.tracks.add_many([fresh, attrs.evolve(first, position=0)])
        assert repos.tracks.get(fresh.id) is None
        (after,) = repos.tracks.add_many([b.track(s.id)])
        assert after.position == 1  # the failed call consumed no position

    def test_add_many_of_nothing_returns_nothing(self, repos: Repositories) -> None:
        assert repos.tracks.add_many([]) == []

    def test_track_update_is_partial(self, repos: Repositories) -> None:
        s = _set(repos)
        (t,) = repos.tracks.add_many([b.track(s.id, title="keep")])
        tiers = b.tiers(s.id, t.id)
        new = repos.tracks.update(
            t.id, {"status": "ready", "renditions": tiers, "duration_s": 1.5, "bitrate_kbps": 900}
        )
        assert new == attrs.evolve(
            t, status=ProcessingStatus.READY, renditions=tiers, duration_s=1.5, bitrate_kbps=900
        )
        assert repos.tracks.get(t.id) == new

    @pytest.mark.parametrize("field", ["position", "set_id", "id", "original_key"])
    def test_track_update_refuses_fields_that_cannot_change(
        self, repos: Repositories, field: str
    ) -> None:
        s = _set(repos)
        (t,) = repos.tracks.add_many([b.track(s.id)])
        with pytest.raises(ValueError, match=field):
            repos.tracks.update(t.id, {field: 3})
        assert repos.tracks.get(t.id) == t

    def test_track_update_of_an_unknown_track_is_not_found(self, repos: Repositories) -> None:
        with pytest.raises(NotFound):
            repos.tracks.update("nope", {"title": "x"})

    def test_deleting_a_track_keeps_the_others_order(self, repos: Repositories) -> None:
        s = _set(repos)
        stored = repos.tracks.add_many([b.track(s.id) for _ in range(4)])
        assert repos.tracks.delete(stored[1].id) is True
        assert repos.tracks.delete(stored[1].id) is False
        left = repos.tracks.list_for_set(s.id)
        assert _ids(left) == _ids([stored[0], stored[2], stored[3]])
        (appended,) = repos.tracks.add_many([b.track(s.id)])
        assert appended.position > left[-1].position
        assert _ids(repos.tracks.list_for_set(s.id))[-1] == appended.id

    def test_tracks_of_one_set_are_not_listed_with_another(self, repos: Repositories) -> None:
        one, two = _set(repos), _set(repos)
        a = repos.tracks.add_many([b.track(one.id)])
        repos.tracks.add_many([b.track(two.id)])
        assert repos.tracks.list_for_set(one.id) == a
        assert repos.tracks.list_for_set("unknown") == []

    def test_reorder_sets_the_order_and_positions(self, repos: Repositories) -> None:
        s = _set(repos)
        stored = repos.tracks.add_many([b.track(s.id) for _ in range(5)])
        order = [stored[i].id for i in (3, 0, 4, 2, 1)]
        result = repos.tracks.reorder(s.id, order)
        assert _ids(result) == order
        assert [t.position for t in result] == [0, 1, 2, 3, 4]
        assert repos.tracks.list_for_set(s.id) == result
        # other fields untouched
        assert {attrs.evolve(t, position=0) for t in result} == {
            attrs.evolve(t, position=0) for t in stored
        }

    def test_reorder_after_a_delete_closes_the_gap_and_add_appends(
        self, repos: Repositories
    ) -> None:
        s = _set(repos)
        stored = repos.tracks.add_many([b.track(s.id) for _ in range(3)])
        repos.tracks.delete(stored[0].id)
        result = repos.tracks.reorder(s.id, [stored[2].id, stored[1].id])
        assert [t.position for t in result] == [0, 1]
        (new,) = repos.tracks.add_many([b.track(s.id)])
        assert new.position == 2

    @pytest.mark.parametrize(
        ("pick", "problem"),
        [
            ([0, 1], "missing"),
            ([0, 1, 2, 2], "more than once"),
            ([0, 1, 2, "other"], "not in this set"),
            ([0, 0, 1], "more than once"),
            ([], "missing"),
        ],
    )
    def test_reorder_must_list_every_track_exactly_once(
        self, repos: Repositories, pick: list[int | str], problem: str
    ) -> None:
        s, other = _set(repos), _set(repos)
        stored = repos.tracks.add_many([b.track(s.id) for _ in range(3)])
        (foreign,) = repos.tracks.add_many([b.track(other.id)])
        ids = [foreign.id if p == "other" else stored[int(p)].id for p in pick]
        with pytest.raises(UnprocessableEntity, match=problem):
            repos.tracks.reorder(s.id, ids)
        assert repos.tracks.list_for_set(s.id) == stored
        assert repos.tracks.get(foreign.id) == foreign

    def test_reorder_of_a_missing_set_is_not_found(self, repos: Repositories) -> None:
        with pytest.raises(NotFound):
            repos.tracks.reorder("nope", [])

    def test_reorder_of_an_empty_set_with_no_ids_is_fine(self, repos: Repositories) -> None:
        s = _set(repos)
        assert repos.tracks.reorder(s.id, []) == []

    def test_track_object_keys_are_originals_and_renditions(self, repos: Repositories) -> None:
        s = _set(repos)
        t1, t2 = b.track(s.id), b.track(s.id)
        t1 = attrs.evolve(t1, renditions=b.tiers(s.id, t1.id))
        repos.tracks.add_many([t1, t2])
        assert sorted(repos.tracks.iter_object_keys()) == sorted(
            t1.object_keys() + t2.object_keys()
        )

    def test_concurrent_add_many_from_8_threads_gives_unique_contiguous_positions(
        self,
        repos: Repositories,
    ) -> None:
        s = _set(repos)
        threads, calls, per_call = 8, 3, 4
        barrier = threading.Barrier(threads)
        errors: list[BaseException] = []
        returned: list[Track] = []
        lock = threading.Lock()

        def writer() -> None:
            try:
                barrier.wait()
                for _ in range(calls):
                    got = repos.tracks.add_many([b.track(s.id) for _ in range(per_call)])
                    # one call's tracks are contiguous and in order
                    assert [t.position for t in got] == list(
                        range(got[0].position, got[0].position + per_call)
                    )
                    with lock:
                        returned.extend(got)
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=writer) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        stored = repos.tracks.list_for_set(s.id)
        total = threads * calls * per_call
        assert [t.position for t in stored] == list(range(total))
        assert sorted(_ids(stored)) == sorted(_ids(returned))

    def test_count_for_sets_counts_each_given_set_and_zero_for_the_rest(
        self,
        repos: Repositories,
    ) -> None:
        """Every given id is in the answer: its track count, 0 for an empty or unknown set."""
        one, two, empty = _set(repos), _set(repos), _set(repos)
        repos.tracks.add_many([b.track(one.id) for _ in range(3)] + [b.track(two.id)])
        counts = repos.tracks.count_for_sets([two.id, empty.id, "unknown", one.id])
        assert counts == {one.id: 3, two.id: 1, empty.id: 0, "unknown": 0}
        assert repos.tracks.count_for_sets([two.id]) == {two.id: 1}  # others are not counted
        assert repos.tracks.count_for_sets([]) == {}

    def test_count_for_sets_follows_deletes_and_takes_repeated_ids(
        self, repos: Repositories
    ) -> None:
        s = _set(repos)
        stored = repos.tracks.add_many([b.track(s.id) for _ in range(2)])
        assert repos.tracks.delete(stored[0].id) is True
        assert repos.tracks.count_for_sets([s.id, s.id]) == {s.id: 1}
        assert repos.tracks.count_for_sets([s.id]) == {s.id: len(repos.tracks.list_for_set(s.id))}

    def test_count_for_sets_takes_more_ids_than_one_statement_binds(
        self, repos: Repositories
    ) -> None:
        """A long id list (more than one batch of bound parameters) is counted whole."""
        sets = [_set(repos) for _ in range(3)]
        repos.tracks.add_many([b.track(s.id) for n, s in enumerate(sets) for _ in range(n + 1)])
        unknown = [f"none-{n}" for n in range(1200)]
        ids = [sets[0].id, *unknown[:600], sets[1].id, *unknown[600:], sets[2].id]
        counts = repos.tracks.count_for_sets(ids)
        assert len(counts) == len(ids)
        assert [counts[s.id] for s in sets] == [1, 2, 3]
        assert sum(counts.values()) == 6

    # --- get_with_set_visibility: the Range proxy's one-read lookup ---

    def test_a_track_comes_with_its_sets_visibility(self, repos: Repositories) -> None:
        shown = b.music_set(visible=True)
        hidden = b.music_set(visible=False)
        repos.music_sets.add(shown)
        repos.music_sets.add(hidden)
        (in_shown,) = repos.tracks.add_many([b.track(shown.id, title="a")])
        (in_hidden,) = repos.tracks.add_many([b.track(hidden.id, title="b")])
        assert repos.tracks.get_with_set_visibility(in_shown.id) == (in_shown, True)
        assert repos.tracks.get_with_set_visibility(in_hidden.id) == (in_hidden, False)
        # the same track get() returns, every field included
        found = repos.tracks.get_with_set_visibility(in_shown.id)
        assert found is not None
        assert found[0] == repos.tracks.get(in_shown.id)

    def test_it_follows_the_sets_visibility_and_deletions(self, repos: Repositories) -> None:
        s = b.music_set()
        repos.music_sets.add(s)
        (t,) = repos.tracks.add_many([b.track(s.id)])
        repos.music_sets.update(s.id, {"visible": not s.visible})
        assert repos.tracks.get_with_set_visibility(t.id) == (t, not s.visible)
        repos.tracks.delete(t.id)
        assert repos.tracks.get_with_set_visibility(t.id) is None
        (t2,) = repos.tracks.add_many([b.track(s.id)])
        repos.music_sets.delete(s.id)  # its tracks go with it
        assert repos.tracks.get_with_set_visibility(t2.id) is None

    def test_an_unknown_id_is_none(self, repos: Repositories) -> None:
        assert repos.tracks.get_with_set_visibility("nope") is None
        image = b.image()
        repos.images.add_many([image])
        assert repos.tracks.get_with_set_visibility(image.id) is None  # an image is no track
