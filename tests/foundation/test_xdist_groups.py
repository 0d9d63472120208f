"""The suite's own parallel runs: tests grouped by server kind reach pytest-xdist's
``loadgroup`` scheduler as one unit (``nodeid@group``), so one worker starts each kind."""

from __future__ import annotations

import os
import types

import pytest
from _pytest.nodeid import NodeId

from tests.conftest import _PinGroupsToWorkers


def test_grouped_ids_carry_their_group_exactly_in_a_loadgroup_worker(
    request: pytest.FixtureRequest,
) -> None:
    """In an xdist worker under ``--dist loadgroup`` (the whole suite) every grouped test's
    id ends in ``@group``, what the scheduler splits on; elsewhere (one process) and for
    ungrouped tests the ids are unchanged."""
    loadgroup = bool(os.environ.get("PYTEST_XDIST_WORKER")) and getattr(
        request.config.option, "loadgroup", False
    )
    for item in request.session.items:
        mark = item.get_closest_marker("xdist_group")
        suffix = item.nodeid.rpartition("]")[2]
        if mark is not None and loadgroup:
            assert suffix.endswith(f"@{mark.args[0]}"), item.nodeid
        else:
            assert "@" not in suffix, item.nodeid


class _Item:
    """An item as the hook sees it: an ``_id`` (pytest >= 9.2) and its markers."""

    def __init__(self, nodeid: str, group: str | None) -> None:
        self._id = NodeId.parse(nodeid)
        self._mark = None if group is None else pytest.mark.xdist_group(group).mark

    @property
    def nodeid(self) -> str:
        return str(self._id)

    def get_closest_marker(self, name: str) -> object:
        return self._mark if name == "xdist_group" else None


def test_the_hook_adds_the_group_once_and_only_under_loadgroup() -> None:
    """Grouped ids get ``@group`` once (a second pass, or xdist having done it, changes
    nothing); ungrouped ids and runs without loadgroup are left alone."""
    hook = _PinGroupsToWorkers()
    items = [
        _Item("tests/a.py::test_x[fastapi-GET]", "sec-fastapi"),
        _Item("tests/b.py::test_y", "release_wheel"),
        _Item("tests/c.py::test_z[p]", None),
    ]
    plain = [i.nodeid for i in items]
    off = types.SimpleNamespace(option=types.SimpleNamespace(loadgroup=False))
    hook.pytest_collection_modifyitems(off, items)  # type: ignore[arg-type]
    assert [i.nodeid for i in items] == plain
    on = types.SimpleNamespace(option=types.SimpleNamespace(loadgroup=True))
    for _ in range(2):
        hook.pytest_collection_modifyitems(on, items)  # type: ignore[arg-type]
        assert [i.nodeid for i in items] == [
            "tests/a.py::test_x[fastapi-GET]@sec-fastapi",
            "tests/b.py::test_y@release_wheel",
            "tests/c.py::test_z[p]",
        ]
