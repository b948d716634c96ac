"""Accounts: wallet sign-in (EIP-4361 messages with one-use nonces) and the API's bearer tokens."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.http import Http404
from django.utils import timezone
from eth_utils.address import is_address, to_checksum_address

from ledger import siwe
from ledger.client import get_chain_client
from marketplace.accounts.models import ApiToken, SignInNonce
from marketplace.errors import AuthenticationError, ValidationFailed
from marketplace.repository.packages.problems import PackageRejected, Problem


def normalise_address(address: str) -> str:
    if not is_address(address):
        raise PackageRejected([Problem("upload.uploader", f"{address!r} is not an Ethereum address")])
    return _checksummed(address)


@functools.lru_cache(maxsize=4096)
def _checksummed(address: str) -> str:
    """EIP-55 (a keccak of the address): the same few addresses come again and again, as with the status calls."""
    return str(to_checksum_address(address))


# A sign-in nonce is stateless: a random part, its issue time and an HMAC of both under the server's secret.
# Asking for one writes nothing; a nonce is recorded only once a signature over it verified, to refuse its
# replay, and that record is dropped when the nonce expires. Anyone may ask for nonces: none fill a table.
_NONCE = re.compile(r"([0-9a-f]{16})([0-9a-f]{8})([0-9a-f]{32})")


def _nonce_mac(random_part: str, issued: str) -> str:
    key = hashlib.sha256(b"nfvm sign-in nonce\x00" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, f"{random_part}{issued}".encode(), hashlib.sha256).hexdigest()[:32]


def signin_nonce_issue() -> str:
    """A fresh one-time nonce (56 hex characters, alphanumeric as EIP-4361 asks); nothing is stored."""
    random_part, issued = secrets.token_hex(8), f"{int(timezone.now().timestamp()):08x}"
    return random_part + issued + _nonce_mac(random_part, issued)


def _nonce_issued_at(nonce: str) -> datetime | None:
    """When this server issued `nonce`, or None when it did not issue it (or it expired)."""
    match = _NONCE.fullmatch(nonce)
    if match is None or not hmac.compare_digest(match.group(3), _nonce_mac(match.group(1), match.group(2))):
        return None
    issued = datetime.fromtimestamp(int(match.group(2), 16), tz=UTC)
    age = (timezone.now() - issued).total_seconds()
    return issued if -60 <= age <= settings.SIGNIN_NONCE_TTL_S else None


def signin_message(*, address: str, domain: str, uri: str) -> str:
    """The EIP-4361 text a wallet is asked to sign, with a fresh one-time nonce."""
    return siwe.SiweMessage(
        domain=domain,
        address=normalise_address(address),
        statement="Sign in to the NFV marketplace. This request costs nothing and sends no transaction.",
        uri=uri,
        chain_id=get_chain_client().chain_id(),
        nonce=signin_nonce_issue(),
        issued_at=timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()


def signin_verify(*, message: str, signature: str, domain: str) -> str:
    """Check a signed EIP-4361 message against a nonce this server issued; returns the address.

    The nonce is recorded as used once the signature holds, so a signed message is usable once; a
    signature that does not hold changes nothing."""
    refused = "the sign-in nonce is unknown, expired or already used; ask for a new one"
    try:
        nonce = siwe.parse(message).nonce
    except siwe.SiweError as exc:
        raise AuthenticationError(str(exc)) from exc
    issued = _nonce_issued_at(nonce)
    if issued is None:
        raise AuthenticationError(refused)
    try:
        verified = siwe.verify(
            message,
            signature,
            domain=domain,
            chain_id=get_chain_client().chain_id(),
            nonce=nonce,
            max_age_s=settings.SIGNIN_NONCE_TTL_S,
        )
    except siwe.SiweError as exc:
        raise AuthenticationError(str(exc)) from exc
    now = timezone.now()
    SignInNonce.objects.filter(issued_at__lt=now - timedelta(seconds=settings.SIGNIN_NONCE_TTL_S + 60)).delete()
    try:
        SignInNonce.objects.create(nonce=nonce, issued_at=issued, used_at=now)
    except IntegrityError:
        raise AuthenticationError(refused) from None
    return verified.address


# Unexpired tokens kept per address; a new sign-in past this retires the oldest.
MAX_TOKENS_PER_ADDRESS = 20


# What the portal's API tokens page offers: a token for the CLI lives from a day to 90 days.
TOKEN_LIFETIMES_DAYS = (1, 7, 30, 90)
TOKEN_LABEL_MAX = 64


def api_token_issue(*, address: str, label: str = "", days: int | None = None) -> tuple[str, ApiToken]:
    """A bearer token for `address`, for API_TOKEN_TTL_S or `days` (one of TOKEN_LIFETIMES_DAYS). Expired
    tokens are dropped, and an address keeps at most MAX_TOKENS_PER_ADDRESS: signing in again and again
    does not grow the table."""
    label = label.strip()
    if len(label) > TOKEN_LABEL_MAX or any(not c.isprintable() for c in label):
        raise ValidationFailed({"label": f"at most {TOKEN_LABEL_MAX} printable characters"})
    if days is not None and days not in TOKEN_LIFETIMES_DAYS:
        raise ValidationFailed({"days": f"one of {', '.join(map(str, TOKEN_LIFETIMES_DAYS))} days"})
    lifetime = timedelta(days=days) if days is not None else timedelta(seconds=settings.API_TOKEN_TTL_S)
    now = timezone.now()
    ApiToken.objects.filter(expires_at__lte=now).delete()
    held = list(
        ApiToken.objects.filter(address=normalise_address(address)).order_by("-expires_at").values_list("pk", flat=True)
    )
    if len(held) >= MAX_TOKENS_PER_ADDRESS:
        ApiToken.objects.filter(pk__in=held[MAX_TOKENS_PER_ADDRESS - 1 :]).delete()
    token = secrets.token_urlsafe(32)
    record = ApiToken.objects.create(
        token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        address=normalise_address(address),
        label=label,
        expires_at=timezone.now() + lifetime,
    )
    return token, record


def api_token_revoke(*, address: str, token_id: str) -> None:
    """Revokes one of `address`'s tokens; another address's token is as unknown as no token."""
    from bson import ObjectId
    from bson.errors import InvalidId

    try:
        key = ObjectId(token_id)
    except (InvalidId, TypeError):
        raise Http404(f"no API token {token_id!r} of yours") from None
    deleted, _ = ApiToken.objects.filter(pk=key, address=address).delete()
    if not deleted:
        raise Http404(f"no API token {token_id!r} of yours")
