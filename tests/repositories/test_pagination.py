"""Cursor pagination is stable under concurrent inserts and deletes (property test).

Hypothesis draws a listing, then interleaves page fetches with inserts and deletes.
Against a simple model, every implementation must: never return an item twice, never
skip an item that existed for the whole walk, keep the walk strictly newest-first,
and only return items that exist when their page is read.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediakit.models import Image
from mediakit.repositories import Repositories
from mediakit.repositories._cursor import decode_cursor
from mediakit.testing import builders as b
from tests.quick import examples

# few distinct timestamps, so ties on created_at (broken by id) are common
_slot = st.integers(0, 4)
_insert = st.tuples(st.just("insert"), _slot, st.booleans())
_delete = st.tuples(st.just("delete"), st.integers(0, 10_000), st.booleans())
_page = st.tuples(st.just("page"), st.integers(1, 4), st.booleans())
_ids = itertools.count()


def _clear(repos: Repositories) -> None:
    while items := repos.images.list(visible_only=False, limit=500).items:
        for i in items:
            repos.images.delete(i.id)


def _new(slot: int, visible: bool) -> Image:
    # ids of mixed case so byte-wise order is exercised
    n = next(_ids)
    return b.image(
        id=f"{'Aa'[n % 2]}{n:06d}",
        created_at=b.T0 + timedelta(seconds=slot),
        visible=visible,
    )


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.lists(st.tuples(_slot, st.booleans()), max_size=12),
    ops=st.lists(st.one_of(_insert, _delete, _page), max_size=14),
    visible_only=st.booleans(),
)
def test_pages_never_skip_or_repeat_items_while_rows_change(
    repos: Repositories,
    initial: list[tuple[int, bool]],
    ops: list[tuple[str, int, bool]],
    visible_only: bool,
) -> None:
    _clear(repos)
    model: dict[str, Image] = {}
    seed = [_new(slot, vis) for slot, vis in initial]
    repos.images.add_many(seed)
    model.update((i.id, i) for i in seed)
    touched: set[str] = set()  # deleted (or inserted) during the walk
    returned: list[Image] = []
    cursor: str | None = None
    done = False

    def fetch(limit: int) -> None:
        nonlocal cursor, done
        page = repos.images.list(visible_only=visible_only, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        for item in page.items:
            assert item.id in model, "a page returned a row that no longer exists"
            assert model[item.id] == item
            assert item.visible or not visible_only
        returned.extend(page.items)
        if page.next_cursor is None:
            done = True
        else:
            assert len(page.items) == limit
            key = decode_cursor(page.next_cursor)
            assert (key.created_at, key.id) == (page.items[-1].created_at, page.items[-1].id)
        cursor = page.next_cursor

    for kind, arg, flag in ops:
        if kind == "insert":
            new = _new(arg, flag)
            repos.images.add_many([new])
            model[new.id] = new
            touched.add(new.id)
        elif kind == "delete" and model:
            victim = sorted(model)[arg % len(model)]
            assert repos.images.delete(victim) is True
            del model[victim]
            touched.add(victim)
        elif kind == "page" and not done:
            fetch(arg)
    while not done:
        fetch(3)

    ids = [i.id for i in returned]
    assert len(ids) == len(set(ids)), "an item was returned twice"
    keys = [(i.created_at, i.id) for i in returned]
    assert keys == sorted(keys, reverse=True), "the walk is not newest-first"
    stable = {i.id for i in seed if i.id not in touched and (i.visible or not visible_only)}
    assert stable <= set(ids), "an item present for the whole walk was skipped"
