"""Django ``FileField.url`` benchmark: mediakit's ``MediaKitStorage`` vs django-storages'
``S3Storage``, in one run, on the same page of model instances.

A page lists 100 products; rendering it reads ``product.file.url`` for each (what
``{{ product.file.url }}`` in a template does). Both storages presign a GET URL for the
same bucket, endpoint and keys (SigV4, path style, 15 minutes); no network is involved,
presigning is pure computation. Measured: median thread CPU time per ``.url`` over
interleaved rounds, for mediakit on a cache hit (every page after the first within a
signing window), mediakit on a miss (the cache cleared before each page) and
django-storages (which presigns on every call). Also shown: how many distinct URLs each
hands out for one file across calls spread over about a second (mediakit: one per signing
window, so browsers and CDNs can cache the file; django-storages: one per second).

Run: ``python -m benchmarks storage_url`` (``--quick`` for a short run).
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any

from benchmarks.presign import _interleaved

ENDPOINT = "https://s3.example.com"
BUCKET = "media"
REGION = "eu-central-1"
ACCESS_KEY, SECRET_KEY = "AKIAEXAMPLEEXAMPLE00", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TTL = 900
PAGE = 100


def _django() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="benchmark",
            USE_TZ=True,
            INSTALLED_APPS=["django.contrib.contenttypes"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        )
        django.setup()


def _models() -> tuple[Any, Any, Any]:
    """Two product models, identical but for the storage of their ``FileField``."""
    from django.db import models
    from storages.backends.s3 import S3Storage

    from mediakit_django.storage import MediaKitStorage

    mediakit = MediaKitStorage(
        assets_bucket=BUCKET,
        s3_endpoint=ENDPOINT,
        s3_region=REGION,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        presign_ttl=TTL,
    )
    incumbent = S3Storage(
        bucket_name=BUCKET,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        addressing_style="path",
        signature_version="s3v4",
        querystring_auth=True,
        querystring_expire=TTL,
        file_overwrite=False,
    )

    class MediaKitProduct(models.Model):
        file = models.FileField(upload_to="products/", storage=mediakit)

        class Meta:
            app_label = "storage_url_benchmark"

    class StoragesProduct(models.Model):
        file = models.FileField(upload_to="products/", storage=incumbent)

        class Meta:
            app_label = "storage_url_benchmark"

    return MediaKitProduct, StoragesProduct, mediakit


def _distinct_urls(product: Any, calls: int, spread: float) -> int:
    """How many different URLs ``product.file.url`` hands out over ``calls`` calls
    spread across ``spread`` seconds."""
    seen = set()
    for _ in range(calls):
        seen.add(product.file.url)
        time.sleep(spread / calls)
    return len(seen)


def run(quick: bool = False) -> str:
    """Run the benchmark and return a Markdown section with figures and ratios."""
    _django()
    mk_model, st_model, mk_storage = _models()
    # names as Django stores them (get_valid_filename: no spaces)
    names = [f"products/{uuid.uuid4().hex}/manual_{i}.pdf" for i in range(PAGE)]
    mk_page = [mk_model(file=name) for name in names]
    st_page = [st_model(file=name) for name in names]

    def mk_hits() -> None:
        for product in mk_page:
            product.file.url  # noqa: B018

    def mk_misses() -> None:
        mk_storage.signer.clear()
        for product in mk_page:
            product.file.url  # noqa: B018

    def storages_page() -> None:
        for product in st_page:
            product.file.url  # noqa: B018

    # warm up: imports, botocore's client and endpoint resolution, the URL cache
    storages_page()
    mk_misses()
    mk_hits()
    assert mk_page[0].file.url.split("?")[0] == st_page[0].file.url.split("?")[0], (
        "both storages must presign the same object URL"
    )

    rounds = 5 if quick else 21
    st, miss, hit = _interleaved(
        [(storages_page, PAGE, 1), (mk_misses, PAGE, 2), (mk_hits, PAGE, 8)], rounds
    )
    spread = 1.2
    calls = 6 if quick else 12
    mk_distinct = _distinct_urls(mk_page[0], calls, spread)
    st_distinct = _distinct_urls(st_page[0], calls, spread)
    lines = [
        "## Django `FileField.url`: mediakit's storage vs django-storages",
        "",
        f"`product.file.url` for a page of {PAGE} model instances (distinct files), SigV4 "
        f"presigned GET, path style, TTL {TTL} s, same bucket and keys; median thread CPU "
        f"time per `.url` over {rounds} interleaved rounds; no network (presigning is pure "
        "computation).",
        "",
        "| Storage | per `.url` (µs) | per page (ms) | speed-up vs django-storages |",
        "|---|---:|---:|---:|",
        f"| django-storages `S3Storage` | {st:.1f} | {st * PAGE / 1000:.2f} | 1x |",
        f"| mediakit `MediaKitStorage`, cache miss | {miss:.2f} | {miss * PAGE / 1000:.3f} "
        f"| {st / miss:.0f}x |",
        f"| mediakit `MediaKitStorage`, cache hit | {hit:.2f} | {hit * PAGE / 1000:.3f} "
        f"| {st / hit:.0f}x |",
        "",
        f"Distinct URLs for one file over {calls} calls spread across {spread:.1f} s: "
        f"mediakit {mk_distinct}, django-storages {st_distinct} (it signs with the current "
        "second, so a browser or CDN sees a new URL, and downloads the file again, on every "
        "page view; mediakit's URL stays the same for the signing window).",
        "",
        "Goal: `FileField.url` through mediakit's storage at least 50x faster than "
        "django-storages (cache hit), and the same URL across calls within a signing window.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]))
