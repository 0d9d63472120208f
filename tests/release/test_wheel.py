"""Release readiness: the wheel holds every package and data file, installs into a clean
virtual environment, and a smoke subset of the tests passes against the installed wheel,
run from a copy of the tests outside the source tree (so ``src/`` is not importable).

The full suite against the wheel is ``nox -s wheel``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import mediakit
from tests.release import installs

ROOT = Path(__file__).resolve().parents[2]
SMOKE = [
    "tests/foundation",
    "tests/http/test_ranges.py",
    "tests/fastapi_adapter/test_adapter.py",
    "tests/cli/test_cli.py",
]
TEST_TOOLS = [
    "pytest>=8",
    "pytest-timeout>=2.3",
    "pytest-xdist>=3.5",  # pyproject's addopts has -n auto
    "hypothesis>=6.100",
    "httpx>=0.27",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(release_wheel: Path) -> Path:
    """The wheel, built from this tree in an isolated build environment (once per session)."""
    return release_wheel


def test_wheel_holds_every_package_data_file_and_the_console_script(wheel: Path) -> None:
    assert wheel.name == f"mediakit-{mediakit.__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "mediakit/__init__.py",
        "mediakit/py.typed",
        "mediakit/cli/__init__.py",
        "mediakit/cli/__main__.py",
        "mediakit/storage/s3.py",
        "mediakit/repositories/sql/__init__.py",
        "mediakit/testing/__init__.py",
        "mediakit_fastapi/__init__.py",
        "mediakit_fastapi/py.typed",
        "mediakit_django/__init__.py",
        "mediakit_django/py.typed",
        "mediakit_django/apps.py",
        "mediakit_django/migrations/__init__.py",
        "mediakit_django/migrations/0001_initial.py",
    }
    assert expected <= names, sorted(expected - names)
    for package_dir in ("templates", "static"):  # shipped whenever the Django app has them
        src = ROOT / "adapters" / "mediakit_django" / package_dir
        for f in src.rglob("*") if src.is_dir() else ():
            if f.is_file():
                assert f"mediakit_django/{f.relative_to(src.parent)}" in names
    assert not any("__pycache__" in n or n.startswith(("tests/", "src/")) for n in names)
    dist_info = f"mediakit-{mediakit.__version__}.dist-info"
    meta = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert f"Version: {mediakit.__version__}" in meta
    assert "License-Expression: MIT" in meta
    assert "Provides-Extra: fastapi" in meta
    assert "Provides-Extra: django" in meta
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "mediakit = mediakit.cli:main" in entry_points
    assert any(n.startswith(f"{dist_info}/licenses/LICENSE") for n in names)


def _copy_tests(dest: Path) -> None:
    """The tests and the files they read, without src/ or adapters/."""
    for part in ("tests", "docs", "scripts", "examples", ".ci"):
        shutil.copytree(
            ROOT / part, dest / part, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis")
        )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dest / name)


@pytest.mark.timeout(900)
def test_smoke_tests_pass_against_the_wheel_in_a_clean_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = installs.clean_env()
    result = installs.Result("wheel")
    try:  # uv when it is there (seconds), pip otherwise; both with their download caches
        py = installs.venv_python(result, sys.executable, venv, tmp_path, env)
        installs.install(result, py, [f"{wheel}[fastapi]", *TEST_TOOLS], tmp_path, env)
    except installs.StepFailed:
        pytest.fail("\n\n".join(result.log)[-4000:])

    work = tmp_path / "work"
    _copy_tests(work)
    site = subprocess.run(
        [str(py), "-c", "import mediakit, mediakit_fastapi, sys; print(mediakit.__file__); "
         "print(mediakit_fastapi.__file__); print(mediakit.__version__)"],
        capture_output=True, text=True, cwd=work, env=env, check=True,
    ).stdout.split()  # fmt: skip
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(site[0]).is_relative_to(purelib), site
    assert Path(site[1]).is_relative_to(purelib), site
    assert site[2] == mediakit.__version__
    assert not Path(site[0]).is_relative_to(ROOT)
    assert sysconfig.get_paths()["purelib"] != purelib  # really another environment

    version = subprocess.run(
        [str(venv / "bin" / "mediakit"), "--version"], capture_output=True, text=True, env=env
    )
    assert version.stdout.strip() == f"mediakit {mediakit.__version__}"

    r = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not s3 and not slow",
         # lint/type checks are about the source tree, not the installed wheel
         "--ignore", "tests/foundation/test_quality.py",
         "--ignore", "tests/foundation/test_unasync.py",  # generated files of the source tree
         # needs Django, which this venv ([fastapi]) does not install; the [django] install
         # set runs Django's checks (tests/release/test_installs.py)
         "--deselect", "tests/foundation/test_preflight.py::test_django_check_reports_a_missing_ffmpeg",
         *SMOKE],
        capture_output=True, text=True, cwd=work, env=env, timeout=600,
    )  # fmt: skip
    tail = r.stdout[-4000:] + r.stderr[-2000:]
    assert r.returncode == 0, tail
    assert " passed" in r.stdout
    assert " failed" not in r.stdout


def test_sdist_holds_what_the_tests_need_and_both_pass_twine_check(tmp_path: Path) -> None:
    uv = installs.uv_path()  # like python -m build: the sdist, then the wheel from it
    build = [uv, "build"] if uv else [sys.executable, "-m", "build"]
    r = subprocess.run(
        [*build, "--out-dir" if uv else "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (sdist,) = tmp_path.glob("mediakit-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in (
        "src/mediakit/py.typed",
        "adapters/mediakit_django/migrations/0001_initial.py",
        "tests/conftest.py",
        "docs/configuration.md",
        "scripts/gen_config_docs.py",
        ".ci/run",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "mkdocs.yml",
        "noxfile.py",
    ):
        assert needed in names, needed
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "twine",
            "check",
            "--strict",
            *map(str, [*tmp_path.glob("*.whl"), *tmp_path.glob("*.tar.gz")]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
