"""Principal resolvers (``callable(request) -> Principal | None``), and how a request is
authenticated: resolver, 401, then CSRF.

Pick a resolver with ``MEDIAKIT["PRINCIPAL_RESOLVER"]`` (a dotted path or a callable);
``None`` means "not authenticated" (401), and a resolver may also raise
:class:`mediakit.errors.Unauthorized` with its own message. Shipped:

- :func:`bearer_token_principal`: ``Authorization: Bearer <token>`` looked up in
  ``MEDIAKIT["TOKENS"]`` (constant-time comparison);
- :func:`session_principal`: the logged-in ``request.user`` (admin = ``is_staff``);
- :func:`bearer_or_session_principal` (default): a bearer token when the request has
  an ``Authorization`` header, the session otherwise.

**CSRF follows the resolver.** Only credentials a browser sends on its own (cookies, the
session, HTTP Basic/Digest/Negotiate credentials it remembers) can be abused by a forged
cross-site request, so an unsafe request (POST, PUT, DELETE...) must pass Django's CSRF
check exactly when its principal came from one of those. A resolver says so with a
``uses_session`` attribute (``True``, ``False``, or ``callable(request) -> bool``; the
:func:`principal_resolver` decorator sets it). A resolver that declares nothing is
watched while it runs: if it reads the session, ``request.user``/``request.auser()`` or
``request.COOKIES``, or the request authenticates with a browser-managed
``Authorization`` scheme, the check applies; otherwise (an API key in ``X-Api-Key``,
``Authorization: Api-Key ...``, a JWT in a header) the request is exempt.

**The 401 message comes from the resolver**: its ``unauthorized_message`` attribute (a
string, or ``callable(request) -> str``) and ``www_authenticate`` (the challenge header).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

from asgiref.sync import async_to_sync, sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.datastructures import MultiValueDict
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string

from mediakit import contract
from mediakit.errors import Forbidden, Unauthorized
from mediakit.models import Principal
from mediakit_django import conf

__all__ = [
    "PrincipalResolver",
    "SessionUse",
    "aauthenticate",
    "authenticate",
    "bearer_or_session_principal",
    "bearer_token",
    "bearer_token_principal",
    "get_resolver",
    "principal_resolver",
    "session_principal",
    "token_table",
]

PrincipalResolver = Callable[[HttpRequest], Principal | None]
"""The shape of ``MEDIAKIT["PRINCIPAL_RESOLVER"]`` (an ``async def`` works too)."""

SessionUse = bool | Callable[[HttpRequest], bool]
"""A resolver's ``uses_session``: whether (for this request) it authenticates by
something a browser sends on its own, so that unsafe requests need the CSRF check."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
BROWSER_SCHEMES = frozenset({"basic", "digest", "negotiate", "ntlm"})
"""``Authorization`` schemes browsers remember and replay on cross-site requests."""

_R = TypeVar("_R", bound=Callable[..., Any])


def principal_resolver(
    *,
    uses_session: SessionUse | None = None,
    unauthorized_message: str | Callable[[HttpRequest], str] | None = None,
    www_authenticate: str | None = None,
) -> Callable[[_R], _R]:
    """Declare how a resolver authenticates (sets the attributes the views read).

    .. code-block:: python

        @principal_resolver(uses_session=False, unauthorized_message="Send 'X-Api-Key: <key>'.",
                            www_authenticate='ApiKey header="X-Api-Key"')
        def api_key_principal(request): ...

    Args:
        uses_session: ``True`` when the resolver authenticates by the session (or any
            cookie): unsafe requests then need Django's CSRF check; ``False`` exempts
            them; a callable decides per request. Unset: the views watch the resolver.
        unauthorized_message: the 401 message when the resolver returns ``None``.
        www_authenticate: the 401's ``WWW-Authenticate`` header.
    """

    def mark(resolver: _R) -> _R:
        if uses_session is not None:
            resolver.uses_session = uses_session  # type: ignore[attr-defined]
        if unauthorized_message is not None:
            resolver.unauthorized_message = unauthorized_message  # type: ignore[attr-defined]
        if www_authenticate is not None:
            resolver.www_authenticate = www_authenticate  # type: ignore[attr-defined]
        return resolver

    return mark


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    return contract.bearer_token(request.META.get("HTTP_AUTHORIZATION"))


def _principal(token: str, value: Any) -> Principal:
    if isinstance(value, Principal):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return Principal(value["id"], is_admin=bool(value.get("is_admin", False)))
    raise ImproperlyConfigured(
        'settings.MEDIAKIT["TOKENS"] values must be Principal objects or '
        '{"id": str, "is_admin": bool} dicts.'
    )


def _tokens() -> dict[str, Principal]:
    tokens = conf.adapter_options()["TOKENS"]
    if not isinstance(tokens, Mapping):
        raise ImproperlyConfigured('settings.MEDIAKIT["TOKENS"] must be a dict.')
    return {str(t): _principal(str(t), v) for t, v in tokens.items()}


def token_table() -> dict[bytes, Principal]:
    """``MEDIAKIT["TOKENS"]`` as token bytes -> principal."""
    return {t.encode(): p for t, p in _tokens().items()}


