"""How the suite makes its quick run quick, checked on the live session and on stand-ins:
fewer hypothesis examples (all of them in a full run), moto variants a full run adds back
where nanio runs the same tests, tests sharing a module fixture kept on one xdist worker,
and one worker per core plus one for the whole suite."""

from __future__ import annotations

import os
import sys
import types
from typing import Any

import pytest
from hypothesis import settings

from tests import conftest, quick


def test_examples_are_a_quarter_in_a_quick_run_and_all_in_a_full_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(quick, "full_run", True)
    assert [quick.examples(n) for n in (5, 25, 60, 300)] == [5, 25, 60, 300]
    monkeypatch.setattr(quick, "full_run", False)
    assert [quick.examples(n) for n in (5, 25, 60, 300)] == [10, 10, 15, 75]


def test_this_session_runs_the_examples_its_kind_of_run_asks_for(
    request: pytest.FixtureRequest,
) -> None:
    """The loaded hypothesis profile and the recorded kind of run follow ``--full``/CI."""
    full = conftest._full_run(request.config)
    assert quick.full_run is full
    expected = quick.DEFAULT_EXAMPLES if full else quick.DEFAULT_EXAMPLES // quick.QUICK_SHARE
    assert settings.default.max_examples == expected


class _Def:
    def __init__(self, scope: str, baseid: str = "") -> None:
        self.scope, self.baseid = scope, baseid


def _item(nodeid: str, params: dict[str, Any] | None = None, **fixtures: _Def) -> Any:
    return types.SimpleNamespace(
        nodeid=nodeid,
        callspec=None if params is None else types.SimpleNamespace(params=params, id="-"),
        fixturenames=list(fixtures),
        _fixtureinfo=types.SimpleNamespace(name2fixturedefs={k: [v] for k, v in fixtures.items()}),
        get_closest_marker=lambda name: None,
    )


def test_moto_variants_are_full_only_in_the_files_that_run_them_on_nanio_too() -> None:
    storage = "tests/django/test_storage.py::test_save_then_open_reads_the_same_bytes"
    assert conftest._full_only(_item(f"{storage}[moto]", {"server": "moto"}))
    assert not conftest._full_only(_item(f"{storage}[nanio]", {"server": "nanio"}))
    parts = "tests/storage/test_upload_parts.py::test_sync_part_failing_in_flight_aborts_the_upload"
    assert conftest._full_only(_item(f"{parts}[1-moto_server]", {"server_name": "moto_server"}))
    # elsewhere moto stays (tests/uploads/test_ingest.py has no nanio variant)
    ingest = "tests/uploads/test_ingest.py::test_ingest_stores_every_file[moto]"
    assert not conftest._full_only(_item(ingest, {"store": "moto"}))


def test_tests_sharing_a_module_fixture_are_one_xdist_group() -> None:
    mod = _item("tests/a/test_m.py::test_x", server=_Def("module"), tmp_path=_Def("function"))
    assert conftest._xdist_group(mod) == "module-tests/a/test_m.py"
    cls = _item("tests/a/test_c.py::TestK::test_y", db=_Def("class"))
    assert conftest._xdist_group(cls) == "module-tests/a/test_c.py"
    pkg = _item("tests/p/test_q.py::test_z", shared=_Def("package", "tests/p"))
    assert conftest._xdist_group(pkg) == "package-tests/p"
    plain = _item("tests/a/test_m.py::test_w", moto_server=_Def("session"))
    assert conftest._xdist_group(plain) is None
    # a server kind's group wins: the module fixture is per kind anyway
    kind = _item("tests/h/test_k.py::test_v[fastapi]", {"api": "fastapi"}, seeded=_Def("module"))
    assert conftest._xdist_group(kind) == "api-fastapi"


def test_the_whole_suite_runs_on_a_worker_per_core_plus_one(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.setattr(conftest, "_whole_suite", lambda config: True)
    cores = len(os.sched_getaffinity(0))
    assert conftest.pytest_xdist_auto_num_workers(request.config) == cores + 1
    monkeypatch.setattr(conftest, "_whole_suite", lambda config: False)
    assert conftest.pytest_xdist_auto_num_workers(request.config) == 0
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "5")
    assert conftest.pytest_xdist_auto_num_workers(request.config) is None  # xdist reads it


def test_under_pythondontwritebytecode_bytecode_is_cached_outside_the_tree(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The variable keeps ``__pycache__`` out of the tree; the suite then caches bytecode
    under a prefix (for itself and, through the environment, for its subprocesses)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path))
    monkeypatch.delenv("MEDIAKIT_TESTS_NO_PYCACHE", raising=False)
    conftest._cache_bytecode_outside_the_tree()
    assert (sys.dont_write_bytecode, sys.pycache_prefix) == (False, str(tmp_path))
    assert "PYTHONDONTWRITEBYTECODE" not in os.environ
    assert os.environ["PYTHONPYCACHEPREFIX"] == str(tmp_path)
    # opted out: left as it is
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    monkeypatch.setenv("MEDIAKIT_TESTS_NO_PYCACHE", "1")
    conftest._cache_bytecode_outside_the_tree()
    assert (sys.dont_write_bytecode, sys.pycache_prefix) == (True, None)
