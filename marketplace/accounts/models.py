"""Accounts: wallet sign-in nonces and the API's bearer tokens."""

from __future__ import annotations

from django.db import models


class SignInNonce(models.Model):
    """A nonce issued for one Sign-In with Ethereum; usable once, for a short time."""

    nonce = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"sign-in nonce issued {self.issued_at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A bearer token for the JSON API, issued to an address after it signed in.

    Only the SHA-256 of the token is stored."""

    token_sha256 = models.CharField(max_length=64, unique=True)
    address = models.CharField(max_length=42)
    label = models.CharField(max_length=64, blank=True, default="", help_text="what its holder named it (portal)")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["address"], name="api_token_address")]

    def __str__(self) -> str:
        return f"API token of {self.address}"
