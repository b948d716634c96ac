"""Who is asking: the address behind an API bearer token, or bound to a portal session by Sign-In with
Ethereum. Both surfaces read the signed-in address here."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest
from django.utils import timezone

from marketplace.accounts.models import ApiToken

SESSION_ADDRESS = "nfvm_address"
SESSION_CHAIN = "nfvm_chain_id"


def api_token_address(token: str) -> str | None:
    """The address an unexpired API token was issued to, or None."""
    record = ApiToken.objects.filter(
        token_sha256=hashlib.sha256(token.encode()).hexdigest(), expires_at__gt=timezone.now()
    ).first()
    return record.address if record else None


def api_tokens_of(address: str) -> list[ApiToken]:
    """The unexpired API tokens issued to `address`, newest first (their hashes only: a token is shown once)."""
    return list(ApiToken.objects.filter(address=address, expires_at__gt=timezone.now()).order_by("-created_at"))


def session_address(request: HttpRequest) -> str | None:
    """The address the portal session signed in with, or None."""
    value = request.session.get(SESSION_ADDRESS)
    return value if isinstance(value, str) else None
