"""``pip install "mediakit[all]"``: every module imports, the console script answers, and
``mediakit doctor`` passes against the S3 server named by ``MEDIA_S3_ENDPOINT``."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

from _common import check_outside_the_source_tree, check_typed_packages


def main() -> None:
    check_outside_the_source_tree()
    check_typed_packages()
    for dependency in (
        "aioboto3", "imageio_ffmpeg", "psycopg", "redis", "dramatiq", "fastapi", "uvicorn",
        "django", "rich", "python_multipart",
    ):  # fmt: skip
        importlib.import_module(dependency)

    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "mediakit_django",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    )
    django.setup()
    imported = 0
    for package in ("mediakit", "mediakit_fastapi", "mediakit_django"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}.", onerror=lambda name: None):
            if info.name.startswith("mediakit.testing"):
                continue  # the contract suites need the `testing` extra, not part of [all]
            if not info.name.endswith(".__main__"):  # runs the CLI when imported
                importlib.import_module(info.name)
            imported += 1
    print(f"imported {imported} modules")
    try:  # without pytest/hypothesis: an ImportError naming the extra
        importlib.import_module("mediakit.testing")
        message = "imported without the testing extra"
    except ImportError as exc:
        message = str(exc)
    if "mediakit[testing]" not in message:
        raise AssertionError(f"mediakit.testing: {message}")

    script = Path(sys.executable).parent / "mediakit"  # the virtualenv's console script
    assert script.is_file(), "the console script is missing"
    cli = str(script)
    helped = subprocess.run([cli, "--help"], capture_output=True, text=True, check=True)
    for command in ("doctor", "reprocess", "gc", "migrate"):
        assert command in helped.stdout, helped.stdout
    version = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("mediakit "), version.stdout

    import boto3

    bucket = os.environ["MEDIA_ASSETS_BUCKET"]
    boto3.client(
        "s3",
        endpoint_url=os.environ["MEDIA_S3_ENDPOINT"],
        aws_access_key_id=os.environ["MEDIA_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["MEDIA_S3_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    doctor = subprocess.run([cli, "doctor", "--json"], capture_output=True, text=True)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["ok"] is True, report
    print("mediakit --help / --version / doctor: ok")


main()
