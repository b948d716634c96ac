"""Accounts: wallet sign-in (EIP-4361 messages with one-use nonces) and the API's bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from eth_utils.address import is_address, to_checksum_address

from ledger import siwe
from ledger.client import get_chain_client
from marketplace.accounts.models import ApiToken, SignInNonce
from marketplace.errors import AuthenticationError, Busy
from marketplace.repository.packages.problems import PackageRejected, Problem


def normalise_address(address: str) -> str:
    if not is_address(address):
        raise PackageRejected([Problem("upload.uploader", f"{address!r} is not an Ethereum address")])
    return str(to_checksum_address(address))


# Nonces waiting for their signature, at most: anyone may ask for one, so the table is bounded.
MAX_OUTSTANDING_NONCES = 10_000


def signin_nonce_issue() -> str:
    """A fresh one-time nonce. Used and expired nonces are dropped first (a dropped nonce is as refused as
    a used one); Busy when MAX_OUTSTANDING_NONCES are already waiting."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.SIGNIN_NONCE_TTL_S)
    SignInNonce.objects.filter(Q(used_at__isnull=False) | Q(issued_at__lt=cutoff)).delete()
    if SignInNonce.objects.count() >= MAX_OUTSTANDING_NONCES:
        raise Busy(
            f"{MAX_OUTSTANDING_NONCES} sign-ins are waiting for a signature; try again in "
            f"{settings.SIGNIN_NONCE_TTL_S} seconds"
        )
    nonce = secrets.token_hex(12)
    SignInNonce.objects.create(nonce=nonce, issued_at=now)
    return nonce


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

    The nonce is consumed whether or not the signature holds, so a message is usable once."""
    try:
        nonce = siwe.parse(message).nonce
    except siwe.SiweError as exc:
        raise AuthenticationError(str(exc)) from exc
    cutoff = timezone.now() - timedelta(seconds=settings.SIGNIN_NONCE_TTL_S)
    consumed = SignInNonce.objects.filter(nonce=nonce, used_at=None, issued_at__gte=cutoff).update(
        used_at=timezone.now()
    )
    if consumed != 1:
        raise AuthenticationError("the sign-in nonce is unknown, expired or already used; ask for a new one")
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
    return verified.address


def api_token_issue(*, address: str) -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    record = ApiToken.objects.create(
        token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        address=normalise_address(address),
        expires_at=timezone.now() + timedelta(seconds=settings.API_TOKEN_TTL_S),
    )
    return token, record
