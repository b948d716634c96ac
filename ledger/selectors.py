"""Reads about the chain and our contracts on it."""

from __future__ import annotations

from django.db import connection

from ledger.client import ChainClient, ChainStatus
from ledger.exceptions import DeploymentMissing
from ledger.models import ContractDeployment, IndexerState, ProvenanceRange


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


def provenance_ranges(*, chain_id: int, first: int, last: int) -> list[ProvenanceRange]:
    """The anchored ranges of chain `chain_id` that overlap entries first..last of the provenance log. Read with
    pymongo: the ORM adds `$exists`/`$ne: null` to each bound, which SecantusDB answers by scanning."""
    table = connection.database[ProvenanceRange._meta.db_table]  # type: ignore[attr-defined]
    query = {"chain_id": chain_id, "from_seq": {"$lte": last}, "to_seq": {"$gte": first}}
    return [
        ProvenanceRange(**{("id" if key == "_id" else key): value for key, value in document.items()})
        for document in table.find(query)
    ]
