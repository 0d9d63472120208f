"""``manage.py mediakit gc|reprocess|doctor``: the ``mediakit`` CLI on this project's
store and Django database (the plain CLI would open ``MEDIAKIT_DATABASE_URL`` instead).

.. code-block:: console

    $ python manage.py mediakit gc [--delete] [--min-age SECONDS] [--json]
    $ python manage.py mediakit reprocess [images|tracks|all] [--id ID ...]
    $ python manage.py mediakit doctor [--json] [--strict]
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mediakit.errors import ConfigurationError, MediaKitError
from mediakit.repositories import Repositories
from mediakit.storage import build_object_store
from mediakit_django import conf


def _seconds(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds, got {value!r}")
    return int(value)


class Command(BaseCommand):
    """mediakit operations: orphan collection, re-processing, S3 endpoint checks."""

    help = "mediakit operations on this project's store and database: gc, reprocess, doctor."

    def add_arguments(self, parser: CommandParser) -> None:
        """Sub-commands mirroring the ``mediakit`` CLI."""
        sub = parser.add_subparsers(dest="op", required=True, metavar="OPERATION")
        gc = sub.add_parser("gc", help="find (and delete) orphaned objects and stale uploads")
        gc.add_argument("--delete", action="store_true", help="delete / abort what is found")
        gc.add_argument("--min-age", type=_seconds, default=86400, metavar="SECONDS")
        gc.add_argument("--json", action="store_true", help="print the findings as JSON")
        rep = sub.add_parser("reprocess", help="regenerate thumbnails and audio tiers")
        rep.add_argument("what", nargs="?", choices=["images", "tracks", "all"], default="all")
        rep.add_argument("--id", dest="ids", action="append", default=[], metavar="ID")
        doc = sub.add_parser("doctor", help="check the configured S3 endpoint")
        doc.add_argument("--json", action="store_true")
        doc.add_argument("--strict", action="store_true")

    def _repos(self) -> Repositories:
        options = conf.adapter_options()
        if options["REPOSITORIES"] == "sql":
            from mediakit.cli import open_repositories

            return open_repositories(conf.mediakit_settings())
        from mediakit_django.repositories import DjangoRepositories

        return DjangoRepositories(options["DATABASE_ALIAS"])

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the operation; a failure is a :class:`CommandError` with exit status 1 or 2."""
        from mediakit import cli

        settings = conf.mediakit_settings()
        try:
            if options["op"] == "doctor":
                from mediakit.cli import run_doctor, run_local_doctor

                sql = conf.adapter_options()["REPOSITORIES"] == "sql"
                runner = run_doctor if settings.storage_backend == "s3" else run_local_doctor
                report = runner(settings, strict=options["strict"], uses_database_url=sql)
                text = (
                    json.dumps(report.to_json(), indent=2) if options["json"] else report.to_text()
                )
                self.stdout.write(text)
                status = 1 if report.failed else 0
            elif options["op"] == "gc":
                status = cli.gc(
                    settings,
                    delete=options["delete"],
                    min_age=timedelta(seconds=options["min_age"]),
                    as_json=options["json"],
                    out=self.stdout,  # type: ignore[arg-type]
                    store=build_object_store(settings),
                    repos=self._repos(),
                )
            else:
                status = cli.reprocess(
                    settings,
                    options["what"],
                    options["ids"],
                    out=self.stdout,  # type: ignore[arg-type]
                    store=build_object_store(settings),
                    repos=self._repos(),
                )
        except ConfigurationError as exc:
            raise CommandError(f"configuration error: {exc.message}", returncode=2) from exc
        except MediaKitError as exc:
            raise CommandError(f"mediakit {options['op']}: {exc.message}") from exc
        if status:
            raise CommandError(f"mediakit {options['op']} reported failures", returncode=status)
