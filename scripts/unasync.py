"""Generate the synchronous twins of mediakit's asynchronous modules.

The async module is the source; its sync twin is written from it by token
substitution (``async def`` -> ``def``, ``await x`` -> ``x``, ``AsyncObjectStore`` ->
``ObjectStore``, ...), in the manner of httpcore's ``scripts/unasync.py``, then sorted
and formatted by ruff. Each generated file starts with a header naming its source and
this command; do not edit it, edit the source and regenerate::

    python scripts/unasync.py            # (re)write every generated file
    python scripts/unasync.py --check    # exit 1 with a diff if one is stale (CI)
    python scripts/unasync.py --list     # the pairs

What only the async side does (a worker-thread hop, ``asign`` versus ``sign``, a
clean-up shielded from cancellation or left running as a task) lives in a small
hand-written module (``mediakit/service/_hops.py``, ``mediakit/uploads/ingest/_hops.py``);
the source calls it in a shape that ``CALLS`` below turns into the plain sync call (or
``NAMES`` into its sync counterpart: ``spawn_task`` -> ``spawn_thread``), and the lines
that set it up end
with ``# unasync: remove`` so they are left out of the sync twin. An import left unused
by the substitution is dropped by ruff.

Adding a pair
-------------
1. Write (or move) the async code in its own module, e.g. ``src/mediakit/x/_async.py``,
   importing only names that have a sync twin (or are shared).
2. Append ``("src/mediakit/x/_async.py", "src/mediakit/x/_sync.py")`` to ``PAIRS``.
3. Add to ``NAMES`` every project name the module uses whose twin is spelled
   differently (``AsyncThing`` -> ``Thing``, ``aopen`` -> ``open``); generic Python
   names (``AsyncIterator``, ``__aenter__``, ``aclose``, ...) are in ``PYTHON``.
4. Run ``python scripts/unasync.py`` and check the output with ``mypy --strict``;
   ``tests/foundation/test_unasync.py`` keeps it fresh from then on.

Why a script and not the ``unasync`` package from PyPI: that package maps ``_async``
directories to ``_sync`` ones and renames by a fixed rule (``Async`` prefix dropped,
``__aiter__``...), with no header, no check mode and no formatting step; mediakit's
pairs are single modules whose twins are named by the project (``AsyncServing`` ->
``SyncServing``, ``aingest_images`` -> ``ingest_images``), so a 100-line table is
clearer than configuring around it.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python scripts/unasync.py"

#: (async source, generated sync twin), relative to the repository root.
PAIRS: list[tuple[str, str]] = [
    ("src/mediakit/service/_async.py", "src/mediakit/service/_sync.py"),
    ("src/mediakit/service/_serving_async.py", "src/mediakit/service/_serving_sync.py"),
    ("src/mediakit/proxy/_async.py", "src/mediakit/proxy/_sync.py"),
    ("src/mediakit/uploads/multipart/_async.py", "src/mediakit/uploads/multipart/_sync.py"),
    ("src/mediakit/uploads/ingest/_async.py", "src/mediakit/uploads/ingest/_sync.py"),
]

#: Python's own async spellings and their sync twins (whole words only).
PYTHON: dict[str, str] = {
    "AsyncIterator": "Iterator",
    "AsyncIterable": "Iterable",
    "AsyncGenerator": "Generator",
    "AbstractAsyncContextManager": "AbstractContextManager",
    "asynccontextmanager": "contextmanager",
    "AsyncExitStack": "ExitStack",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "StopAsyncIteration": "StopIteration",
    "aclose": "close",
    "aiter": "iter",
    "anext": "next",
    "AsyncClosable": "Closable",
    "AsyncClosableIterator": "ClosableIterator",
    "asyncio.sleep": "time.sleep",
    "anyio.sleep": "time.sleep",
}

#: mediakit's names whose sync twin is spelled differently (whole words only).
NAMES: dict[str, str] = {
    # service
    "AsyncMediaService": "MediaService",
    "AsyncMediaKit": "MediaKit",
    "AsyncServing": "SyncServing",
    "_asigner": "signer",  # AsyncMediaService._asigner.asign(...) -> self.signer.sign(...)
    # storage
    "AsyncObjectStore": "ObjectStore",
    "AsyncS3ObjectStore": "S3ObjectStore",
    "AsyncOpenedRange": "OpenedRange",
    "AsyncRangeOpener": "RangeOpener",
    # proxy
    "AsyncProxyResponse": "ProxyResponse",
    "AsyncFixedBody": "FixedBody",
    "open_async": "open_sync",
    "stream_async": "stream_sync",
    "_relay_async": "_relay_sync",
    # presign
    "AsyncUrlSigner": "UrlSigner",
    "asign": "sign",
    # uploads
    "AsyncMultipartReader": "MultipartReader",
    "AsyncFilePart": "FilePart",
    "aingest_images": "ingest_images",
    "aingest_tracks": "ingest_tracks",
    "ahold": "hold",
    "AsyncUploadedFile": "UploadedFile",
    "_astore_files": "_store_files",
    "_atee": "_tee",
    "_acleanup": "_cleanup",
    "_acleanup_now": "_cleanup_now",
    "spawn_task": "spawn_thread",  # a clean-up left running: a task, or a daemon thread
    # modules
    "_serving_async": "_serving_sync",
}

#: Keywords: ``async with``/``async for``/``async def`` lose ``async``; ``await`` goes.
KEYWORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\basync (def|with|for)\b"), r"\1"),
    (re.compile(r"\bawait\s+"), ""),
]

#: mediakit's call shapes that only the async side has (after ``KEYWORDS``).
CALLS: list[tuple[re.Pattern[str], str]] = [
    # AsyncMediaService runs database steps through its AsyncStepRunner (worker thread,
    # or inline reads); the sync service calls them: self._db.read(step, a) -> step(a)
    (re.compile(r"\bself\._db\.(?:read|write)\(\s*([\w.]+),\s*"), r"\1("),
    # a blocking step the async side runs in a worker thread, and a clean-up it shields
    # from cancellation (mediakit/uploads/ingest/_hops.py), are plain calls on the sync
    # side: anyio.to_thread.run_sync(check, f, n) -> check(f, n); shielded(g) -> g()
    (
        re.compile(r"\b(?:anyio\.to_thread\.run_sync|shielded)\(\s*([\w.]+)\s*(?:,\s*|(?=\)))"),
        r"\1(",
    ),
]

#: A source line ending with this comment is left out of the sync twin (what only the
#: async side needs, e.g. the field holding its step runner).
REMOVE = "# unasync: remove"


def _names_pattern(table: dict[str, str]) -> re.Pattern[str]:
    words = sorted(table, key=len, reverse=True)  # longest first: AsyncClosableIterator
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")\b")


_TABLE = {**PYTHON, **NAMES}
_WORDS = _names_pattern(_TABLE)


def unasync_text(text: str) -> str:
    """The sync twin of async source ``text`` (before formatting)."""
    text = "".join(
        line for line in text.splitlines(keepends=True) if not line.rstrip().endswith(REMOVE)
    )
    for pattern, repl in KEYWORDS + CALLS:
        text = pattern.sub(repl, text)
    return _WORDS.sub(lambda m: _TABLE[m.group(1)], text)


def unasync_name(name: str) -> str:
    """The sync twin's spelling of one identifier (the table; unchanged otherwise)."""
    return _TABLE.get(name, name)


