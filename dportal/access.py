"""Who is signed in to the portal: an Ethereum address bound to the session by Sign-In with Ethereum."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from marketplace.accounts.selectors import SESSION_ADDRESS, SESSION_CHAIN
from marketplace.accounts.selectors import session_address as signed_in_address

__all__ = ["SESSION_ADDRESS", "SESSION_CHAIN", "SESSION_SIGNED_AT", "require_address", "signed_in_address"]

# When the wallet last signed the sign-in message (unix seconds): creating an API token needs a recent one.
SESSION_SIGNED_AT = "nfvm_signed_at"


def require_address(request: HttpRequest) -> str:
    address = signed_in_address(request)
    if address is None:
        raise PermissionDenied("sign in with your wallet first")
    return address