@principal_resolver(
    uses_session=False,
    unauthorized_message=contract.BEARER_HINT,
    www_authenticate="Bearer",
)
def bearer_token_principal(request: HttpRequest) -> Principal | None:
    """The principal of the request's bearer token in ``MEDIAKIT["TOKENS"]``, or ``None``."""
    token = bearer_token(request)
    if token is None:
        return None
    return contract.find_token(token, _tokens())


@principal_resolver(
    uses_session=True,
    unauthorized_message="Log in first: this API accepts the session of a logged-in user.",
    www_authenticate='Session realm="login"',
)
def session_principal(request: HttpRequest) -> Principal | None:
    """The logged-in Django user (``AuthenticationMiddleware``); staff are admins."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return Principal(f"user:{user.pk}", is_admin=bool(user.is_staff))


def _no_authorization_header(request: HttpRequest) -> bool:
    return "HTTP_AUTHORIZATION" not in request.META


@principal_resolver(
    uses_session=_no_authorization_header,
    unauthorized_message="Send 'Authorization: Bearer <token>', or log in.",
    www_authenticate="Bearer",
)
def bearer_or_session_principal(request: HttpRequest) -> Principal | None:
    """A bearer token when an ``Authorization`` header is sent, the session otherwise."""
    if "HTTP_AUTHORIZATION" in request.META:
        return bearer_token_principal(request)
    return session_principal(request)


def get_resolver() -> PrincipalResolver:
    """The resolver ``MEDIAKIT["PRINCIPAL_RESOLVER"]`` names."""
    spec = conf.adapter_options()["PRINCIPAL_RESOLVER"]
    if callable(spec):
        return spec  # type: ignore[no-any-return]
    return _import_resolver(str(spec))


@functools.lru_cache(maxsize=8)
def _import_resolver(spec: str) -> PrincipalResolver:
    """The resolver at dotted path ``spec``, imported once (not per request); a failed
    import is not cached."""
    try:
        resolver = import_string(str(spec))
    except ImportError as exc:
        raise ImproperlyConfigured(
            f'settings.MEDIAKIT["PRINCIPAL_RESOLVER"] = {spec!r} cannot be imported: {exc}'
        ) from exc
    if not callable(resolver):
        raise ImproperlyConfigured(
            f'settings.MEDIAKIT["PRINCIPAL_RESOLVER"] = {spec!r} is not callable'
        )
    return resolver  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- watching


class _WatchedCookies(dict[str, str]):
    """``request.COOKIES`` while a resolver runs: records any read."""

    def __init__(self, cookies: Mapping[str, str], watch: _Watch) -> None:
        super().__init__(cookies)
        self._watch = watch

    def _seen(self) -> None:
        self._watch.touched = True

    def __getitem__(self, key: str) -> str:
        self._seen()
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """Read a cookie (recorded)."""
        self._seen()
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._seen()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self._seen()
        return super().__iter__()

    def keys(self) -> Any:
        """The cookie names (recorded)."""
        self._seen()
        return super().keys()

    def values(self) -> Any:
        """The cookie values (recorded)."""
        self._seen()
        return super().values()

    def items(self) -> Any:
        """The cookies (recorded)."""
        self._seen()
        return super().items()


class _Watch:
    """While a resolver runs: did it read the session, the user or the cookies?

    The session records reads itself (``SessionBase.accessed``); ``request.user`` may
    already be evaluated by a middleware (then reading it touches no session), so it is
    wrapped, as are ``request.auser`` and ``request.COOKIES``. Everything is put back on
    exit.
    """

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.touched = False
        self._saved: dict[str, Any] = {}
        self._wrappers: dict[str, Any] = {}
        self._accessed: bool | None = None

    @staticmethod
    def unless_declared(resolver: Any, request: HttpRequest) -> _Watch:
        """A watch on ``request``, or one that watches nothing when ``resolver``
        declares ``uses_session`` (then what it reads does not matter)."""
        if getattr(resolver, "uses_session", None) is not None:
            return _Unwatched(request)
        return _Watch(request)

    def _mark(self, value: Any) -> Any:
        self.touched = True
        return value

    def __enter__(self) -> _Watch:
        r, d = self.request, self.request.__dict__
        self._saved = {name: d[name] for name in ("user", "auser", "COOKIES") if name in d}
        session = d.get("session")
        accessed = getattr(session, "accessed", None)
        if isinstance(accessed, bool):
            self._accessed = accessed
            session.accessed = False  # type: ignore[union-attr]
        if "user" in d:
            user = d["user"]
            r.user = SimpleLazyObject(lambda: self._mark(user))  # type: ignore[assignment]
        if "auser" in d:
            auser = d["auser"]

            async def watched_auser() -> Any:
                self.touched = True
                return await auser()

            r.auser = watched_auser
        r.COOKIES = _WatchedCookies(r.COOKIES, self)
        self._wrappers = {name: d[name] for name in ("user", "auser", "COOKIES") if name in d}
        return self

    def __exit__(self, *exc: object) -> None:
        d = self.request.__dict__
        for name, wrapper in self._wrappers.items():
            if d.get(name) is not wrapper:
                continue  # the resolver set its own (request.user = key.owner, say): keep it
            if name in self._saved:
                d[name] = self._saved[name]
            else:
                del d[name]
        session = d.get("session")
        if self._accessed is not None and session is not None:
            if session.accessed:
                self.touched = True
            session.accessed = self._accessed or session.accessed


class _Unwatched(_Watch):
    """A :class:`_Watch` that watches nothing (``touched`` stays ``False``)."""

    def __enter__(self) -> _Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _browser_credentials(request: HttpRequest) -> bool:
    scheme = str(request.META.get("HTTP_AUTHORIZATION", "")).partition(" ")[0]
    return scheme.lower() in BROWSER_SCHEMES


def needs_csrf(resolver: Any, request: HttpRequest, touched: bool) -> bool:
    """Whether an unsafe request resolved by ``resolver`` must pass the CSRF check.

    ``touched``: the resolver read the session, the user or the cookies while it ran.
    """
    declared = getattr(resolver, "uses_session", None)
    if declared is not None:
        return bool(declared(request)) if callable(declared) else bool(declared)
    return touched or _browser_credentials(request)


def _name(resolver: Any) -> str:
    return str(getattr(resolver, "__qualname__", None) or type(resolver).__qualname__)


def _unauthorized(resolver: Any, request: HttpRequest) -> Unauthorized:
    message = getattr(resolver, "unauthorized_message", None)
    if callable(message):
        message = message(request)
    if not isinstance(message, str) or not message:
        message = (
            f"Authentication required: the request carries no credentials that the "
            f"principal resolver {_name(resolver)} accepts."
        )
    exc = Unauthorized(message)
    challenge = getattr(resolver, "www_authenticate", None)
    if isinstance(challenge, str) and challenge:
        exc.headers["WWW-Authenticate"] = challenge
    return exc


class _CsrfCheck(CsrfViewMiddleware):
    """Django's CSRF checks, reporting the reason instead of rendering a page."""

    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    """Why ``request`` fails Django's CSRF check (token, Origin, Referer), or ``None``.

    The token must come in the ``X-CSRFToken`` header: reading it from a form field
    would make Django buffer and parse the whole upload.
    """
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        request._post = QueryDict()  # type: ignore[attr-defined]  # keep the body unread
        request._files = MultiValueDict()  # type: ignore[attr-defined]
    check = _CsrfCheck(lambda r: HttpResponse())
    check.process_request(request)
    reason = check.process_view(request, lambda r: HttpResponse(), (), {})
    return None if reason is None else str(reason)


