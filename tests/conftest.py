"""Session-wide fixtures: the real servers (started once, on 127.0.0.1) and S3 buckets."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _cache_bytecode_outside_the_tree() -> None:
    """Under PYTHONDONTWRITEBYTECODE, keep compiled bytecode in a cache outside the tree.

    The variable keeps ``__pycache__`` out of the source tree; it also makes every process of
    the suite (each xdist worker, each reference server, CLI or example subprocess) compile
    mediakit and re-rewrite the asserts of every test module: ~5 s of CPU per worker at
    collection alone. A ``pycache_prefix`` (PEP 3147's PYTHONPYCACHEPREFIX, which pytest's
    assertion rewriter honours) keeps the tree clean and the bytecode cached; subprocesses
    inherit it through the environment. Set MEDIAKIT_TESTS_NO_PYCACHE=1 to opt out.
    """
    if not sys.dont_write_bytecode or os.environ.get("MEDIAKIT_TESTS_NO_PYCACHE"):
        return
    prefix = sys.pycache_prefix or os.environ.get("PYTHONPYCACHEPREFIX")
    if not prefix:
        prefix = str(Path(tempfile.gettempdir()) / f"mediakit-pycache-{os.getuid()}")
    sys.pycache_prefix = prefix
    sys.dont_write_bytecode = False
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


_cache_bytecode_outside_the_tree()

import boto3  # noqa: E402
import pytest  # noqa: E402
from botocore.config import Config  # noqa: E402

from tests import quick, servers  # noqa: E402
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle  # noqa: E402

# moto's server accepts any credentials; use the same ones everywhere.
os.environ.setdefault("AWS_ACCESS_KEY_ID", ACCESS_KEY)
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[ServerHandle]:
    """moto in server mode, one per test session."""
    with servers.running(servers.start_moto) as h:
        yield h


@pytest.fixture(scope="session")
def nanio_server() -> Iterator[ServerHandle]:
    """nanio (checks SigV4 signatures and expiry), one per test session."""
    with servers.running(servers.start_nanio) as h:
        yield h


@pytest.fixture(scope="session")
def ceph_rgw_server() -> Iterator[ServerHandle]:
    """Ceph RGW on a throwaway one-node cluster, one per test session (started on first use,
    in about two seconds; ``extra`` holds its keys and its HTTPS endpoint)."""
    with servers.running(servers.start_ceph_rgw) as h:
        yield h


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ServerHandle]:
    """A throwaway PostgreSQL cluster, one per test session."""
    with servers.running(servers.start_postgres) as h:
        yield h


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ServerHandle]:
    """redis-server, one per test session."""
    with servers.running(servers.start_redis) as h:
        yield h


def s3_client(endpoint: str) -> object:
    """A plain boto3 client for test setup (path-style, non-AWS checksum settings)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


_bucket_counter = iter(range(1, 1_000_000))


@pytest.fixture
def fresh_bucket_name() -> str:
    """A bucket name unique within the session."""
    return f"mk-test-{os.getpid()}-{next(_bucket_counter)}"


# --- quick and full runs ---------------------------------------------------------------
# Outside CI the suite runs quick by default: every behaviour once, on the main variant of
# each server. `--full` (or CI=true, or MEDIAKIT_FULL_TESTS=1) adds the slow tests, Ceph RGW
# and the other variants of each server and store, which repeat the same behaviours.

FULL_ONLY_VARIANTS = frozenset(
    {
        # reference servers (tests/http_contract): FastAPI on the filesystem and Django on
        # SQLite stay; S3, RGW and PostgreSQL variants repeat the contract
        "fastapi-s3",
        "fastapi-rgw",
        "django-postgres",
        "django-asgi-postgres",
        # security attacks (tests/security): FastAPI and Django under ASGI stay; Django
        # under WSGI (gunicorn, sync views) repeats every attack
        "django-wsgi",
        # object stores (tests/storage): boto3 on moto, filesystem and memory stay
        "aioboto3-moto",
        "boto3-nanio",
        "threaded-filesystem",
        # Range proxy servers (tests/proxy): one ASGI and one WSGI kind on memory stay
        "asgi-memory-headfirst",
        "wsgi-memory-headfirst",
        "wsgi-s3",
        # nginx offload (tests/offload): FastAPI on nanio stays
        "fastapi-moto",
        "django-nanio",
    }
)


FULL_ONLY_VARIANTS_IN: dict[str, frozenset[str]] = {
    # moto, where nanio (which also checks every signature, part by part) runs the same
    # tests in the quick run: the Django storage on S3, 17 MiB uploads with a part in
    # flight (each size, each failing part), the fast ranged reader against botocore
    "tests/django/test_storage.py": frozenset({"moto"}),
    "tests/storage/test_upload_parts.py": frozenset({"moto_server"}),
    "tests/storage/test_ranged_http.py": frozenset({"moto"}),
}
"""Variants that only a full run needs in one test file (by the file's node id)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--full``: run every test (the default under CI=true)."""
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="run every test: slow ones, Ceph RGW and every server variant "
        "(the default under CI=true or with MEDIAKIT_FULL_TESTS=1)",
    )


def _full_run(config: pytest.Config) -> bool:
    return bool(
        servers.IN_CI or config.getoption("--full") or os.environ.get("MEDIAKIT_FULL_TESTS")
    )


