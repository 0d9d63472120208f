"""mediakit.testing from the outside: a third party's store and repositories, defined here
with mediakit's public API only, pass the shipped contracts; a broken store fails them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mediakit.repositories import Repositories
from mediakit.repositories.memory import MemoryRepositories
from mediakit.storage import AsyncObjectStore, MemoryObjectStore, ObjectStore
from mediakit.testing import (
    ObjectStoreContract,
    RangeOpenerContract,
    RepositoriesContract,
    StoreHarness,
)
from tests.testing.dict_store import DictStore

ROOT = Path(__file__).resolve().parents[2]


class TestDictStore(ObjectStoreContract):
    """A store written from the protocol keeps the contract."""

    def make_store(self, tmp_path: Path) -> ObjectStore | AsyncObjectStore:
        return DictStore(bucket="media")


class VendorStore(MemoryObjectStore):
    """A vendor's store built on mediakit's memory store (it has ``open_range`` too)."""


class TestVendorStore(ObjectStoreContract, RangeOpenerContract):
    """Two contracts in one class: every test of both runs once."""

    def make_store(self, tmp_path: Path) -> ObjectStore | AsyncObjectStore:
        return VendorStore("vendor")


class VendorRepositories(MemoryRepositories):
    """A vendor's repositories, built on mediakit's memory repositories."""


class TestVendorRepositories(RepositoriesContract):
    """The whole repository contract, against the vendor's repositories."""

    def make_repositories(self, request: pytest.FixtureRequest) -> Repositories:
        return VendorRepositories.create()


def test_a_contract_without_a_store_says_what_to_override(tmp_path: Path) -> None:
    with pytest.raises(NotImplementedError, match=r"must override make_store\(\)"):
        ObjectStoreContract().make_store(tmp_path)
    with pytest.raises(NotImplementedError, match="simulate_crashed_upload"):
        StoreHarness(DictStore("b")).simulate_crashed_upload("k")


BROKEN = """
from mediakit.testing import ObjectStoreContract
from tests.testing.dict_store import DictStore


class UnsortedStore(DictStore):
    def list_keys(self, prefix=""):
        return iter([k for k in self.objects if k.startswith(prefix)])  # insertion order


class TestUnsortedStore(ObjectStoreContract):
    def make_store(self, tmp_path):
        return UnsortedStore(bucket="media")
"""


def test_a_store_that_breaks_the_contract_fails_it(tmp_path: Path) -> None:
    """Run from outside (a fresh pytest in an empty directory): the broken behaviour's
    test fails, showing the compared values (the contract's asserts are rewritten), and
    the others pass."""
    (tmp_path / "test_broken.py").write_text(textwrap.dedent(BROKEN))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_broken.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-2000:]
    assert "FAILED test_broken.py::TestUnsortedStore::test_list_keys_by_prefix_in_order" in r.stdout
    assert "1 failed, 15 passed" in r.stdout, r.stdout[-3000:]
    assert "At index 0 diff: 'p/b/d' != 'p-x'" in r.stdout, r.stdout[-3000:]  # introspected


@pytest.mark.parametrize("missing", ["pytest", "hypothesis"])
def test_without_the_testing_extra_the_import_says_what_to_install(missing: str) -> None:
    code = f"import sys; sys.modules[{missing!r}] = None; import mediakit.testing"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 1
    assert f"mediakit.testing needs {missing}" in r.stderr, r.stderr[-2000:]
    assert 'pip install "mediakit[testing]"' in r.stderr