def _header(source: str) -> str:
    return (
        f"# GENERATED from {source} by scripts/unasync.py: do not edit.\n"
        f"# Edit the async source and run `{COMMAND}` (CI checks this file is fresh).\n"
    )


def _ruff(args: list[str], text: str, filename: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", filename, "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"ruff {' '.join(args)} failed on {filename}:\n{done.stderr}{done.stdout}")
    return done.stdout


def generate(source: str, target: str) -> str:
    """The full text of the generated twin of ``source`` (header, sorted, formatted)."""
    text = unasync_text((ROOT / source).read_text())
    text = _header(source) + text
    # imports renamed out of order (AsyncFilePart -> FilePart) are sorted again
    text = _ruff(["check", "--fix-only", "--select", "I,F401", "--quiet"], text, target)
    return _ruff(["format", "--quiet"], text, target)


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) every generated twin; 1 when one is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail with a diff if stale")
    parser.add_argument("--list", action="store_true", help="print the pairs")
    args = parser.parse_args(argv)
    stale = 0
    for source, target in PAIRS:
        if args.list:
            print(f"{source} -> {target}")
            continue
        wanted = generate(source, target)
        path = ROOT / target
        current = path.read_text() if path.exists() else ""
        if current == wanted:
            continue
        if args.check:
            stale += 1
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    f"{target} (checked in)",
                    f"{target} (generated from {source})",
                )
            )
        else:
            path.write_text(wanted)
            print(f"wrote {target}")
    if stale:
        print(f"\n{stale} generated file(s) stale: run `{COMMAND}` and commit the result.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
