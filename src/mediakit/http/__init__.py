"""HTTP semantics, pure: byte ranges, conditional requests, Content-Disposition, and the
response plan that adapters render. No I/O here; :mod:`mediakit.proxy` streams the bytes."""

from mediakit.http.conditional import (
    ETag,
    ETagList,
    Precondition,
    evaluate_preconditions,
    format_http_date,
    if_range_matches,
    parse_http_date,
)
from mediakit.http.disposition import content_disposition, safe_filename
from mediakit.http.plan import (
    ALLOWED_CONTENT_TYPES,
    CONTENT_SECURITY_POLICY,
    DEFAULT_CACHE_CONTROL,
    ResponsePlan,
    plan_response,
    safe_content_type,
)
from mediakit.http.ranges import (
    ByteRangeSpec,
    RangeRequest,
    content_range,
    unsatisfied_content_range,
)

__all__ = [
    # ranges
    "ByteRangeSpec",
    "RangeRequest",
    "content_range",
    "unsatisfied_content_range",
    # conditional requests
    "ETag",
    "ETagList",
    "Precondition",
    "evaluate_preconditions",
    "format_http_date",
    "if_range_matches",
    "parse_http_date",
    # content disposition
    "content_disposition",
    "safe_filename",
    # response plans
    "ALLOWED_CONTENT_TYPES",
    "CONTENT_SECURITY_POLICY",
    "DEFAULT_CACHE_CONTROL",
    "ResponsePlan",
    "plan_response",
    "safe_content_type",
]
