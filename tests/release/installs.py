"""Install smoke runs: the wheel, built once, installed into a clean virtualenv per install
set (core only, ``[fastapi]``, ``[django]``, ``[all]``), each running its own smoke script
from a copy outside the source tree, plus ``mypy --strict`` over a typed user app for each
adapter (and a misuse of the typed values that mypy must reject).

Run by ``nox -s installs`` and by ``tests/release/test_installs.py``; standalone::

    python tests/release/installs.py [--sets core,fastapi,django,all] [--python PY]

Fast on purpose: one wheel for all sets, the sets in parallel, uv for venvs and installs
when it is on PATH (pip otherwise), both with their shared download caches. The S3 server
for the Django and ``all`` sets is moto in server mode, started once by this script (moto
must be importable by the Python running it; the virtualenvs themselves do not get it).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SMOKE = HERE / "smoke"
TYPED = HERE / "typed_apps"
ACCESS_KEY = "mediakit-installs-access"
SECRET_KEY = "mediakit-installs-secret-key-0123456789"


@dataclass(frozen=True)
class InstallSet:
    """One way to install mediakit, what it brings for its checks, and how it is checked."""

    name: str
    extra: str  # "" for the core alone
    tools: tuple[str, ...] = ()  # test-only packages (never part of what a user installs)
    typed_app: str | None = None  # folder under typed_apps/ checked with mypy --strict
    needs_s3: bool = False


SETS: dict[str, InstallSet] = {
    s.name: s
    for s in (
        InstallSet("core", ""),
        InstallSet("fastapi", "fastapi", ("httpx>=0.27", "mypy>=1.10"), "fastapi_app"),
        InstallSet(
            "django",
            "django",
            ("httpx>=0.27", "mypy>=1.10", "django-stubs>=5"),
            "django_project",
            needs_s3=True,
        ),
        InstallSet("all", "all", (), needs_s3=True),
    )
}


@dataclass
class Result:
    """What one install set did: ``ok``, the seconds per step, and the output to show."""

    name: str
    ok: bool = False
    steps: dict[str, float] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the set, pass/fail and the time of each step."""
        times = ", ".join(f"{k} {v:.1f}s" for k, v in self.steps.items())
        return f"{self.name:8} {'ok' if self.ok else 'FAILED'} ({times})"


class StepFailed(Exception):
    """A command of a smoke run exited non-zero."""


def uv_path() -> str | None:
    """uv beside this interpreter or on ``PATH``, if installed."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv")


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that would reach into the source tree or
    configure mediakit (``PYTHONPATH``, an active virtualenv, ``MEDIA*``, Django settings)."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "DJANGO_SETTINGS_MODULE", "MEDIA")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


def _run(result: Result, step: str, cmd: Sequence[str], *, cwd: Path, env: dict[str, str]) -> str:
    start = time.monotonic()
    r = subprocess.run(
        list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    result.steps[step] = result.steps.get(step, 0.0) + time.monotonic() - start
    out = (r.stdout + r.stderr).strip()
    result.log.append(f"$ {' '.join(map(str, cmd))}  [{step}, exit {r.returncode}]\n{out}")
    if r.returncode != 0:
        raise StepFailed(step)
    return out


def build_wheel(out: Path) -> Path:
    """The wheel, built from this tree in an isolated build environment."""
    uv = uv_path()
    cmd = (
        [uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)]
        if uv
        else [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)]
    )
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"building the wheel failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    (wheel,) = out.glob("mediakit-*.whl")
    return wheel


@dataclass(frozen=True)
class S3Server:
    """An S3 endpoint for the smoke runs."""

    url: str

    def env(self, bucket: str) -> dict[str, str]:
        """mediakit's S3 settings for ``bucket`` on this server."""
        return {
            "MEDIAKIT_STORAGE": "s3",
            "MEDIA_S3_ENDPOINT": self.url,
            "MEDIA_ASSETS_BUCKET": bucket,
            "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "MEDIA_S3_REGION": "us-east-1",
        }


