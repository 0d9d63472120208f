"""CSRF follows the principal resolver; the 401 comes from the resolver.

A resolver that reads a header the browser never adds on its own (``X-Api-Key``,
``Authorization: Api-Key ...``) is exempt from CSRF whatever else the request carries;
one that reads the session, the user or a cookie is not, whether it says so
(``uses_session``) or is caught reading them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from mediakit.errors import Unauthorized
from mediakit.models import Principal
from mediakit.service import MediaKit
from tests.django.support import ensure_django

ensure_django()

from django.conf import settings  # noqa: E402
from django.contrib.auth.middleware import AuthenticationMiddleware  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.sessions.middleware import SessionMiddleware  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import AsyncClient, Client, RequestFactory, override_settings  # noqa: E402

from mediakit_django import auth  # noqa: E402

SETS = "/api/v1/admin/music-sets"
KEY = "k-123"
ADMIN = Principal("key-admin", is_admin=True)


def api_key_principal(request: HttpRequest) -> Principal | None:
    """Reads X-Api-Key, declares nothing."""
    return ADMIN if request.headers.get("X-Api-Key") == KEY else None


def api_key_scheme_principal(request: HttpRequest) -> Principal | None:
    """Reads 'Authorization: Api-Key <key>', declares nothing."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return ADMIN if scheme == "Api-Key" and key == KEY else None


def user_principal(request: HttpRequest) -> Principal | None:
    """Reads request.user, declares nothing."""
    user = request.user
    return Principal(f"u{user.pk}", is_admin=True) if user.is_authenticated else None


def cookie_principal(request: HttpRequest) -> Principal | None:
    """Reads a token cookie, declares nothing."""
    return ADMIN if request.COOKIES.get("jwt") == KEY else None


@auth.principal_resolver(uses_session=False)
def declared_cookie_principal(request: HttpRequest) -> Principal | None:
    """Reads a cookie but declares it does not (the declaration wins)."""
    return cookie_principal(request)


@auth.principal_resolver(
    unauthorized_message="Send 'X-Api-Key: <key>' (keys are on your profile page).",
    www_authenticate='ApiKey header="X-Api-Key"',
)
def documented_key_principal(request: HttpRequest) -> Principal | None:
    """X-Api-Key, with its own 401 message and challenge."""
    return api_key_principal(request)


def raising_principal(request: HttpRequest) -> Principal | None:
    """Raises Unauthorized itself, with its own message."""
    raise Unauthorized("This key was revoked on 2026-12-01.")


async def async_key_principal(request: HttpRequest) -> Principal | None:
    """An async def resolver."""
    return api_key_principal(request)


@pytest.fixture
def use() -> Iterator[Any]:
    """``use(resolver)``: make ``resolver`` the project's resolver for the test."""
    stack: list[Any] = []

    def apply(resolver: Any) -> None:
        o = override_settings(MEDIAKIT={**settings.MEDIAKIT, "PRINCIPAL_RESOLVER": resolver})
        o.enable()
        stack.append(o)

    yield apply
    for o in reversed(stack):
        o.disable()


def _browser(staff: bool = True) -> Client:
    """A logged-in browser: session cookie and csrftoken cookie, CSRF enforced."""
    user = User.objects.create_user(f"b{User.objects.count()}", password="x", is_staff=staff)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.cookies["csrftoken"] = "A" * 32
    return client


def _post(client: Client, **headers: str) -> Any:
    return client.post(SETS, {"title": "t"}, content_type="application/json", headers=headers)


def _error(r: Any) -> dict[str, str]:
    return dict(json.loads(r.content)["error"])


def test_an_x_api_key_resolver_is_exempt_even_from_a_logged_in_browser(
    kit: MediaKit, use: Any
) -> None:
    """Reads only X-Api-Key: no CSRF token needed, though session and csrf cookies are sent."""
    use(api_key_principal)
    r = _post(_browser(), **{"X-Api-Key": KEY})
    assert r.status_code == 201, r.content
    assert kit.repos.music_sets.list(visible_only=False).items[0].title == "t"


def test_an_authorization_api_key_scheme_resolver_is_exempt(kit: MediaKit, use: Any) -> None:
    """'Authorization: Api-Key ...' is a header, not ambient authority: exempt."""
    use(api_key_scheme_principal)
    assert _post(_browser(), Authorization=f"Api-Key {KEY}").status_code == 201


def test_a_resolver_reading_the_user_needs_csrf(kit: MediaKit, use: Any) -> None:
    """Caught reading request.user (the session): the CSRF check applies."""
    use(user_principal)
    client = _browser()
    r = _post(client)
    assert r.status_code == 403
    assert _error(r)["code"] == "csrf_failed"
    assert "user_principal" in _error(r)["message"]
    assert _post(client, **{"X-CSRFToken": "A" * 32}).status_code == 201


def test_a_resolver_reading_a_cookie_needs_csrf(kit: MediaKit, use: Any) -> None:
    """A token cookie is ambient authority too."""
    use(cookie_principal)
    client = Client(enforce_csrf_checks=True)
    client.cookies["jwt"] = KEY
    assert _error(_post(client))["code"] == "csrf_failed"


def test_a_declaration_wins_over_watching(kit: MediaKit, use: Any) -> None:
    """uses_session=False is taken at its word."""
    use(declared_cookie_principal)
    client = Client(enforce_csrf_checks=True)
    client.cookies["jwt"] = KEY
    assert _post(client).status_code == 201


