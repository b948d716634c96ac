"""RegistrationFloor, the benchmark's baseline for a signed registration, enforces the registry's rules
it stands for: its gas figure is the floor only if it refuses what the registry refuses."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.exceptions import ContractLogicError

from ledger import artifacts
from ledger.client import ChainClient
from ledger.registry import Registration, name_hash, typed_data_for

LINE = "0x" + name_hash("acme", "floor").hex()


def sha(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def floor(snapshot, chain: ChainClient, operator: LocalAccount) -> Any:
    artifact = artifacts.load("RegistrationFloor")
    tx = chain.factory(artifact).constructor().build_transaction({"from": operator.address})
    return chain.bound(artifact, str(chain.transact(operator, tx)["contractAddress"]))


def signed_call(chain, floor, signer, *, label: str, version: int, nonce: int, publisher: str | None = None) -> Any:
    deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + 3600
    registration = Registration(
        sha(label), LINE, version, sha(f"{label}.vnfd"), publisher or signer.address, nonce, deadline
    )
    signed = signer.sign_typed_data(
        full_message=typed_data_for(registration, chain_id=chain.chain_id(), registry_address=floor.address)
    )
    return floor.functions.register(
        registration.as_args(), signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
    )


def relay(chain, floor, operator, signer, **fields: Any) -> Any:
    call = signed_call(chain, floor, signer, **fields)
    return chain.transact(operator, call.build_transaction({"from": operator.address}), abi=floor.abi)


def test_the_floor_registers_signed_versions_and_refuses_what_the_registry_refuses(
    floor, chain, operator, developer, stranger
):
    relay(chain, floor, operator, developer, label="v1", version=1, nonce=0)
    receipt = relay(chain, floor, operator, developer, label="v2", version=2, nonce=1)
    assert len(receipt["logs"]) == 1

    refusals = [
        ("version not increasing", dict(signer=developer, label="v1b", version=2, nonce=2)),
        ("wrong nonce", dict(signer=developer, label="v3", version=3, nonce=1)),
        ("not the line's owner", dict(signer=stranger, label="v3", version=3, nonce=2)),
        ("bad signature", dict(signer=stranger, label="v3", version=3, nonce=2, publisher=developer.address)),
    ]
    for reason, fields in refusals:
        with pytest.raises(ContractLogicError, match=reason):
            signed_call(chain, floor, **fields).call({"from": operator.address})
