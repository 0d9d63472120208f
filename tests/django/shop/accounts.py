"""The shop's own authentication: API keys (X-Api-Key or 'Authorization: Api-Key ...')
for scripts, the Django session for people logged in to the site.

Neither resolver declares ``uses_session``: mediakit watches them, so a request
authenticated by an API key is CSRF-exempt, one authenticated by the session is not.
"""

from __future__ import annotations

import hmac
import os

from django.http import HttpRequest

from mediakit.models import Principal

API_KEYS = {
    os.environ.get("SHOP_ADMIN_KEY", "shop-admin-key"): Principal("svc-admin", is_admin=True),
    os.environ.get("SHOP_USER_KEY", "shop-user-key"): Principal("svc-user", is_admin=False),
}


def _presented_key(request: HttpRequest) -> str | None:
    key = request.headers.get("X-Api-Key")
    if key:
        return key
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "api-key" and value.strip() else None


def api_key_principal(request: HttpRequest) -> Principal | None:
    """The principal of the request's API key, or ``None``."""
    key = _presented_key(request)
    if key is None:
        return None
    for known, who in API_KEYS.items():
        if hmac.compare_digest(key.encode(), known.encode()):
            return who
    return None


def api_key_or_session_principal(request: HttpRequest) -> Principal | None:
    """An API key when one is sent, else the logged-in user (staff are admins)."""
    if _presented_key(request) is not None:
        return api_key_principal(request)
    user = request.user
    if not user.is_authenticated:
        return None
    return Principal(f"shop-user:{user.pk}", is_admin=user.is_staff)


api_key_or_session_principal.unauthorized_message = (  # type: ignore[attr-defined]
    "Send your API key in 'X-Api-Key: <key>', or log in to the shop."
)
api_key_or_session_principal.www_authenticate = 'Api-Key realm="shop"'  # type: ignore[attr-defined]