def _full_only(item: pytest.Item) -> bool:
    if item.get_closest_marker("slow") or item.get_closest_marker("ceph"):
        return True
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return False
    if any(isinstance(v, str) and v in FULL_ONLY_VARIANTS for v in callspec.params.values()):
        return True
    in_file = FULL_ONLY_VARIANTS_IN.get(item.nodeid.split("::")[0], frozenset())
    if any(isinstance(v, str) and v in in_file for v in callspec.params.values()):
        return True
    # a variant whose parameter is not a string (nginx offload's (server, store) pairs) is
    # known by its id, a whole "-"-separated run of the test's parameter id
    test_id = f"-{callspec.id}-"
    return any(f"-{variant}-" in test_id for variant in FULL_ONLY_VARIANTS)


XDIST_GROUPS = ("api", "sec", "offloaded")
"""Fixtures parametrized over server kinds that take seconds to start (the reference servers
of tests/http_contract and tests/security, nginx in front of one in tests/offload). Their
tests are grouped by kind (``xdist_group``): under ``--dist loadgroup`` one worker runs all
tests of a kind and starts its server once, instead of each worker starting every kind."""


XDIST_SHARED = ("release_wheel",)
"""Session fixtures that take long to make (the wheel, built in an isolated environment):
their tests run on one worker, which makes it once."""


def _xdist_group(item: pytest.Item) -> str | None:
    for fixture in XDIST_SHARED:
        if fixture in getattr(item, "fixturenames", ()):
            return fixture
    params = getattr(getattr(item, "callspec", None), "params", {})
    for fixture in XDIST_GROUPS:
        if fixture in params:
            value = params[fixture]
            kind = "-".join(map(str, value)) if isinstance(value, tuple) else str(value)
            return f"{fixture}-{kind}"
    return _shared_by_its_module(item)


def _shared_by_its_module(item: pytest.Item) -> str | None:
    """A test using a module-, class- or package-scoped fixture (a server started for the
    module, generated audio, a migrated database) runs on the worker that runs the other
    tests of its module, which sets the fixture up once (spread over the workers, each
    worker running a test of the module would set it up again)."""
    info = getattr(item, "_fixtureinfo", None)
    for defs in getattr(info, "name2fixturedefs", {}).values():
        if defs and defs[-1].scope in ("module", "class"):
            return f"module-{item.nodeid.split('::')[0]}"
        if defs and defs[-1].scope == "package":
            return f"package-{defs[-1].baseid}"
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests by server kind (see XDIST_GROUPS); a quick run deselects what only a
    full run needs (see FULL_ONLY_VARIANTS)."""
    for item in items:
        group = _xdist_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    if _full_run(config):
        return
    dropped = [item for item in items if _full_only(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not _full_only(item)]


class _PinGroupsToWorkers:
    """Make ``--dist loadgroup`` see the groups (see XDIST_GROUPS) under pytest >= 9.2.

    xdist's worker sends each grouped test to the controller as ``nodeid@group`` by setting
    ``item._nodeid``; pytest 9.2 keeps the id in ``item._id`` instead, so the suffix is lost,
    every test becomes its own unit and each worker starts every server kind (and reseeds
    its module fixtures) as the tests of one kind alternate between workers. Add the suffix
    where it is missing, as xdist would.
    """

    @pytest.hookimpl(trylast=True)  # after xdist's worker hook, which should have done it
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Suffix each grouped test's id with ``@group`` (the worker sends these ids)."""
        if not getattr(config.option, "loadgroup", False):
            return
        for item in items:
            mark = item.get_closest_marker("xdist_group")
            if mark is None or "@" in item.nodeid.rpartition("]")[2]:
                continue
            suffixed = f"{item.nodeid}@{mark.args[0]}"
            if hasattr(item, "_id"):
                from _pytest.nodeid import NodeId  # pytest >= 9.2 keeps the id here

                item._id = NodeId.parse(suffixed)
            else:  # pragma: no cover - older pytest, where xdist's own hook works
                item._nodeid = suffixed  # type: ignore[attr-defined]


def pytest_configure(config: pytest.Config) -> None:
    """Register the xdist group fix (see :class:`_PinGroupsToWorkers`); fewer hypothesis
    examples in a quick run (see tests/quick.py)."""
    quick.configure(full=_full_run(config))
    config.pluginmanager.register(_PinGroupsToWorkers(), "mediakit-pin-xdist-groups")


# --- parallel runs (pytest-xdist) ---------------------------------------------------------
# addopts has `-n auto`. The whole suite (no paths, or `tests`) runs on one worker per core
# plus one: a worker spends much of its time waiting for the servers it talks to (their CPU
# is the other workers' chance), and on 2 cores two workers left a third of the CPU idle. A
# run of chosen files or tests stays in one process, where workers (each importing the
# suite and starting its own servers) would cost more than they save. `-n N` picks N
# workers, `-n 0` none; PYTEST_XDIST_AUTO_NUM_WORKERS sets what `auto` means.


def _whole_suite(config: pytest.Config) -> bool:
    if config.args_source is pytest.Config.ArgsSource.TESTPATHS:
        return True
    here, tests = config.invocation_params.dir, (config.rootpath / "tests").resolve()
    return all((here / arg.split("::")[0]).resolve() == tests for arg in config.args)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: PYTEST_XDIST_AUTO_NUM_WORKERS if set (xdist reads it); no workers for a
    selection of files; for the whole suite one worker per CPU core plus one."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    if not _whole_suite(config):
        return 0
    return len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") else None


def pytest_report_header(config: pytest.Config) -> str:
    """Say which run this is, and how to get the other."""
    if _full_run(config):
        return "mediakit: full run (every variant, slow tests, Ceph RGW)"
    return (
        "mediakit: quick run: slow tests, Ceph RGW and repeated server variants are "
        "deselected, hypothesis runs a quarter of the examples; --full (or CI=true) runs "
        "them all"
    )
