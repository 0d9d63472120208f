"""``TrackRepository.get_with_set_visibility`` (the Range proxy's one-read lookup),
against every implementation (memory, SQLite, PostgreSQL, the Django ORM)."""

from __future__ import annotations

from mediakit.repositories import Repositories
from tests.repositories import builders as b


def test_a_track_comes_with_its_sets_visibility(repos: Repositories) -> None:
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


def test_it_follows_the_sets_visibility_and_deletions(repos: Repositories) -> None:
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


def test_an_unknown_id_is_none(repos: Repositories) -> None:
    assert repos.tracks.get_with_set_visibility("nope") is None
    image = b.image()
    repos.images.add_many([image])
    assert repos.tracks.get_with_set_visibility(image.id) is None  # an image is no track
