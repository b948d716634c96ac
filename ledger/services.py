"""Writes that touch the chain: deploying the marketplace's contracts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from ledger import artifacts
from ledger.client import ChainClient
from ledger.exceptions import LedgerError
from ledger.models import ContractDeployment

# Constructor arguments of contracts that take some: (addresses deployed so far by name, deployer) -> args.
ConstructorArgs = Callable[[Mapping[str, str], LocalAccount], list[Any]]
CONSTRUCTOR_ARGS: dict[str, ConstructorArgs] = {
    # The deployer becomes the operator (Ownable2Step owner) that anchors batches and log ranges.
    # The deployer becomes the operator; a line's commitment waits settings.LINE_CLAIM_MIN_AGE_S before its reveal.
    "PackageRegistry": lambda deployed, deployer: [deployer.address, settings.LINE_CLAIM_MIN_AGE_S],
    "LicenseManager": lambda deployed, deployer: [deployed["PackageRegistry"]],
    "ProvenanceAnchor": lambda deployed, deployer: [deployer.address],
}


@dataclass(frozen=True)
class DeployOutcome:
    deployment: ContractDeployment
    created: bool


def contracts_deploy(
    *, client: ChainClient, deployer: LocalAccount, redeploy_changed: bool = False
) -> list[DeployOutcome]:
    """Deploy each marketplace contract not yet on this chain; idempotent.

    A recorded deployment whose code is gone (the chain was reset under the same genesis)
    is replaced. One whose code differs from the committed build is kept unless
    `redeploy_changed`, since a new registry starts empty. A contract constructed with the address
    of another (CONSTRUCTOR_ARGS) is deployed again when that one was, so it never points at a
    replaced contract.
    """
    status = client.status()
    outcomes: list[DeployOutcome] = []
    for name in artifacts.DEPLOYED_CONTRACTS:
        artifact = artifacts.load(name)
        record = ContractDeployment.objects.filter(
            chain_id=status.chain_id, genesis_hash=status.genesis_hash, name=name
        ).first()
        deployed = {o.deployment.name: o.deployment.address for o in outcomes}
        args = CONSTRUCTOR_ARGS[name](deployed, deployer) if name in CONSTRUCTOR_ARGS else []
        # Only an address deployed anew in this run makes a contract stale, not the deployer's.
        created_now = {o.deployment.address for o in outcomes if o.created}
        stale_inputs = any(isinstance(arg, str) and arg in created_now for arg in args)
        if record is not None and not stale_inputs:
            code = client.code_at(record.address)
            if code and artifact.runs_this_build(code):
                outcomes.append(DeployOutcome(record, created=False))
                continue
            if code and not redeploy_changed:
                raise LedgerError(
                    f"{name} at {record.address} on chain {status.chain_id} runs other code than "
                    "contracts/build; run `manage.py deploy_contracts --redeploy-changed` to deploy "
                    "the new build (the new contract starts empty)"
                )
        factory = client.factory(artifact)
        receipt = client.transact(deployer, factory.constructor(*args).build_transaction({"from": deployer.address}))
        address = receipt["contractAddress"]
        if address is None:
            raise LedgerError(f"deploying {name} produced no contract address")
        fields = {
            "address": str(address),
            "code_hash": artifact.code_hash,
            "tx_hash": HexBytes(receipt["transactionHash"]).to_0x_hex(),
            "block_number": int(receipt["blockNumber"]),
            "deployer": deployer.address,
        }
        record, _ = ContractDeployment.objects.update_or_create(
            chain_id=status.chain_id, genesis_hash=status.genesis_hash, name=name, defaults=fields
        )
        outcomes.append(DeployOutcome(record, created=True))
    return outcomes
