"""The fixture of the repository contracts."""

from __future__ import annotations

import pytest

from mediakit.repositories import Repositories


class RepositoryFixtures:
    """The fixture of the repository contracts: override :meth:`make_repositories` (or the
    ``repos`` fixture itself, to parametrize it over several implementations)."""

    def make_repositories(self, request: pytest.FixtureRequest) -> Repositories:
        """Fresh, empty repositories for one test (``request``: the pytest request, for
        other fixtures such as ``tmp_path`` and for ``request.addfinalizer`` clean-up)."""
        raise NotImplementedError(f"{type(self).__name__} must override make_repositories()")

    @pytest.fixture
    def repos(self, request: pytest.FixtureRequest) -> Repositories:
        """Fresh, empty repositories from :meth:`make_repositories`."""
        return self.make_repositories(request)