def _csrf_error(reason: str, resolver: Any) -> Forbidden:
    return Forbidden(
        f"CSRF verification failed ({reason}). The principal resolver {_name(resolver)} "
        "authenticated this request by something the browser sends on its own (the session "
        "or another cookie, HTTP Basic credentials): send the csrftoken cookie's value in the "
        "X-CSRFToken header, or authenticate with a header such as 'Authorization: Bearer "
        "<token>'.",
        code="csrf_failed",
    )


def authenticate(request: HttpRequest) -> Principal:
    """The request's principal (sync views): resolve, 401, then CSRF for unsafe requests.

    Raises:
        Unauthorized: the resolver found no principal (its message and challenge).
        Forbidden: ``csrf_failed``, an unsafe request authenticated by ambient
            credentials without a valid CSRF token.
    """
    resolver = get_resolver()
    who: Principal | None
    # a resolver that declares whether it uses the session is not watched: the
    # declaration decides the CSRF check (see needs_csrf)
    with _Watch.unless_declared(resolver, request) as watch:
        if inspect.iscoroutinefunction(resolver):
            who = async_to_sync(resolver)(request)
        else:
            who = resolver(request)
    if who is None:
        raise _unauthorized(resolver, request)
    if request.method not in SAFE_METHODS and needs_csrf(resolver, request, watch.touched):
        reason = csrf_failure(request)
        if reason is not None:
            raise _csrf_error(reason, resolver)
    return who


async def aauthenticate(request: HttpRequest) -> Principal:
    """:func:`authenticate` for async views: a resolver that needs no I/O (the bearer
    token) runs on the event loop, an ``async def`` one is awaited, others run in a
    thread; the CSRF check runs in a thread (it may read the session)."""
    resolver = get_resolver()
    who: Principal | None
    with _Watch.unless_declared(resolver, request) as watch:
        if resolver is bearer_token_principal or (
            resolver is bearer_or_session_principal and "HTTP_AUTHORIZATION" in request.META
        ):
            who = bearer_token_principal(request)  # no I/O: stay on the event loop
        elif inspect.iscoroutinefunction(resolver):
            call: Callable[[HttpRequest], Awaitable[Principal | None]] = resolver
            who = await call(request)
        else:
            who = await sync_to_async(resolver)(request)
    if who is None:
        raise _unauthorized(resolver, request)
    if request.method not in SAFE_METHODS and needs_csrf(resolver, request, watch.touched):
        reason = await sync_to_async(csrf_failure)(request)
        if reason is not None:
            raise _csrf_error(reason, resolver)
    return who
