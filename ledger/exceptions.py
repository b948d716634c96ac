"""Ledger domain errors: web3 and node errors are re-raised once as these (`from exc`)."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error raised by ledger/."""


class ChainUnavailable(LedgerError):
    """The chain node cannot be reached or does not answer."""

    def __init__(self, rpc_url: str, detail: str) -> None:
        self.rpc_url = rpc_url
        self.detail = detail
        super().__init__(f"chain node at {rpc_url} is unreachable: {detail}")


class TransactionFailed(LedgerError):
    """A transaction was mined but reverted, or could not be sent."""


class ArtifactError(LedgerError):
    """A committed contract artifact is missing or malformed."""


class DeploymentMissing(LedgerError):
    """A contract has no recorded deployment on the connected chain."""
