"""The sync twins are generated from the async sources and checked in up to date.

``scripts/unasync.py --check`` is what CI relies on: these tests run it on the tree, and
show on a scratch copy that it fails (with a diff) when a generated file is stale and
that regenerating mends it.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_tool", ROOT / "scripts" / "unasync.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_twins_are_fresh() -> None:
    r = subprocess.run(
        [sys.executable, "scripts/unasync.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, f"stale: run python scripts/unasync.py\n{r.stdout}{r.stderr}"


def test_every_generated_file_carries_its_header() -> None:
    for source, target in _tool().PAIRS:
        first = (ROOT / target).read_text().splitlines()[0]
        assert first.startswith(f"# GENERATED from {source} "), target
        assert "do not edit" in first


def test_check_fails_with_a_diff_on_a_stale_twin_and_regenerating_mends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tool = _tool()
    source, target = tool.PAIRS[0]
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")  # ruff's settings
    for name in (source, target):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    stale = tmp_path / target
    stale.write_text(stale.read_text().replace("    def ", "    def  ", 1) + "# edited\n")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "PAIRS", [(source, target)])

    assert tool.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "-# edited" in out
    assert f"(generated from {source})" in out
    assert "stale" in out

    assert tool.main([]) == 0
    assert stale.read_text() == (ROOT / target).read_text()
    assert tool.main(["--check"]) == 0


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("async def f(x: AsyncIterator[bytes]) -> None:", "def f(x: Iterator[bytes]) -> None:"),
        ("    async with self.limiter.ahold(a):", "    with self.limiter.hold(a):"),
        ("    async for k in store.list_keys(p):", "    for k in store.list_keys(p):"),
        ("    return await  self.store.head(k)", "    return self.store.head(k)"),
        ("[k async for k in it]", "[k for k in it]"),
        ("store: AsyncObjectStore", "store: ObjectStore"),
        ("AsyncMediaService(AsyncServing)", "MediaService(SyncServing)"),
        ("await body.aclose()", "body.close()"),
        (
            "def __aiter__(self): raise StopAsyncIteration",
            "def __iter__(self): raise StopIteration",
        ),
        # whole words only: a name containing a table word is left alone
        ("MyAsyncObjectStore, aclosed, x.asigned", "MyAsyncObjectStore, aclosed, x.asigned"),
        (
            "from mediakit.service._serving_async import",
            "from mediakit.service._serving_sync import",
        ),
        # the async service's database hop and awaited signer become the plain calls
        ("x = await self._db.read(steps.load, self.repos, a)", "x = steps.load(self.repos, a)"),
        ("await self._db.write(\n    self._finish, images, c\n)", "self._finish(images, c\n)"),
        ("await self._asigner.asign(k, content_type=t)", "self.signer.sign(k, content_type=t)"),
        # ingest's worker-thread hops and shielded clean-up become the plain calls, its
        # clean-up left running in the background a thread instead of a task
        (
            "await anyio.to_thread.run_sync(check, copy, name)",
            "check(copy, name)",
        ),
        ("await anyio.to_thread.run_sync(repos.get)", "repos.get()"),
        ("await shielded(_acleanup_now, store, p)", "_cleanup_now(store, p)"),
        ("spawn_task(_acleanup_now, s)", "spawn_thread(_cleanup_now, s)"),
        # a shape the table does not know stays as it is (mypy then fails on the twin)
        (
            "await anyio.to_thread.run_sync(functools.partial(f, a))",
            "anyio.to_thread.run_sync(functools.partial(f, a))",
        ),
        # what only the async side needs is left out
        ("a = 1\n    _db: R = f()  # unasync: remove\nb = 2\n", "a = 1\nb = 2\n"),
    ],
)
def test_substitutions(source: str, expected: str) -> None:
    assert _tool().unasync_text(source) == expected


def test_twin_line_count_gives_generated_twins_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """scripts/twin_lines.py: a generated twin counts 0, a hand-kept one its lines."""
    spec = importlib.util.spec_from_file_location("twin_lines", ROOT / "scripts" / "twin_lines.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    logical, raw = module.count(ROOT, verbose=True)
    rows = capsys.readouterr().out.splitlines()
    for _source, target in _tool().PAIRS:
        (row,) = [r for r in rows if r.split()[2] == target]
        assert row.split()[:2] == ["0", "0"], row
    assert 0 < logical < raw
