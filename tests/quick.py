"""Quick and full runs of hypothesis tests.

Outside CI the suite runs quick by default (see ``FULL_ONLY_VARIANTS`` in tests/conftest.py);
there every property test runs a quarter of its examples (at least 10), which still finds
the usual counterexamples (hypothesis tries the boundaries and small values first) at a
quarter of the time. A full run (``--full``, ``CI=true``, ``MEDIAKIT_FULL_TESTS=1``) runs
every example count as written.
"""

from __future__ import annotations

QUICK_SHARE = 4
"""A quick run divides each example count by this."""

QUICK_MIN = 10
"""...but never runs fewer examples than this."""

DEFAULT_EXAMPLES = 100
"""hypothesis's own default, which tests without an explicit count get in a full run."""

full_run = True
"""Set by tests/conftest.py's ``pytest_configure`` before any test module is imported."""


def examples(count: int) -> int:
    """``max_examples`` for a property test: ``count`` in a full run, a quarter in a quick
    one (at least :data:`QUICK_MIN`)."""
    return count if full_run else max(QUICK_MIN, count // QUICK_SHARE)


def configure(full: bool) -> None:
    """Record the kind of run; outside a full run, load a hypothesis profile whose default
    count is a quarter too (for tests that do not set ``max_examples``)."""
    global full_run
    full_run = full
    from hypothesis import settings

    settings.register_profile("mediakit-quick", max_examples=examples(DEFAULT_EXAMPLES))
    if not full:
        settings.load_profile("mediakit-quick")