@contextlib.contextmanager
def moto_server(log_dir: Path) -> Iterator[S3Server]:
    """moto in server mode on a free port of 127.0.0.1, stopped on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = (log_dir / "moto.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto exited: {(log_dir / 'moto.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("moto did not start in 60 s")
            time.sleep(0.1)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def venv_python(result: Result, python: str, venv: Path, work: Path, env: dict[str, str]) -> Path:
    """A new virtualenv at ``venv`` from ``python``; its interpreter."""
    uv = uv_path()
    if uv:
        _run(result, "venv", [uv, "venv", "-q", "--python", python, str(venv)], cwd=work, env=env)
    else:
        _run(result, "venv", [python, "-m", "venv", str(venv)], cwd=work, env=env)
    return venv / "bin" / "python"


def install(
    result: Result, py: Path, requirements: Sequence[str], work: Path, env: dict[str, str]
) -> None:
    """Install ``requirements`` into the virtualenv of ``py``."""
    uv = uv_path()
    if uv:
        cmd = [uv, "pip", "install", "-q", "--python", str(py), *requirements]
    else:
        cmd = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements]
    _run(result, "install", cmd, cwd=work, env=env)


def _mypy(result: Result, py: Path, app: Path, cache: Path, env: dict[str, str]) -> None:
    """``mypy --strict`` passes on the app and rejects its misuse file."""
    targets = sorted(str(p.relative_to(app)) for p in app.rglob("*.py") if p.name != "misuse.py")
    mypy = [str(py), "-m", "mypy", "--strict", "--cache-dir", str(cache)]
    _run(result, "mypy", [*mypy, *targets], cwd=app, env=env)
    start = time.monotonic()
    r = subprocess.run(
        [*mypy, "misuse.py"], cwd=app, env=env, capture_output=True, text=True, check=False
    )
    result.steps["mypy"] += time.monotonic() - start
    result.log.append(f"$ mypy --strict misuse.py  [must fail, exit {r.returncode}]\n{r.stdout}")
    # Both mistakes are caught, each naming the TypedDict: the values are typed, not Any.
    if r.returncode != 1 or r.stdout.count("error:") < 2 or "TypedDict" not in r.stdout:
        raise StepFailed("mypy (misuse)")


def cache_root(python: str) -> Path:
    """Where the sets of ``python`` live between runs.

    Each run deletes and recreates a set's virtualenv, so every install is clean; the fixed
    place only lets mypy's cache (kept beside it) stay valid: uv links files from its cache,
    keeping their times, and mypy re-checks only what changed (a cold mypy run is most of a
    set's time). A lock per set keeps concurrent runs apart.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(str(Path(python).resolve()).encode()).hexdigest()[:12]
    return base / "mediakit-installs" / key


def run_set(spec: InstallSet, wheel: Path, python: str, root: Path, s3: S3Server | None) -> Result:
    """Install ``spec`` into a new virtualenv under ``root`` and run its checks."""
    result = Result(spec.name)
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{spec.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        home = root / spec.name
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        try:
            _run_set(result, spec, wheel, python, home, root / f"{spec.name}.mypy_cache", s3)
            result.ok = True
        except (StepFailed, subprocess.TimeoutExpired, OSError) as exc:
            result.log.append(f"FAILED: {exc!r}")
    return result


def _run_set(
    result: Result,
    spec: InstallSet,
    wheel: Path,
    python: str,
    home: Path,
    mypy_cache: Path,
    s3: S3Server | None,
) -> None:
    env = clean_env()
    py = venv_python(result, python, home / "venv", home, env)
    target = f"{wheel}[{spec.extra}]" if spec.extra else str(wheel)
    install(result, py, [target, *spec.tools], home, env)
    # Copies outside the source tree: only what pip installed is importable.
    shutil.copytree(SMOKE, home / "smoke", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", home / "README.md")
    smoke_env = env
    if spec.needs_s3:
        assert s3 is not None
        smoke_env = {**env, **s3.env(f"mk-installs-{os.getpid()}-{spec.name}")}
    script = {
        "core": ["core_smoke.py", str(home / "README.md")],
        "fastapi": ["fastapi_smoke.py", str(home / "app"), str(home / "README.md")],
        "django": ["django_smoke.py", str(home / "app")],
        "all": ["all_smoke.py"],
    }[spec.name]
    smoke = [str(py), str(home / "smoke" / script[0]), *script[1:]]
    if not spec.typed_app:
        _run(result, "smoke", smoke, cwd=home / "smoke", env=smoke_env)
        return
    # The smoke run and mypy use separate copies of the app (Django writes its database
    # beside the project), and run side by side.
    for copy in ("app", "typed"):
        shutil.copytree(
            TYPED / spec.typed_app, home / copy, ignore=shutil.ignore_patterns("__pycache__")
        )
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        checked = pool.submit(_mypy, result, py, home / "typed", mypy_cache, env)
        _run(result, "smoke", smoke, cwd=home / "smoke", env=smoke_env)
        checked.result()


def run(
    names: Sequence[str] = tuple(SETS),
    *,
    python: str | None = None,
    wheel: Path | None = None,
    root: Path | None = None,
    parallel: int = 4,
) -> list[Result]:
    """Build the wheel (unless given) and run the named sets, ``parallel`` at a time."""
    python = python or sys.executable
    root = root or cache_root(python)
    specs = [SETS[n] for n in names]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mediakit-installs-")))
        wheel = wheel or build_wheel(tmp / "dist")
        s3 = stack.enter_context(moto_server(tmp)) if any(s.needs_s3 for s in specs) else None
        with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
            return list(pool.map(lambda s: run_set(s, wheel, python, root, s3), specs))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the sets, print a summary (and the log of each failed set)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated install sets")
    parser.add_argument("--python", default=None, help="interpreter for the virtualenvs")
    parser.add_argument("--parallel", type=int, default=4, help="sets at a time")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SETS))
    if unknown:
        parser.error(f"unknown install sets {unknown}; known: {sorted(SETS)}")
    start = time.monotonic()
    results = run(names, python=args.python, parallel=args.parallel)
    for r in results:
        if not r.ok:
            print(f"\n===== {r.name}: FAILED =====\n" + "\n\n".join(r.log), file=sys.stderr)
    for r in results:
        print(r.summary())
    print(f"install sets: {len(results)} in {time.monotonic() - start:.1f}s")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
