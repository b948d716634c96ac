"""Reads about the chain and our contracts on it."""

from __future__ import annotations

from ledger.client import ChainClient, ChainStatus
from ledger.exceptions import DeploymentMissing
from ledger.models import ContractDeployment, IndexerState


def deployments_for(status: ChainStatus) -> list[ContractDeployment]:
    """Our contracts recorded for the chain `status` describes, by name."""
    return list(
        ContractDeployment.objects.filter(chain_id=status.chain_id, genesis_hash=status.genesis_hash).order_by("name")
    )


def deployed_address(client: ChainClient, name: str) -> str:
    """The recorded address of contract `name` on the chain `client` talks to."""
    status = client.status()
    for deployment in deployments_for(status):
        if deployment.name == name:
            return deployment.address
    raise DeploymentMissing(f"{name} is not deployed on chain {status.chain_id}; run deploy_contracts")


def indexed_through(chain_id: int) -> int:
    """The last block of chain `chain_id` the indexer has recorded (-1 before its first step)."""
    state = IndexerState.objects.filter(chain_id=chain_id).only("last_block").first()
    return state.last_block if state is not None else -1


def last_known_chain_id() -> int | None:
    """The chain this node's contracts were last deployed on, from its records: what pages that only read show
    while the chain node does not answer."""
    latest = ContractDeployment.objects.order_by("-deployed_at").values_list("chain_id", flat=True).first()
    return int(latest) if latest is not None else None
