"""Contract test suites for third-party object stores and repositories.

mediakit runs one suite against every object store (S3 on moto, nanio and Ceph RGW through
boto3 and aioboto3, the filesystem, memory) and one against every set of repositories
(memory, SQLite, PostgreSQL, the Django ORM). This module ships those suites, so that your
own store or repositories can prove they keep the same contract. It needs pytest and
hypothesis: ``pip install "mediakit[testing]"``.

Subclass a contract in a ``Test*`` class and say how to make a fresh instance::

    from mediakit.testing import ObjectStoreContract, RepositoriesContract

    class TestMyStore(ObjectStoreContract):
        def make_store(self, tmp_path):
            return MyStore(bucket="media")

    class TestMyRepositories(RepositoriesContract):
        def make_repositories(self, request):
            return MyRepositories.connect(...)

pytest collects every test of the contract in your class. To run it over several
backends, override the ``store`` (or ``repos``) fixture with a parametrized one. See the
how-to "Testing your own store".
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401  (the contracts draw spans with it)
    import pytest
except ImportError as exc:  # pragma: no cover - the message is tested in a subprocess
    raise ImportError(
        f"mediakit.testing needs {exc.name}, which mediakit itself does not install: "
        'pip install "mediakit[testing]"'
    ) from exc

# the contracts' asserts show the compared values, as in a test module, when a test
# session imports this package (registered before the modules are imported)
pytest.register_assert_rewrite(
    "mediakit.testing._storage",
    "mediakit.testing._repo_images",
    "mediakit.testing._repo_leases",
    "mediakit.testing._repo_ready",
    "mediakit.testing._repo_tracks",
)

from mediakit.testing import builders
from mediakit.testing._repo_fixtures import RepositoryFixtures
from mediakit.testing._repo_images import ImagesContract
from mediakit.testing._repo_leases import LeasesContract
from mediakit.testing._repo_ready import ReadyOnlyContract
from mediakit.testing._repo_tracks import TracksContract
from mediakit.testing._storage import (
    DurableStoreContract,
    ObjectStoreContract,
    RangeOpenerContract,
    StoreFixtures,
    StoreHarness,
    chunked,
)


class RepositoriesContract(ImagesContract, TracksContract, LeasesContract, ReadyOnlyContract):
    """The whole repository contract: images and music sets, tracks, processing leases and
    ``ready_only`` listings. Subclass it and override
    :meth:`~RepositoryFixtures.make_repositories`."""


__all__ = [
    "DurableStoreContract",
    "ImagesContract",
    "LeasesContract",
    "ObjectStoreContract",
    "RangeOpenerContract",
    "ReadyOnlyContract",
    "RepositoriesContract",
    "RepositoryFixtures",
    "StoreFixtures",
    "StoreHarness",
    "TracksContract",
    "builders",
    "chunked",
]
