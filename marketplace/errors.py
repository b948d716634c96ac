"""The domain's errors. Each surface (the JSON API, SOL005, the portal) maps them to responses in one place."""

from __future__ import annotations


class PermissionDeniedError(Exception):
    """The actor may not do this to this object."""


class ConflictError(Exception):
    """The request conflicts with the repository's state (HTTP 409)."""


class AuthenticationError(Exception):
    """A sign-in or token could not be verified (HTTP 401)."""


class ValidationFailed(Exception):
    """Input fields are wrong; `errors` maps each field to what is wrong with it (HTTP 400)."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
