"""Count the sync/async twin lines still kept by hand (issue 13: "down by at least half").

Usage::

    python scripts/twin_lines.py                 # this checkout
    python scripts/twin_lines.py --root ../main  # another checkout (e.g. main, before)
    python scripts/twin_lines.py --verbose       # every pair and its count

Method (reproducible from the tree alone):

1. **Scope**: the twin areas named in issue 13, i.e. the files under ``src/mediakit/``
   whose path starts with ``service/``, ``proxy``, ``uploads/multipart`` or
   ``uploads/ingest``, plus every file in ``PAIRS`` of ``scripts/unasync.py`` when the
   checkout has one. (``--all``: every file of ``src/`` and ``adapters/``, which adds
   the S3 stores, store protocols, limiters and the like whose differences are real.)
2. **Twin files**: a sync file with an async counterpart by name (``x/_sync.py`` ~
   ``x/_async.py``, ``x_sync.py`` ~ ``x_async.py``): the whole sync file is a twin.
3. **Twin definitions** in the other files: a top-level function or class is
   async-flavoured when it is an ``async def`` or a class with an ``async def`` method.
   Its sync twin is the plain definition (a function, or a class without ``async def``)
   named by ``scripts/unasync.py``'s table (``AsyncServing`` -> ``SyncServing``) or by the
   usual spellings: ``Async``/``async_``/``_async``/``a`` dropped or made ``Sync``/
   ``sync_``/``_sync``, or the same name in another file. Only the sync side is counted.
4. **Hand-kept**: a sync twin is hand-kept unless its file starts with
   ``# GENERATED from`` (written by ``scripts/unasync.py``).
5. **Lines**: *logical lines* are Python's (tokenize ``NEWLINE`` tokens: one per
   statement, a ``def`` header or a docstring counts one however many physical lines it
   spans); *raw lines* are the non-blank, non-comment physical lines. The hand-written
   seams (``service/_hops.py``, ``uploads/ingest/_hops.py``) are counted too: a definition there that is the sync twin
   of an async one is hand-kept like any other.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import io
import re
import sys
import tokenize
from pathlib import Path
from typing import NamedTuple

AREAS = ("service/", "proxy", "uploads/multipart", "uploads/ingest")
GENERATED = "# GENERATED from"


class Unit(NamedTuple):
    """One top-level definition of a scoped file."""

    path: Path
    name: str
    start: int
    end: int
    is_async: bool


def _table(root: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    script = root / "scripts" / "unasync.py"
    if not script.exists():
        return {}, []
    spec = importlib.util.spec_from_file_location("_unasync_for_count", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {**module.PYTHON, **module.NAMES}, list(module.PAIRS)


def _scoped(root: Path, everything: bool, pairs: list[tuple[str, str]]) -> list[Path]:
    files = sorted((root / "src").rglob("*.py"))
    if everything:
        return files + sorted((root / "adapters").rglob("*.py"))
    base = root / "src" / "mediakit"
    named = {root / p for pair in pairs for p in pair}
    return [f for f in files if f.relative_to(base).as_posix().startswith(AREAS) or f in named]


def _async_flavoured(node: ast.stmt) -> bool:
    if isinstance(node, ast.AsyncFunctionDef):
        return True
    if isinstance(node, ast.ClassDef):
        return any(isinstance(n, ast.AsyncFunctionDef) for n in node.body)
    return False


def _units(path: Path) -> list[Unit]:
    tree = ast.parse(path.read_text())
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            end = node.end_lineno or node.lineno
            found.append(Unit(path, node.name, start, end, _async_flavoured(node)))
    return found


def _sync_names(name: str, table: dict[str, str]) -> list[str]:
    names = [table.get(name, name)]
    for pattern, repl in [
        (r"^Async", ""),
        (r"^Async", "Sync"),
        (r"_async$", "_sync"),
        (r"_async$", ""),
        (r"^async_", "sync_"),
        (r"^async_", ""),
        (r"^a(?=[a-z_])", ""),
    ]:
        names.append(re.sub(pattern, repl, name))
    return [n for n in dict.fromkeys(names) if n]


def _lines(path: Path, start: int, end: int) -> tuple[int, int]:
    """(logical, raw) lines of ``path`` between ``start`` and ``end`` (1-based, inclusive)."""
    text = path.read_text()
    logical = 0
    comment_lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NEWLINE and start <= tok.start[0] <= end:
            logical += 1
        if tok.type == tokenize.COMMENT and tok.line.strip().startswith("#"):
            comment_lines.add(tok.start[0])
    lines = text.splitlines()
    raw = sum(1 for n in range(start, end + 1) if lines[n - 1].strip() and n not in comment_lines)
    return logical, raw


def _twin_file(path: Path, files: set[Path]) -> Path | None:
    for pattern, repl in [(r"_sync\.py$", "_async.py"), (r"/_sync\.py$", "/_async.py")]:
        other = Path(re.sub(pattern, repl, path.as_posix()))
        if other != path and other in files:
            return other
    return None


def count(root: Path, *, everything: bool = False, verbose: bool = False) -> tuple[int, int]:
    """(logical, raw) hand-kept sync twin lines of the checkout at ``root``."""
    table, pairs = _table(root)
    files = _scoped(root, everything, pairs)
    fileset = set(files)
    generated = {f for f in files if f.read_text().startswith(GENERATED)}
    total_logical = total_raw = 0
    rows: list[tuple[str, int, int, str]] = []
    whole = {f: _twin_file(f, fileset) for f in files}
    whole = {f: a for f, a in whole.items() if a is not None}
    for sync_file, async_file in whole.items():
        n = len(sync_file.read_text().splitlines())
        logical, raw = (0, 0) if sync_file in generated else _lines(sync_file, 1, n)
        rows.append((f"{_rel(root, sync_file)} ~ {_rel(root, async_file)}", logical, raw, ""))
    paired = set(whole) | set(whole.values())
    units = [u for f in files if f not in paired for u in _units(f)]
    by_name: dict[str, list[Unit]] = {}
    for u in units:
        by_name.setdefault(u.name, []).append(u)
    seen: set[tuple[Path, str]] = set()
    for a in (u for u in units if u.is_async):
        for name in _sync_names(a.name, table):
            candidates = [
                s
                for s in by_name.get(name, [])
                if not s.is_async and (s.name != a.name or s.path != a.path)
            ]
            if not candidates:
                continue
            s = min(candidates, key=lambda c: (c.path != a.path, c.path.parent != a.path.parent))
            if (s.path, s.name) in seen:
                break
            seen.add((s.path, s.name))
            gen = s.path in generated
            logical, raw = (0, 0) if gen else _lines(s.path, s.start, s.end)
            where = _rel(root, s.path)
            rows.append((f"{where}:{s.name} ~ {a.name}", logical, raw, " (generated)" * gen))
            break
    for what, logical, raw, note in rows:
        total_logical += logical
        total_raw += raw
        if verbose:
            print(f"{logical:5d} {raw:5d}  {what}{note}")
    return total_logical, total_raw


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def main(argv: list[str] | None = None) -> int:
    """Print the hand-kept twin lines of a checkout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--all", action="store_true", help="all of src/ and adapters/")
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per pair")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.verbose:
        print("logic   raw  sync twin ~ async source")
    logical, raw = count(root, everything=args.all, verbose=args.verbose)
    print(f"hand-kept twin lines in {root}: {logical} logical, {raw} raw")
    return 0


if __name__ == "__main__":
    sys.exit(main())
