"""Reads about the chain and our contracts on it."""

from __future__ import annotations

from ledger.client import ChainStatus
from ledger.models import ContractDeployment


def deployments_for(status: ChainStatus) -> list[ContractDeployment]:
    """Our contracts recorded for the chain `status` describes, by name."""
    return list(
        ContractDeployment.objects.filter(chain_id=status.chain_id, genesis_hash=status.genesis_hash).order_by("name")
    )
