"""The Range proxy's principal: the app's own dependency, or a URL grant instead.

Media elements (``<img>``, ``<audio>``) send no Authorization header; the proxy URLs
mediakit hands out carry a short signed grant (``exp``/``sig``) instead. A request with
a grant skips the app's principal dependency (the service checks the grant, and the
item's visibility, on every request); any other request needs the principal as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.utils import get_typed_signature
from starlette.requests import Request

from mediakit.models import Principal
from mediakit.service import has_grant

__all__ = ["principal_or_grant"]

_REQUEST = "mediakit_grant_request__"


def principal_or_grant(get_principal: Callable[..., Any]) -> Callable[..., Any]:
    """A dependency returning ``None`` for a request carrying a grant, else what
    ``get_principal`` returns (its own sub-dependencies are resolved as usual).

    ``get_principal`` may be a plain or ``async`` function (or a callable object); a
    ``yield`` dependency is used as it is, so its proxy requests need the principal.
    """
    call = get_principal
    target = call if inspect.isroutine(call) else getattr(call, "__call__", call)  # noqa: B004
    if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
        return get_principal
    is_async = inspect.iscoroutinefunction(target)
    signature = get_typed_signature(call)  # string annotations resolved in the app's module
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in signature.parameters.values()]
    # FastAPI hands the request to one parameter only (the last one annotated Request), so
    # a resolver that takes the request itself shares it; otherwise the wrapper asks for it.
    own = [
        p.name
        for p in params
        if isinstance(p.annotation, type) and issubclass(p.annotation, Request)
    ]
    if not own:
        params.append(
            inspect.Parameter(_REQUEST, inspect.Parameter.KEYWORD_ONLY, annotation=Request)
        )
    request_name = own[0] if own else _REQUEST

    async def dependency(**kwargs: Any) -> Principal | None:
        request: Request = kwargs[request_name] if own else kwargs.pop(_REQUEST)
        if has_grant(request.query_params):
            return None
        if is_async:
            who: Principal = await call(**kwargs)
            return who
        found: Principal = await run_in_threadpool(call, **kwargs)
        return found

    dependency.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return dependency
