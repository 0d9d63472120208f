"""The ``mediakit`` command: operations on a deployment configured by environment variables.

.. code-block:: console

    $ mediakit doctor [--json] [--strict]      # does the S3 endpoint do what mediakit needs?
    $ mediakit reprocess [images|tracks|all] [--id ID ...]   # regenerate renditions
    $ mediakit gc [--delete] [--min-age SECONDS] [--json]    # orphans and stale uploads
    $ mediakit migrate                         # bring the SQL schema up to date
    $ mediakit --version

Every command reads :meth:`mediakit.Settings.from_env` (``MEDIA_*``, ``MEDIAKIT_*``).
Exit status: 0 on success, 1 when a check or an item failed, 2 on a configuration error.

The operations behind the commands are public too, for a framework's own command (the
Django adapter's ``manage.py mediakit``) or a script; they are loaded on first use:

- :func:`run_doctor` (S3) / :func:`run_local_doctor` (other stores) return a
  :class:`DoctorReport` of :class:`Check` results;
- :func:`reprocess`, :func:`gc` and :func:`migrate` return an exit status and print to
  ``out``; :func:`open_repositories` opens the SQL repositories without migrating.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from mediakit._lazy import lazy_exports
from mediakit._version import __version__
from mediakit.errors import ConfigurationError, MediaKitError
from mediakit.settings import Settings

if TYPE_CHECKING:  # loaded on first use (they import the storage and processing shells)
    from mediakit.cli._doctor import Check, DoctorReport, run_doctor, run_local_doctor
    from mediakit.cli._ops import gc, migrate, open_repositories, reprocess

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Check": "mediakit.cli._doctor",
        "DoctorReport": "mediakit.cli._doctor",
        "run_doctor": "mediakit.cli._doctor",
        "run_local_doctor": "mediakit.cli._doctor",
        "gc": "mediakit.cli._ops",
        "migrate": "mediakit.cli._ops",
        "open_repositories": "mediakit.cli._ops",
        "reprocess": "mediakit.cli._ops",
    },
    globals(),
)

__all__ = [
    "Check",
    "DoctorReport",
    "build_parser",
    "gc",
    "main",
    "migrate",
    "open_repositories",
    "reprocess",
    "run_doctor",
    "run_local_doctor",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mediakit`` (its ``--help`` is the command reference)."""
    parser = argparse.ArgumentParser(
        prog="mediakit",
        description="Operate a mediakit deployment. Settings come from the environment "
        "(MEDIA_*, MEDIAKIT_*; see the configuration reference).",
    )
    parser.add_argument("--version", action="version", version=f"mediakit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    doctor = sub.add_parser(
        "doctor",
        help="check this machine and the configured S3 endpoint",
        description="Check this machine (an ffmpeg for the audio tiers, libmagic, an explicit "
        "MEDIAKIT_DATABASE_URL next to S3) and the configured S3 bucket: reachable, a put "
        "with the configured "
        "checksum mode, a presigned GET, a Range request on a presigned URL, a multipart "
        "upload, a lifecycle rule aborting incomplete multipart uploads; every test object "
        "is deleted. Exits 1 if a check fails.",
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument("--strict", action="store_true", help="warnings fail too")

    rep = sub.add_parser(
        "reprocess",
        help="regenerate thumbnails and audio tiers",
        description="Regenerate renditions under new revision keys, swap the rows, delete "
        "the previous renditions. Exits 1 if any item failed.",
    )
    rep.add_argument("what", nargs="?", choices=["images", "tracks", "all"], default="all")
    rep.add_argument(
        "--id", dest="ids", action="append", default=[], metavar="ID", help="only this id"
    )

    gc = sub.add_parser(
        "gc",
        help="find (and delete) orphaned objects and stale multipart uploads",
        description="List objects under images/ and music/ that no row references and "
        "multipart uploads never completed, older than --min-age. Dry run unless --delete.",
    )
    gc.add_argument("--delete", action="store_true", help="delete / abort what is found")
    gc.add_argument(
        "--min-age",
        type=_seconds,
        default=86400,
        metavar="SECONDS",
        help="leave younger items alone (default 86400: uploads may be in flight)",
    )
    gc.add_argument("--json", action="store_true", help="print the findings as JSON")

    sub.add_parser(
        "migrate",
        help="apply database migrations",
        description="Bring the schema on MEDIAKIT_DATABASE_URL up to date (idempotent).",
    )
    return parser


def _seconds(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds, got {value!r}")
    return int(value)


def _run_doctor(settings: Settings, args: argparse.Namespace) -> int:
    from mediakit.cli._doctor import run_doctor, run_local_doctor

    if settings.storage_backend != "s3":
        # no endpoint to check: this machine's checks only (ffmpeg, libmagic, database)
        report = run_local_doctor(settings, strict=args.strict)
    else:
        report = run_doctor(settings, strict=args.strict)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.to_text())
    return EXIT_FAILED if report.failed else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mediakit`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings.from_env()
        if args.command == "doctor":
            return _run_doctor(settings, args)
        from mediakit.cli import _ops

        if args.command == "reprocess":
            # sys.stdout as it is now (the functions' default is bound at import time)
            return _ops.reprocess(settings, args.what, args.ids, out=sys.stdout)
        if args.command == "gc":
            return _ops.gc(
                settings,
                delete=args.delete,
                min_age=timedelta(seconds=args.min_age),
                as_json=args.json,
                out=sys.stdout,
            )
        return _ops.migrate(settings, out=sys.stdout)
    except ConfigurationError as exc:
        print(f"mediakit: configuration error: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    except MediaKitError as exc:
        print(f"mediakit {args.command}: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
