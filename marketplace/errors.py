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


class SignInRequired(Exception):
    """Nobody is signed in and what was asked needs someone who is (HTTP 401)."""


def outage(exc: BaseException) -> str | None:
    """The one wording of an outage, naming what is down and how to bring it back; None when `exc`
    is not an outage. Every surface shows this text."""
    from django.db import DatabaseError
    from pymongo.errors import PyMongoError

    from ledger.exceptions import ChainUnavailable, LedgerError

    if isinstance(exc, ChainUnavailable):
        return (
            f"The chain is unavailable: the node at {exc.rpc_url} does not answer ({exc.detail}). "
            "Start it (make run starts one), or set ETH_RPC_URL to a running node."
        )
    if isinstance(exc, LedgerError):
        return f"The chain could not answer: {exc}. Check the node at ETH_RPC_URL and the contracts' deployment."
    if isinstance(exc, DatabaseError | PyMongoError):
        return (
            f"The database is unavailable ({exc}). Start it (make run starts one), "
            "or set MONGODB_URI to a running server."
        )
    return None


class NotAcceptable(Exception):
    """The Accept header allows none of the types an answer can have (HTTP 406)."""


class RangeNotSatisfiable(Exception):
    """The byte range asked for lies beyond the content (HTTP 416); `size` is the content's length."""

    def __init__(self, message: str, size: int) -> None:
        self.size = size
        super().__init__(message)
