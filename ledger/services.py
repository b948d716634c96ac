"""Writes that touch the chain: deploying the marketplace's contracts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from ledger import artifacts
from ledger.client import ChainClient
from ledger.exceptions import LedgerError
from ledger.models import ContractDeployment


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
    `redeploy_changed`, since a new registry starts empty.
    """
    status = client.status()
    outcomes: list[DeployOutcome] = []
    for name in artifacts.DEPLOYED_CONTRACTS:
        artifact = artifacts.load(name)
        record = ContractDeployment.objects.filter(
            chain_id=status.chain_id, genesis_hash=status.genesis_hash, name=name
        ).first()
        if record is not None:
            code = client.code_at(record.address)
            if code and hashlib.sha256(code).hexdigest() == artifact.code_hash:
                outcomes.append(DeployOutcome(record, created=False))
                continue
            if code and not redeploy_changed:
                raise LedgerError(
                    f"{name} at {record.address} on chain {status.chain_id} runs other code than "
                    "contracts/build; run `manage.py deploy_contracts --redeploy-changed` to deploy "
                    "the new build (the new contract starts empty)"
                )
        factory = client.factory(artifact)
        receipt = client.transact(deployer, factory.constructor().build_transaction({"from": deployer.address}))
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
