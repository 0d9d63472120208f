"""Presign benchmark: botocore ``generate_presigned_url`` vs mediakit's native signer.

Measured in one run, on the same keys: botocore (the anchor), mediakit's
:class:`~mediakit.presign.SigV4Presigner` uncached, and a :class:`~mediakit.presign.CachedSigner`
hit; then a page of 100 items with 4 URLs each (original + 3 thumbnails). No network:
presigning is pure computation.

Run: ``python -m benchmarks.presign`` (``--quick`` for a short run).
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections.abc import Callable

import boto3
from botocore.config import Config

from mediakit.presign import CachedSigner, Credentials, SigV4Presigner

ENDPOINT = "https://s3.example.com"
BUCKET = "media"
REGION = "eu-central-1"
ACCESS_KEY, SECRET_KEY = "AKIAEXAMPLEEXAMPLE00", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TTL = 900
SIZES = ("orig", "320", "640", "1280")


def _items(n: int) -> list[tuple[str, str, str]]:
    """``n`` realistic (key, content type, disposition) triples."""
    out = []
    for _ in range(n):
        uid = uuid.uuid4().hex
        out.append(
            (f"images/{uid}/orig.jpg", "image/jpeg", f'inline; filename="holiday {uid[:6]}.jpg"')
        )
    return out


def _per_call_us(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """Median over ``repeats`` batches of the mean time of one call, in µs."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / calls / 1000)
    return statistics.median(samples)


def run(quick: bool = False) -> str:
    """Run the benchmark and return a Markdown section with figures and ratios."""
    n_items = 100
    repeats = 7 if quick else 31
    items = _items(n_items)
    client = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    presigner = SigV4Presigner(
        BUCKET,
        credentials=Credentials(ACCESS_KEY, SECRET_KEY),
        endpoint_url=ENDPOINT,
        region=REGION,
        ttl=TTL,
    )
    cached = CachedSigner(presigner)

    def botocore_batch() -> None:
        gen = client.generate_presigned_url
        for key, ct, cd in items:
            gen(
                "get_object",
                Params={
                    "Bucket": BUCKET,
                    "Key": key,
                    "ResponseContentType": ct,
                    "ResponseContentDisposition": cd,
                },
                ExpiresIn=TTL,
            )

    def uncached_batch() -> None:
        sign = presigner.sign
        for key, ct, cd in items:
            sign(key, content_type=ct, disposition=cd)

    def cached_batch() -> None:
        sign = cached.sign
        for key, ct, cd in items:
            sign(key, content_type=ct, disposition=cd)

    page_keys = [
        (key.replace("orig.jpg", f"{size}.jpg"), ct, cd) for key, ct, cd in items for size in SIZES
    ]

    def page(sign_one: Callable[[str, str, str], object]) -> Callable[[], None]:
        def go() -> None:
            for key, ct, cd in page_keys:
                sign_one(key, ct, cd)

        return go

    def boto_one(key: str, ct: str, cd: str) -> object:
        return client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": BUCKET,
                "Key": key,
                "ResponseContentType": ct,
                "ResponseContentDisposition": cd,
            },
            ExpiresIn=TTL,
        )

    def uncached_one(key: str, ct: str, cd: str) -> object:
        return presigner.sign(key, content_type=ct, disposition=cd)

    def cached_one(key: str, ct: str, cd: str) -> object:
        return cached.sign(key, content_type=ct, disposition=cd)

    # warm up: imports, botocore's endpoint resolution, the cache
    botocore_batch()
    uncached_batch()
    cached_batch()
    page(cached_one)()

    boto = _per_call_us(botocore_batch, n_items, repeats)
    unc = _per_call_us(uncached_batch, n_items, repeats * 4)
    hit = _per_call_us(cached_batch, n_items, repeats * 8)
    n_page = len(page_keys)
    page_repeats = max(3, repeats // 3)
    p_boto = _per_call_us(page(boto_one), n_page, page_repeats) * n_page / 1000
    p_unc = _per_call_us(page(uncached_one), n_page, page_repeats * 4) * n_page / 1000
    p_hit = _per_call_us(page(cached_one), n_page, page_repeats * 8) * n_page / 1000

    lines = [
        "## Presigned URLs",
        "",
        f"One GET URL with `response-content-type` and `response-content-disposition`, "
        f"SigV4, path style; median of {repeats} batches of {n_items} calls "
        "(no network: presigning is pure computation).",
        "",
        "| Signer | per URL (µs) | speed-up vs botocore |",
        "|---|---:|---:|",
        f"| botocore `generate_presigned_url` | {boto:.1f} | 1x |",
        f"| mediakit `SigV4Presigner.sign` (uncached) | {unc:.2f} | {boto / unc:.0f}x |",
        f"| mediakit `CachedSigner.sign` (hit) | {hit:.2f} | {boto / hit:.0f}x |",
        "",
        f"A page of {n_items} items with {len(SIZES)} URLs each ({n_page} URLs):",
        "",
        "| Signer | per page (ms) | speed-up vs botocore |",
        "|---|---:|---:|",
        f"| botocore | {p_boto:.2f} | 1x |",
        f"| mediakit uncached | {p_unc:.3f} | {p_boto / p_unc:.0f}x |",
        f"| mediakit cached (all hits) | {p_hit:.3f} | {p_boto / p_hit:.0f}x |",
        "",
        "Goals: uncached at least 20x faster than botocore, a cache hit at least 200x.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]))
