"""Who calls the API: django-ninja's bearer-token auth, the one parser of `Authorization: Bearer`
(SOL005 downloads use it too)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from marketplace.accounts.selectors import api_token_address, session_address
from marketplace.errors import AuthenticationError


class Bearer(HttpBearer):
    """A token from POST /api/v1/auth/token; an unknown or expired one is refused, never ignored."""

    openapi_description = "a token from POST /api/v1/auth/token"

    def authenticate(self, request: HttpRequest, token: str) -> str:
        address = api_token_address(token.strip())
        if address is None:
            raise AuthenticationError("the token is unknown or expired; sign in again")
        return address


class Anonymous:
    """request.auth when nobody signed in and the operation allows that."""

    def __bool__(self) -> bool:
        return True


ANONYMOUS = Anonymous()
bearer = Bearer()


def portal_session_or_anonymous(request: HttpRequest) -> Any:
    """The portal's download links carry its session; without one the caller is anonymous."""
    return session_address(request) or ANONYMOUS


OPTIONAL = [bearer, portal_session_or_anonymous]


def requester(request: HttpRequest) -> str | None:
    """The signed-in address of an operation with OPTIONAL auth, or None (anonymous)."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, str) else None


def bearer_address(request: HttpRequest) -> str | None:
    """The bearer token's address for a plain Django view; None when no token is sent."""
    result = bearer(request)
    return result if isinstance(result, str) else None


def viewer(request: HttpRequest) -> str | None:
    """Who is looking, for what an unlisted upload shows (its uploader only): the operation's own auth, else
    a bearer token or the portal's session when one is sent; None for anyone else (an unknown token too:
    a read that needs no sign-in does not fail on it)."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, str):
        return auth
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return api_token_address(header[7:].strip())
    return session_address(request)