def test_the_session_resolver_needs_csrf_and_the_bearer_resolver_not(
    kit: MediaKit, use: Any
) -> None:
    """The shipped resolvers declare themselves: session -> checked, bearer -> exempt."""
    assert auth.session_principal.uses_session is True  # type: ignore[attr-defined]
    assert auth.bearer_token_principal.uses_session is False  # type: ignore[attr-defined]
    use("mediakit_django.auth.session_principal")
    assert _error(_post(_browser()))["code"] == "csrf_failed"


def _request_with_evaluated_user(user: User) -> HttpRequest:
    """A POST through the session and auth middleware, request.user already evaluated
    (as a middleware such as LoginRequiredMiddleware does)."""
    request = RequestFactory().post(SETS, "{}", content_type="application/json")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.session["_auth_user_id"] = str(user.pk)
    request.session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    request.session["_auth_user_hash"] = user.get_session_auth_hash()
    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    assert request.user.is_authenticated  # evaluated: the session is read here
    return request


def test_reading_an_already_evaluated_user_still_counts(kit: MediaKit, use: Any) -> None:
    """request.user cached by a middleware touches no session later: still caught."""
    use(user_principal)
    user = User.objects.create_user(f"e{User.objects.count()}", password="x", is_staff=True)
    request = _request_with_evaluated_user(user)
    with pytest.raises(Exception, match="CSRF verification failed") as caught:
        auth.authenticate(request)
    assert getattr(caught.value, "code", None) == "csrf_failed"
    assert request.user.pk == user.pk  # the request is left as it was
    assert request.session.accessed


def test_safe_methods_are_never_checked(kit: MediaKit, use: Any) -> None:
    """GET by session: no CSRF token needed."""
    use(user_principal)
    assert _browser().get(SETS).status_code == 200


def test_the_401_message_and_challenge_come_from_the_resolver(kit: MediaKit, use: Any) -> None:
    """unauthorized_message / www_authenticate are answered as declared."""
    use(documented_key_principal)
    r = Client().get(SETS)
    assert r.status_code == 401
    assert _error(r) == {
        "code": "unauthorized",
        "message": "Send 'X-Api-Key: <key>' (keys are on your profile page).",
    }
    assert r["WWW-Authenticate"] == 'ApiKey header="X-Api-Key"'


def test_an_undeclared_resolver_gets_a_401_naming_it(kit: MediaKit, use: Any) -> None:
    """Never the bearer hint for a resolver that does not read bearer tokens."""
    use(api_key_principal)
    message = _error(Client().get(SETS))["message"]
    assert "Bearer" not in message
    assert "api_key_principal" in message


def test_a_resolver_may_raise_unauthorized_itself(kit: MediaKit, use: Any) -> None:
    """Its own message reaches the client."""
    use(raising_principal)
    r = Client().get(SETS)
    assert (r.status_code, _error(r)["message"]) == (401, "This key was revoked on 2026-12-01.")


def test_the_default_resolver_keeps_its_bearer_hint(kit: MediaKit) -> None:
    """The shipped default still tells how to send a bearer token."""
    r = Client().get(SETS)
    assert _error(r)["message"] == "Send 'Authorization: Bearer <token>', or log in."
    assert r["WWW-Authenticate"] == "Bearer"


def test_async_views_follow_the_resolver_too(kit: MediaKit, use: Any) -> None:
    """Async views: an async def X-Api-Key resolver is exempt; reading the user is not."""
    use(async_key_principal)
    user = User.objects.create_user(f"a{User.objects.count()}", password="x", is_staff=True)

    async def run() -> tuple[int, int, dict[str, str]]:
        client = AsyncClient(enforce_csrf_checks=True)
        client.cookies["csrftoken"] = "A" * 32
        keyed = await client.post(
            f"/async{SETS}",
            {"title": "a"},
            content_type="application/json",
            headers={"X-Api-Key": KEY},
        )
        anonymous = await client.get(f"/async{SETS}")
        return keyed.status_code, anonymous.status_code, _error(anonymous)

    keyed, anonymous, error = asyncio.run(run())
    assert (keyed, anonymous) == (201, 401)
    assert "async_key_principal" in error["message"]
    use(user_principal)
    client = _browser()
    client.force_login(user)

    async def by_session() -> Any:
        aclient = AsyncClient(enforce_csrf_checks=True)
        aclient.cookies.update(client.cookies)
        return await aclient.post(f"/async{SETS}", {"title": "s"}, content_type="application/json")

    assert _error(asyncio.run(by_session()))["code"] == "csrf_failed"


def key_owner_principal(request: HttpRequest) -> Principal | None:
    """Sets request.user to the key's owner, as API-key packages do."""
    if request.headers.get("X-Api-Key") != KEY:
        return None
    request.user = User.objects.get(username="key-owner")
    return ADMIN


def test_what_a_resolver_sets_on_the_request_is_kept(kit: MediaKit, use: Any) -> None:
    """The watch puts back only its own wrappers: request.user set by the resolver stays."""
    use(key_owner_principal)
    owner = User.objects.filter(username="key-owner").first() or User.objects.create_user(
        "key-owner", password="x"
    )
    request = RequestFactory().post(SETS, "{}", content_type="application/json")
    request.META["HTTP_X_API_KEY"] = KEY
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    assert auth.authenticate(request) == ADMIN
    assert request.user.pk == owner.pk
    assert isinstance(request.COOKIES, dict)
