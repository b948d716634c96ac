"""Who is signed in to the portal: an Ethereum address bound to the session by Sign-In with Ethereum."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

SESSION_ADDRESS = "nfvm_address"
SESSION_CHAIN = "nfvm_chain_id"


def signed_in_address(request: HttpRequest) -> str | None:
    value = request.session.get(SESSION_ADDRESS)
    return value if isinstance(value, str) else None


def require_address(request: HttpRequest) -> str:
    address = signed_in_address(request)
    if address is None:
        raise PermissionDenied("sign in with your wallet first")
    return address
